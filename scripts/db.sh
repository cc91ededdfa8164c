#!/usr/bin/env bash
# Ensure a PostgreSQL for tests and `make run`, and manage the private cluster in .data/pg.
#
#   scripts/db.sh up [test|run]   print (last line of stdout) a usable admin URL, exit 0:
#                                 1. $TEST_DATABASE_URL (test, the default) or $DATABASE_URL (run);
#                                 2. else the server at $CC_DEFAULT_PG_URL if it answers
#                                    (default postgres://postgres@127.0.0.1:5432/postgres);
#                                 3. else a private cluster in .data/pg on port $CC_PG_PORT
#                                    (default 55432), initialised, started and reused as needed;
#                                    installs Debian's postgresql if no server binaries exist.
#   scripts/db.sh down            stop the private cluster (if it runs)
#   scripts/db.sh reset           stop it and delete .data/pg
#   scripts/db.sh status          exit 0 if the private cluster runs, 1 if not
#   scripts/db.sh url             print the private cluster's URL (whether or not it runs)
#
# Messages go to stderr; only URLs go to stdout. Every command is idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

DEFAULT_URL=${CC_DEFAULT_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
PORT=${CC_PG_PORT:-55432}
DATA_DIR=$PWD/.data/pg
PRIVATE_URL="postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable"

log() { echo "db.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# as_pg CMD...: run a server binary as the postgres user when we are root (initdb and the
# server refuse to run as root), else as ourselves. From /, which postgres can always enter.
as_pg() {
  if [[ $EUID -eq 0 ]]; then
    (cd / && runuser -u postgres -- "$@")
  else
    "$@"
  fi
}

# The cluster's real directory (.data/pg, or where that links to) and its server log beside it
# (.data/pg.log normally).
pgdir() { readlink -m "$DATA_DIR"; }
pglog() { echo "$(pgdir).log"; }

# answers URL: does a PostgreSQL accept a real query at URL? Uses psql when present, else
# pg_isready, else a bare TCP connect to the URL's host and port.
answers() {
  local url=$1
  if command -v psql >/dev/null; then
    PGCONNECT_TIMEOUT=3 psql "$url" -Atqc 'SELECT 1' >/dev/null 2>&1
  elif command -v pg_isready >/dev/null; then
    pg_isready -q -t 3 -d "$url" >/dev/null 2>&1
  else
    local hostport host port
    hostport=${url#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}; hostport=${hostport%%\?*}
    host=${hostport%:*}; port=${hostport##*:}
    [[ $host == "$hostport" ]] && port=5432
    timeout 3 bash -c ": >/dev/tcp/$host/$port" 2>/dev/null
  fi
}

# find_bindir: print the directory holding initdb and pg_ctl (newest /usr/lib/postgresql/N/bin,
# else PATH), or fail.
find_bindir() {
  local d
  d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r | while IFS= read -r b; do
    if [[ -x $b/initdb && -x $b/pg_ctl ]]; then echo "$b"; break; fi
  done)
  if [[ -n $d ]]; then echo "$d"; return 0; fi
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
    return 0
  fi
  return 1
}

install_server() {
  [[ $EUID -eq 0 ]] || die "no PostgreSQL server binaries (initdb, pg_ctl) found; install them (apt-get install postgresql) or set TEST_DATABASE_URL / DATABASE_URL"
  log "no PostgreSQL server binaries found: installing Debian's postgresql (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # The package may create and start its own cluster on :5432; that does not matter: ours has
  # its own directory and port.
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
}

bindir() {
  local d
  if ! d=$(find_bindir); then
    install_server
    d=$(find_bindir) || die "postgresql installed, but initdb/pg_ctl are still missing"
  fi
  echo "$d"
}

# The postgres user must be able to reach DATA_DIR. If the checkout sits under a directory it
# cannot enter (e.g. /root, mode 0700), the data live under /var/tmp and .data/pg links there.
prepare_datadir() {
  mkdir -p "$PWD/.data"
  if [[ $EUID -ne 0 ]]; then
    mkdir -p "$DATA_DIR"; chmod 0700 "$DATA_DIR"
    return
  fi
  id postgres >/dev/null 2>&1 || die "user 'postgres' does not exist (it comes with the postgresql package)"
  if [[ ! -e $DATA_DIR ]]; then
    if runuser -u postgres -- test -x "$PWD/.data"; then
      mkdir -p "$DATA_DIR"
    else
      local alt
      alt=/var/tmp/contactcentre-pg-$(echo -n "$PWD" | sha256sum | cut -c1-12)
      log "user postgres cannot enter $PWD/.data; keeping the cluster in $alt (linked from .data/pg)"
      mkdir -p "$alt"
      ln -sfn "$alt" "$DATA_DIR"
    fi
  fi
  chown postgres:postgres "$(pgdir)"
  chmod 0700 "$(pgdir)"
  touch "$(pglog)"; chown postgres "$(pglog)"
}

running() {
  [[ -f $DATA_DIR/PG_VERSION ]] || return 1
  local d
  d=$(find_bindir) || return 1
  as_pg "$d/pg_ctl" -D "$(pgdir)" status >/dev/null 2>&1 || return 1
}

start_private() {
  local d dir log
  d=$(bindir)
  prepare_datadir
  dir=$(pgdir) log=$(pglog)
  if [[ ! -f $DATA_DIR/PG_VERSION ]]; then
    log "initialising a private cluster in $dir ($("$d/postgres" --version 2>/dev/null || echo postgres))"
    as_pg "$d/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  if as_pg "$d/pg_ctl" -D "$dir" status >/dev/null 2>&1; then
    log "private cluster already running on 127.0.0.1:$PORT"
  else
    if timeout 2 bash -c ": >/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
      die "port $PORT is taken by another process; stop it or choose another port with CC_PG_PORT"
    fi
    log "starting the private cluster on 127.0.0.1:$PORT (log: $log)"
    # -k: the Unix socket lives in the data directory, so we need no /var/run/postgresql.
    if ! as_pg "$d/pg_ctl" -D "$dir" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $dir" start >/dev/null; then
      tail -n 20 "$log" >&2 || true
      die "the private cluster did not start (see $log)"
    fi
  fi
  for _ in $(seq 50); do
    answers "$PRIVATE_URL" && return 0
    sleep 0.2
  done
  die "the private cluster runs but does not answer at $PRIVATE_URL"
}

cmd_up() {
  local purpose=${1:-test} var
  case $purpose in
    test) var=TEST_DATABASE_URL ;;
    run) var=DATABASE_URL ;;
    *) die "usage: db.sh up [test|run]" ;;
  esac
  if [[ -n ${!var:-} ]]; then
    log "using \$$var"
    echo "${!var}"
    return
  fi
  if answers "$DEFAULT_URL"; then
    log "using the server at ${DEFAULT_URL%%\?*}"
    echo "$DEFAULT_URL"
    return
  fi
  log "no server answers at ${DEFAULT_URL%%\?*}; using a private cluster"
  start_private
  echo "$PRIVATE_URL"
}

cmd_down() {
  if running; then
    log "stopping the private cluster"
    as_pg "$(find_bindir)/pg_ctl" -D "$(pgdir)" -m fast -w stop >/dev/null
  else
    log "private cluster not running"
  fi
}

cmd_reset() {
  cmd_down
  local dir log
  dir=$(pgdir) log=$(pglog)
  rm -rf "$dir" "$log" "$DATA_DIR"
  log "removed .data/pg"
}

case ${1:-} in
  up) cmd_up "${2:-${CC_DB_PURPOSE:-test}}" ;;
  down) cmd_down ;;
  reset) cmd_reset ;;
  status) running ;;
  url) echo "$PRIVATE_URL" ;;
  *) echo "usage: $0 up [test|run] | down | reset | status | url" >&2; exit 2 ;;
esac
