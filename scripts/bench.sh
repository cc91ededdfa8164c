#!/usr/bin/env bash
# make bench: load supportsvc's CreateTicket and GetTicket with ghz (50 concurrent streams, 10 s
# each) and, in the same run, the two baselines they are judged against: pgbench running the
# same writes per transaction that CreateTicket makes, and a bare grpc-go server answering a
# trivial RPC. Prints each figure beside its baseline, and the services' peak RSS.
# Figures are printed, never asserted: this is a measurement, not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.tools/bin:$PWD/bin:$PATH"

DURATION=${BENCH_DURATION:-10s}
CONCURRENCY=${BENCH_CONCURRENCY:-50}
PGCLIENTS=${BENCH_PG_CLIENTS:-16}   # = the service's DATABASE_MAX_CONNS
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

admin_url=$(bash scripts/db.sh up | tail -n 1)
db=contactcentre_bench
psql -q "$admin_url" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db" >/dev/null
db_url=$(sed -E "s#/[^/?]+(\?|$)#/$db\1#" <<<"$admin_url")

export DATABASE_URL=$db_url DATABASE_MAX_CONNS=$PGCLIENTS
export DATA_MASTER_KEY=$(head -c 32 /dev/urandom | base64) DATA_MASTER_KEY_ID=bench-1
export AUTH_DEV_KEY_FILE=$work/signing-key.pem LOG_LEVEL=warn
export SUPPORTSVC_GRPC_ADDR=127.0.0.1:19090 SUPPORTSVC_HTTP_ADDR=127.0.0.1:18080
export ORDERSVC_GRPC_ADDR=127.0.0.1:19091 ORDERSVC_HTTP_ADDR=127.0.0.1:18081
export SUPPORTSVC_PUBLIC_URL=http://127.0.0.1:18080 TWILIO_API_BASE_URL=http://127.0.0.1:18089
export TWILIO_ACCOUNT_SID=AC$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n') TWILIO_AUTH_TOKEN=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
export STRIPE_API_BASE_URL=http://127.0.0.1:12111
export STRIPE_US_SECRET_KEY=sk_test_benchus STRIPE_US_PUBLISHABLE_KEY=pk_test_benchus STRIPE_US_WEBHOOK_SECRET=whsec_benchus
export STRIPE_IE_SECRET_KEY=sk_test_benchie STRIPE_IE_PUBLISHABLE_KEY=pk_test_benchie STRIPE_IE_WEBHOOK_SECRET=whsec_benchie

