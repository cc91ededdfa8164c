#!/usr/bin/env bash
# make run: start the whole system on this machine with demo data. Ctrl-C stops everything this
# script started (stripe-mock, both services, the private PostgreSQL cluster if it started it).
#
#  1. builds bin/ and the pinned tools;
#  2. database: $DATABASE_URL if set, else scripts/db.sh up run (the server on :5432, else a
#     private cluster in .data/pg), with a database contactcentre_dev; migrates it;
#  3. settings: chosen once and kept in .data/dev.env (NAME=value, mode 0600); variables already
#     in the environment win; secrets are reused across runs;
#  4. stripe-mock on 127.0.0.1:12111 (unless something already answers there);
#  5. supportsvc and ordersvc (logs in .data/*.log, echoed here with a prefix), waits for /healthz;
#  6. ccctl seed demo;  7. prints addresses, a token and grpcurl commands;  8. waits.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$ROOT/.tools/bin:$ROOT/bin:$PATH:/usr/local/go/bin"

DATA=$ROOT/.data
ENV_FILE=$DATA/dev.env
PID_FILE=$DATA/run.pids
READY_TIMEOUT=${RUN_READY_TIMEOUT:-60}

log() { printf '\033[1mrun:\033[0m %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

# ---------- cleanup: stop what we started, in reverse order ----------
started_pids=()   # services and stripe-mock
tail_pids=()      # log followers
started_cluster=false
own_pid_file=false
cleaning=false
# shellcheck disable=SC2317 # reached through the EXIT trap
cleanup() {
  local rc=$?
  $cleaning && return
  cleaning=true
  trap '' INT TERM
  if ((${#started_pids[@]})); then
    log "stopping ${#started_pids[@]} process(es)..."
    local p i
    for p in "${started_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    # The services finish in-flight RPCs on SIGTERM (SHUTDOWN_GRACE, 20 s by default).
    for ((i = 0; i < 300; i++)); do
      local alive=false
      for p in "${started_pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=true; done
      $alive || break
      sleep 0.1
    done
    for p in "${started_pids[@]}"; do
      if kill -0 "$p" 2>/dev/null; then
        log "pid $p did not stop in 30 s: killing it"
        kill -KILL "$p" 2>/dev/null || true
      fi
    done
    wait "${started_pids[@]}" 2>/dev/null || true
  fi
  for p in "${tail_pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if $own_pid_file; then rm -f "$PID_FILE"; fi
  if $started_cluster; then
    bash scripts/db.sh down || true
  fi
  if $own_pid_file; then log "stopped"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------- helpers ----------
hex() { od -An -N"$1" -tx1 /dev/urandom | tr -d ' \n'; }

# tcp_open HOST:PORT: does anything accept a connection there?
tcp_open() { timeout 2 bash -c ": >/dev/tcp/${1%:*}/${1##*:}" 2>/dev/null; }

# http_ok URL: does GET URL answer 2xx?
http_ok() {
  if command -v curl >/dev/null; then
    curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null
  else
    local hp=${1#http://} path
    path=/${hp#*/}; hp=${hp%%/*}
    # shellcheck disable=SC2016 # the inner script expands its own arguments
    timeout 2 bash -c '
      exec 3<>"/dev/tcp/${1%:*}/${1##*:}"
      printf "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n" "$2" "$1" >&3
      head -n1 <&3 | grep -Eq "^HTTP/[0-9.]+ 2"' _ "$hp" "$path" 2>/dev/null
  fi
}

# follow NAME FILE: echo FILE's new lines to the terminal with a [NAME] prefix.
# tail --pid ends with this script, and sed with tail, so nothing outlives us.
follow() {
  (trap '' INT; tail -n +1 -F --pid=$$ "$2" 2>/dev/null | sed -u "s/^/[$1] /") &
  tail_pids+=($!)
}

# ---------- 0. a previous run still alive? ----------
mkdir -p "$DATA"
if [[ -f $PID_FILE ]]; then
  while read -r name pid; do
    if [[ -n ${pid:-} ]] && kill -0 "$pid" 2>/dev/null &&
      [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$name" ]]; then
      die "a previous 'make run' still runs ($name, pid $pid): stop it (Ctrl-C in its terminal, or kill $pid) or delete $PID_FILE if that pid is not ours"
    fi
  done <"$PID_FILE"
  log "removing a stale $PID_FILE"
  rm -f "$PID_FILE"
fi
own_pid_file=true
record_pid() { echo "$1 $2" >>"$PID_FILE"; }

# The services' ports must be free before we start anything.
for addr in "${SUPPORTSVC_GRPC_ADDR:-127.0.0.1:9090}" "${SUPPORTSVC_HTTP_ADDR:-127.0.0.1:8080}" \
  "${ORDERSVC_GRPC_ADDR:-127.0.0.1:9091}" "${ORDERSVC_HTTP_ADDR:-127.0.0.1:8081}"; do
  if tcp_open "$addr"; then
    die "$addr is already in use (another make run, or a service started by hand?). Stop it, or set the *_ADDR variables to free ports."
  fi
done

# ---------- 1. build ----------
log "building bin/ (and stripe-mock, grpcurl into .tools/bin if missing)..."
make --no-print-directory -s build "$ROOT/.tools/bin/stripe-mock" "$ROOT/.tools/bin/grpcurl" >&2

# ---------- 2. database ----------
if [[ -n ${DATABASE_URL:-} ]]; then
  log "using \$DATABASE_URL as given"
  db_url=$DATABASE_URL
else
  was_running=false
  if bash scripts/db.sh status 2>/dev/null; then was_running=true; fi
  admin_url=$(CC_DB_PURPOSE=run bash scripts/db.sh up run | tail -n 1)
  if [[ $admin_url == "$(bash scripts/db.sh url)" ]] && ! $was_running; then
    started_cluster=true
  fi
  dbname=contactcentre_dev
  if command -v psql >/dev/null; then
    if [[ $(psql "$admin_url" -Atqc "SELECT 1 FROM pg_database WHERE datname = '$dbname'") != 1 ]]; then
      log "creating database $dbname"
      psql "$admin_url" -qc "CREATE DATABASE $dbname" >/dev/null
    fi
    # Replace the URL's database name (the path), keeping any ?query.
    db_url=$(sed -E "s#^([a-z]+://[^/]*)/[^?]*#\1/$dbname#" <<<"$admin_url")
  else
    log "psql is not installed: using the server's default database"
    db_url=$admin_url
  fi
fi
export DATABASE_URL=$db_url

# ---------- 3. settings (.data/dev.env) ----------
declare -A saved=()
if [[ -f $ENV_FILE ]]; then
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] && saved[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
  done <"$ENV_FILE"
fi
SETTINGS=()
# setting NAME DEFAULT: environment, else .data/dev.env, else DEFAULT (generated once).
setting() {
  local name=$1 default=$2
  if [[ -n ${!name:-} ]]; then
    :
  elif [[ -n ${saved[$name]:-} ]]; then
    printf -v "$name" '%s' "${saved[$name]}"
  else
    printf -v "$name" '%s' "$default"
  fi
  # shellcheck disable=SC2163 # exporting the variable named by $name is the point
  export "$name"
  SETTINGS+=("$name")
}
# Chosen fresh each run (the database may differ between runs): the environment or the default.
fresh() { printf -v "$1" '%s' "${!1:-$2}"; export "${1?}"; SETTINGS+=("$1"); }

fresh DATABASE_URL "$db_url"
fresh SUPPORTSVC_GRPC_ADDR 127.0.0.1:9090
fresh SUPPORTSVC_HTTP_ADDR 127.0.0.1:8080
fresh ORDERSVC_GRPC_ADDR 127.0.0.1:9091
fresh ORDERSVC_HTTP_ADDR 127.0.0.1:8081
fresh SUPPORTSVC_PUBLIC_URL "http://$SUPPORTSVC_HTTP_ADDR"
# Nothing listens there yet: outbound Twilio calls fail fast instead of reaching api.twilio.com.
fresh TWILIO_API_BASE_URL http://127.0.0.1:8089
fresh STRIPE_API_BASE_URL http://127.0.0.1:12111
fresh AUTH_DEV_KEY_FILE "$DATA/dev-signing-key.pem"
fresh AUTH_ISSUER contactcentre-dev
fresh AUTH_AUDIENCE contactcentre
setting DATA_MASTER_KEY "$(head -c 32 /dev/urandom | base64 | tr -d '\n')"
setting DATA_MASTER_KEY_ID dev-1
setting TWILIO_ACCOUNT_SID "AC$(hex 16)"
setting TWILIO_AUTH_TOKEN "$(hex 16)"
# stripe-mock accepts sk_test_ followed by letters and digits only.
for region in US IE; do
  setting "STRIPE_${region}_SECRET_KEY" "sk_test_$(hex 12)"
  setting "STRIPE_${region}_PUBLISHABLE_KEY" "pk_test_$(hex 12)"
  setting "STRIPE_${region}_WEBHOOK_SECRET" "whsec_$(hex 16)"
done

# The dev database outlives .data/ (it may sit on a shared server): data sealed under another
# checkout's master key can be neither read nor re-seeded, so such a database starts afresh.
if [[ -n ${dbname:-} ]] && command -v psql >/dev/null; then
  fingerprint="master:$(printf '%s' "$DATA_MASTER_KEY" | sha256sum | cut -c1-16)"
  if [[ $(psql "$admin_url" -Atqc "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '$dbname'") != "$fingerprint" ]]; then
    log "database $dbname holds data of another master key (or none): recreating it"
    psql "$admin_url" -qc "DROP DATABASE IF EXISTS $dbname WITH (FORCE)" -c "CREATE DATABASE $dbname" >/dev/null
    psql "$admin_url" -qc "COMMENT ON DATABASE $dbname IS '$fingerprint'" >/dev/null
  fi
fi

(
  umask 077
  {
    echo "# Written by scripts/run.sh ($(date -u +%Y-%m-%dT%H:%M:%SZ)): every setting make run chose."
    for name in "${SETTINGS[@]}"; do printf '%s=%s\n' "$name" "${!name}"; done
  } >"$ENV_FILE.tmp"
  mv -f "$ENV_FILE.tmp" "$ENV_FILE"
)
chmod 0600 "$ENV_FILE"
log "settings written to $ENV_FILE"

# ---------- migrate ----------
log "migrating ${DATABASE_URL%%\?*}"
ccctl migrate up >&2

# ---------- 4. stripe-mock ----------
if tcp_open "${STRIPE_API_BASE_URL#http://}"; then
  log "something already answers at $STRIPE_API_BASE_URL: using it as stripe-mock"
else
  stripe_port=${STRIPE_API_BASE_URL##*:}
  stripe_port=${stripe_port%%/*}
  log "starting stripe-mock on 127.0.0.1:$stripe_port (log: .data/stripe-mock.log)"
  stripe-mock -http-addr "127.0.0.1:$stripe_port" >"$DATA/stripe-mock.log" 2>&1 &
  started_pids+=($!); record_pid stripe-mock $!
  for ((i = 0; i < 100; i++)); do
    tcp_open "127.0.0.1:$stripe_port" && break
    kill -0 "${started_pids[-1]}" 2>/dev/null || { tail -n 20 "$DATA/stripe-mock.log" >&2; die "stripe-mock exited"; }
    sleep 0.2
  done
  tcp_open "127.0.0.1:$stripe_port" || die "stripe-mock did not start listening in 20 s"
fi

# ---------- 5. services ----------
declare -A svc_pid=()
for svc in supportsvc ordersvc; do
  logf=$DATA/$svc.log
  : >"$logf"
  follow "$svc" "$logf"
  "$ROOT/bin/$svc" >>"$logf" 2>&1 &
  svc_pid[$svc]=$!
  started_pids+=($!); record_pid "$svc" $!
done

wait_ready() { # NAME URL
  local name=$1 url=$2 deadline=$((SECONDS + READY_TIMEOUT))
  while ((SECONDS < deadline)); do
    http_ok "$url" && return 0
    if ! kill -0 "${svc_pid[$name]}" 2>/dev/null; then
      log "$name exited during start-up; last lines of .data/$name.log:"
      tail -n 30 "$DATA/$name.log" >&2
      exit 1
    fi
    sleep 0.25
  done
  log "$name did not answer $url within ${READY_TIMEOUT}s; last lines of .data/$name.log:"
  tail -n 30 "$DATA/$name.log" >&2
  exit 1
}
wait_ready supportsvc "http://$SUPPORTSVC_HTTP_ADDR/healthz"
wait_ready ordersvc "http://$ORDERSVC_HTTP_ADDR/healthz"
log "both services are ready"

# ---------- 6. demo data ----------
log "loading demo data (ccctl seed demo)"
ccctl seed demo >&2

# ---------- 7. how to use it ----------
token=$(ccctl token --role agent --sub alice)
cat <<EOF

  contactcentre is running. Settings: .data/dev.env   Logs: .data/{supportsvc,ordersvc,stripe-mock}.log

  supportsvc  gRPC $SUPPORTSVC_GRPC_ADDR   HTTP http://$SUPPORTSVC_HTTP_ADDR (/healthz, /metrics, webhooks)
  ordersvc    gRPC $ORDERSVC_GRPC_ADDR   HTTP http://$ORDERSVC_HTTP_ADDR
  stripe-mock $STRIPE_API_BASE_URL
  database    ${DATABASE_URL%%\?*}

  export PATH=\$PWD/.tools/bin:\$PWD/bin:\$PATH
  TOKEN=$token
  # (a token for another role: TOKEN=\$(ccctl token --role supervisor --sub bob))

  grpcurl -plaintext $SUPPORTSVC_GRPC_ADDR list
  grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d '{"page_size":5}' $SUPPORTSVC_GRPC_ADDR contactcentre.support.v1.TicketService/ListTickets
  grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d '{"query":"sso"}' $SUPPORTSVC_GRPC_ADDR contactcentre.support.v1.TicketService/ListTickets
  grpcurl -plaintext $ORDERSVC_GRPC_ADDR list

  Ctrl-C stops everything make run started.

EOF

# ---------- 8. wait; if a service dies, stop the rest ----------
set +e
wait -n "${svc_pid[supportsvc]}" "${svc_pid[ordersvc]}"
rc=$?
set -e
for svc in supportsvc ordersvc; do
  if ! kill -0 "${svc_pid[$svc]}" 2>/dev/null; then
    log "$svc exited (status $rc); last lines of .data/$svc.log:"
    tail -n 20 "$DATA/$svc.log" >&2
  fi
done
exit 1
