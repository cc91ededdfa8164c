#!/usr/bin/env bash
# Reporting benchmark (not part of make test): on 10 million seeded order lines, times
# RevenueReport for several groupings through a running ordersvc (grpcurl) beside hand-written
# SQL for the same groups through psql, in the same run; then exports 1 million lines with
# `ccctl export` and prints ordersvc's peak RSS. Figures are printed, never asserted.
#
#   BENCH_REPORTING_DB   database name (default contactcentre_reporting_bench); seeded once and
#                        kept between runs, because seeding 10 M lines takes minutes
#   BENCH_ORDERS         orders to seed (default 2500000, about 10 M lines)
#   BENCH_RUNS           timed runs per query; the best is reported (default 3)
#   BENCH_RESEED=1       drop and seed the database again
#   ORDERSVC_BIN, CCCTL_BIN  use these binaries instead of building ./cmd/ordersvc and ./cmd/ccctl
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PWD/bin:$PATH"

DB=${BENCH_REPORTING_DB:-contactcentre_reporting_bench}
ORDERS=${BENCH_ORDERS:-2500000}
RUNS=${BENCH_RUNS:-3}
END=2026-12-01T00:00:00Z   # the seed's last create time; reports cover the 366 days before it
START=2025-11-30T00:00:00Z
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${ORDERSVC_BIN:-}" ] || [ -z "${CCCTL_BIN:-}" ]; then go build -o bin/ ./cmd/ordersvc ./cmd/ccctl; fi
ORDERSVC_BIN=${ORDERSVC_BIN:-bin/ordersvc}
ccctl() { "${CCCTL_BIN:-bin/ccctl}" "$@"; }
admin_url=$(bash scripts/db.sh up | tail -n 1)
db_url=$(sed -E "s#/[^/?]+(\?|$)#/$DB\1#" <<<"$admin_url")
export DATABASE_URL=$db_url

lines=$(psql -qAt "$db_url" -c "SELECT count(*) FROM order_lines" 2>/dev/null || echo 0)
if [ "${BENCH_RESEED:-0}" = 1 ] || [ "$lines" -lt $((ORDERS * 3)) ]; then
  psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
  ccctl migrate up >/dev/null
  echo "== seeding $ORDERS orders =="
  /usr/bin/time -f "seed: %e s wall, %M KiB peak RSS (ccctl)" ccctl seed --orders "$ORDERS" --end "$END"
fi
psql -qAt "$db_url" -c "SELECT 'data: ' || (SELECT count(*) FROM orders) || ' orders, ' || (SELECT count(*) FROM order_lines) || ' lines, ' || (SELECT count(*) FROM payment_refunds) || ' refunds, ' || pg_size_pretty(pg_database_size(current_database()))"

export DATA_MASTER_KEY=$(head -c 32 /dev/urandom | base64) DATA_MASTER_KEY_ID=bench-1
export AUTH_DEV_KEY_FILE=$work/signing-key.pem LOG_LEVEL=warn
export ORDERSVC_GRPC_ADDR=127.0.0.1:19291 ORDERSVC_HTTP_ADDR=127.0.0.1:18281
export STRIPE_API_BASE_URL=http://127.0.0.1:12111
export STRIPE_US_SECRET_KEY=sk_test_benchus STRIPE_US_PUBLISHABLE_KEY=pk_test_benchus STRIPE_US_WEBHOOK_SECRET=whsec_benchus
export STRIPE_IE_SECRET_KEY=sk_test_benchie STRIPE_IE_PUBLISHABLE_KEY=pk_test_benchie STRIPE_IE_WEBHOOK_SECRET=whsec_benchie
# Interactive reports over a year of lines take seconds: give the unary RPC room.
export RPC_DEFAULT_TIMEOUT=120s
"$ORDERSVC_BIN" >"$work/ordersvc.log" 2>&1 & pids+=($!); orders_pid=$!
for _ in $(seq 100); do curl -fs "http://$ORDERSVC_HTTP_ADDR/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "http://$ORDERSVC_HTTP_ADDR/healthz" >/dev/null || { echo "bench: ordersvc never became ready" >&2; tail "$work/ordersvc.log" >&2; exit 1; }
token=$(ccctl token --role finance --sub bench-reporting)

now_ms() { date +%s%3N; }
best_of() { # command...: run RUNS times, print the best wall time in ms
  local best=
  for _ in $(seq "$RUNS"); do
    local t0; t0=$(now_ms); "$@" >/dev/null; local t=$(( $(now_ms) - t0 ))
    if [ -z "$best" ] || [ "$t" -lt "$best" ]; then best=$t; fi
  done
  echo "$best"
}
rpc() { # group_by JSON list
  grpcurl -plaintext -max-time 300 -H "authorization: Bearer $token" \
    -d '{"start_time":"'$START'","end_time":"'$END'","group_by":'"$1"'}' \
    "$ORDERSVC_GRPC_ADDR" contactcentre.orders.v1.ReportingService/RevenueReport
}
# The same session settings RevenueReport's transaction uses (reportingdb: work_mem 64MB).
sql() { PGOPTIONS='-c work_mem=64MB' psql -qAt -v ON_ERROR_STOP=1 "$db_url" -c "$1"; }