ccctl migrate up >/dev/null
supportsvc >"$work/supportsvc.log" 2>&1 & pids+=($!); support_pid=$!
ordersvc >"$work/ordersvc.log" 2>&1 & pids+=($!); orders_pid=$!
baregrpc -addr 127.0.0.1:19190 & pids+=($!)
for url in http://$SUPPORTSVC_HTTP_ADDR/healthz http://$ORDERSVC_HTTP_ADDR/healthz; do
  for _ in $(seq 100); do curl -fs "$url" >/dev/null 2>&1 && break; sleep 0.2; done
  curl -fs "$url" >/dev/null || { echo "bench: $url never became ready" >&2; tail "$work"/*.log >&2; exit 1; }
done

token=$(ccctl token --role admin --sub bench)
auth=(-H "authorization: Bearer $token")
customer=$(grpcurl -plaintext "${auth[@]}" -d '{"customer":{"org_name":"Bench School District","contact":{"title":"IT coordinator","email":"it-desk@bench.example"},"address":{"lines":["1 Main St"],"city":"Springfield","country":"US"}},"request_id":"bench-customer"}' \
  "$ORDERSVC_GRPC_ADDR" contactcentre.orders.v1.CustomerService/CreateCustomer | sed -n 's/.*"id": "\([^"]*\)".*/\1/p' | head -n 1)
ticket_json='{"customer_id":"'$customer'","channel":"CHANNEL_PHONE","subject":"Projector in room 12 shows no signal","description":"The projector in room 12 shows no signal since the update. Tried another cable.","priority":"PRIORITY_HIGH","contact":{"title":"Head of science","phone":"+1 555 0100"}}'
ticket=$(grpcurl -plaintext "${auth[@]}" -d '{"ticket":'"$ticket_json"',"request_id":"bench-ticket"}' \
  "$SUPPORTSVC_GRPC_ADDR" contactcentre.support.v1.TicketService/CreateTicket | sed -n 's/^  "id": "\([^"]*\)".*/\1/p' | head -n 1)
[ -n "$customer" ] && [ -n "$ticket" ] || { echo "bench: could not create the fixtures" >&2; exit 1; }

# ghz prints "Requests/sec: N" and a latency distribution with "50 % in X ms" lines.
summarise() { # name file
  # ghz cancels the streams in flight when -z runs out ("transport is closing"): not errors.
  awk -v name="$1" '
    /Requests\/sec:/ {rps=$2}
    /50 % in/ {p50=$4" "$5}
    /99 % in/ {p99=$4" "$5}
    /Error distribution:/ {inerr=1; next}
    inerr && /^ *\[[0-9]+\]/ && !/transport is closing/ {gsub(/[\[\]]/, "", $1); errs+=$1}
    END {printf "%-28s %10.0f RPS   p50 %-12s p99 %-12s%s\n", name, rps, p50, p99, (errs ? sprintf("  (%d errors)", errs) : "")}' "$2"
}
rps_of() { awk '/Requests\/sec:/ {print $2}' "$1"; }

echo "== load: $CONCURRENCY concurrent streams, $DURATION each =="
ghz --insecure -c "$CONCURRENCY" -z "$DURATION" --connections 4 \
  -m '{"authorization":"Bearer '"$token"'"}' \
  --call contactcentre.support.v1.TicketService/CreateTicket \
  -d '{"ticket":'"$ticket_json"',"request_id":"bench-{{.RequestNumber}}-{{.TimestampUnixNano}}"}' \
  "$SUPPORTSVC_GRPC_ADDR" >"$work/create.txt"
ghz --insecure -c "$CONCURRENCY" -z "$DURATION" --connections 4 \
  -m '{"authorization":"Bearer '"$token"'"}' \
  --call contactcentre.support.v1.TicketService/GetTicket -d '{"id":"'"$ticket"'"}' \
  "$SUPPORTSVC_GRPC_ADDR" >"$work/get.txt"
ghz --insecure -c "$CONCURRENCY" -z "$DURATION" --connections 4 \
  --call grpc.health.v1.Health/Check -d '{}' 127.0.0.1:19190 >"$work/bare.txt"
ghz --insecure -c "$CONCURRENCY" -z "$DURATION" --connections 4 \
  -m '{"authorization":"Bearer '"$token"'"}' \
  --call contactcentre.orders.v1.CustomerService/GetCustomer -d '{"id":"'"$customer"'"}' \
  "$ORDERSVC_GRPC_ADDR" >"$work/getcustomer.txt"

# The baseline for CreateTicket: the same statements per transaction, straight into PostgreSQL.
psql -q "$db_url" -v ON_ERROR_STOP=1 -c "SELECT 1" >/dev/null
sed "s/@CUSTOMER@/$customer/g" scripts/bench-create-ticket.sql >"$work/pgbench.sql"
pgbench -n -c "$PGCLIENTS" -j 2 -T "${DURATION%s}" -f "$work/pgbench.sql" "$db_url" >"$work/pgbench.txt" 2>&1
tps=$(awk '/^tps = / {print int($3)}' "$work/pgbench.txt" | tail -n 1)
pg_p=$(awk '/latency average/ {print $4" "$5}' "$work/pgbench.txt")

hwm() { awk '/VmHWM/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"; }
create_rps=$(rps_of "$work/create.txt"); get_rps=$(rps_of "$work/get.txt"); bare_rps=$(rps_of "$work/bare.txt")

echo
summarise "CreateTicket" "$work/create.txt"
printf "%-28s %10s TPS   latency avg %s (%s clients)\n" "baseline: pgbench same writes" "$tps" "$pg_p" "$PGCLIENTS"
summarise "GetTicket" "$work/get.txt"
summarise "baseline: bare grpc-go" "$work/bare.txt"
summarise "GetCustomer (ordersvc)" "$work/getcustomer.txt"
echo
awk -v c="$create_rps" -v t="$tps" -v g="$get_rps" -v b="$bare_rps" 'BEGIN {
  printf "CreateTicket / pgbench TPS     = %5.1f %%  (target >= 80 %%)\n", 100*c/t
  printf "GetTicket / bare grpc-go RPS   = %5.1f %%  (target >= 60 %%)\n", 100*g/b }'
echo "peak RSS supportsvc = $(hwm "$support_pid")   ordersvc = $(hwm "$orders_pid")   (target < 100 MiB each)"

echo
echo "== outbox dispatcher: deliveries/s to an in-process sink, beside raw INSERT+DELETE of the same rows =="
TEST_DATABASE_URL=$admin_url go test -run '^$' -bench BenchmarkDispatch -benchtime 20000x ./internal/dataflow/dataflowdb | grep -E '^Benchmark|deliveries'
echo
echo "== orders and payments: CreateOrder, CreatePayment through us, and stripe-mock called directly =="
TEST_DATABASE_URL=$admin_url go test -run '^$' -bench . -benchtime 2s ./internal/billing/billingstripe/ | grep -E '^Benchmark'