# Hand-written SQL: the plain aggregate a DBA would write for the same groups (lines joined to
# the orders that count, summed per group), with the refunds per order added for the
# order-level groupings. It is the floor any correct answer has to pay for.
W="o.create_time >= '$START' AND o.create_time < '$END' AND o.status IN ('paid', 'fulfilled', 'refunded')"
R="(SELECT p.order_id, sum(r.amount_minor) AS refunded FROM payment_refunds r JOIN payments p ON p.id = r.payment_id WHERE r.status = 'succeeded' GROUP BY p.order_id)"
declare -A HAND GROUP
GROUP[entity_country_month]='["DIMENSION_STRIPE_ENTITY","DIMENSION_COUNTRY","DIMENSION_MONTH"]'
HAND[entity_country_month]="SELECT o.stripe_entity, o.country, to_char(date_trunc('month', o.create_time AT TIME ZONE 'UTC'), 'YYYY-MM') m, o.currency, count(*), sum(x.n), sum(x.net), sum(x.vat), sum(coalesce(rf.refunded, 0))
  FROM orders o JOIN (SELECT l.order_id, count(*) n, sum(l.net_minor) net, sum(l.vat_minor) vat FROM order_lines l GROUP BY l.order_id) x ON x.order_id = o.id
  LEFT JOIN $R rf ON rf.order_id = o.id WHERE $W GROUP BY 1, 2, 3, 4"
GROUP[reseller_channel]='["DIMENSION_RESELLER","DIMENSION_CHANNEL"]'
HAND[reseller_channel]="SELECT o.reseller_id, o.channel, o.currency, count(*), sum(x.n), sum(x.net), sum(x.vat), sum(coalesce(rf.refunded, 0))
  FROM orders o JOIN (SELECT l.order_id, count(*) n, sum(l.net_minor) net, sum(l.vat_minor) vat FROM order_lines l GROUP BY l.order_id) x ON x.order_id = o.id
  LEFT JOIN $R rf ON rf.order_id = o.id WHERE $W GROUP BY 1, 2, 3"
GROUP[sku_month]='["DIMENSION_SKU","DIMENSION_MONTH"]'
HAND[sku_month]="SELECT l.sku, to_char(date_trunc('month', o.create_time AT TIME ZONE 'UTC'), 'YYYY-MM'), o.currency, count(DISTINCT o.id), count(*), sum(l.net_minor), sum(l.vat_minor)
  FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE $W GROUP BY 1, 2, 3"
GROUP[country_vat_rate]='["DIMENSION_COUNTRY","DIMENSION_VAT_RATE"]'
HAND[country_vat_rate]="SELECT o.country, l.vat_rate_bp, o.currency, count(DISTINCT o.id), count(*), sum(l.net_minor), sum(l.vat_minor)
  FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE $W GROUP BY 1, 2, 3"

echo
echo "== RevenueReport over 366 days vs hand-written SQL (best of $RUNS, ms) =="
for g in entity_country_month reseller_channel sku_month country_vat_rate; do
  rpc "${GROUP[$g]}" >/dev/null   # warm the cache for both
  rpc_ms=$(best_of rpc "${GROUP[$g]}")
  sql_ms=$(best_of sql "${HAND[$g]}")
  awk -v g="$g" -v r="$rpc_ms" -v s="$sql_ms" 'BEGIN { printf "%-22s RevenueReport %7d ms   hand SQL %7d ms   ratio %.2f (target <= 1.3)\n", g, r, s, r/s }'
done

echo
echo "== ExportOrders of about 1 million lines =="
# The export range: from START until the create time at which 1,000,000 lines are reached.
export_end=$(sql "SELECT to_char(max(t) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM (
  SELECT o.create_time t FROM orders o JOIN order_lines l ON l.order_id = o.id
  WHERE o.create_time >= '$START' ORDER BY o.create_time LIMIT 1000000) s")
t0=$(now_ms)
ccctl export --from "$START" --to "$export_end" --format csv --out "$work/export.csv"
t=$(( $(now_ms) - t0 ))
n=$(( $(wc -l <"$work/export.csv") - 1 ))
awk -v n="$n" -v t="$t" 'BEGIN { printf "exported %d lines in %d ms (%.0f lines/s)\n", n, t, n*1000/t }'
awk '/VmHWM/ {printf "ordersvc peak RSS = %.1f MiB (target < 100 MiB)\n", $2/1024}' "/proc/$orders_pid/status"
