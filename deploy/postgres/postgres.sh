#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback (Debian's `postgresql` package), for development, tests and the demo.
#
#   deploy/postgres/postgres.sh start | stop | status | url
#
# Environment (all optional):
#   PG_PORT            TCP port on 127.0.0.1                       (default 35432)
#   PG_DATA_DIR        cluster, log and socket folder              (default deploy/postgres/run)
#   PG_DATABASE        database created at start                   (default fleetsync)
#   PG_OS_USER         the system user the server runs as when this script runs as root (PostgreSQL refuses
#                      root); created when missing                 (default fleetsync-pg)
#   PG_BIN             folder of initdb/pg_ctl                     (default: PATH, else the newest
#                      /usr/lib/postgresql/*/bin)
#   PG_START_TIMEOUT   seconds to wait for connections             (default 60)
#   PG_WATCH_PID       stop the server when this process exits (the test harness sets it, so an interrupted or
#                      crashed test run never leaves a server behind)
#
# Both start and stop are idempotent: start on a running server prints its URL, stop on a stopped one says so.
# The cluster trusts loopback connections (no password): it is for one machine's tests and demo, never a service.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="${PG_PORT:-35432}"
data_dir="${PG_DATA_DIR:-$here/run}"
database="${PG_DATABASE:-fleetsync}"
timeout_s="${PG_START_TIMEOUT:-60}"
cluster="$data_dir/cluster"
log_file="$data_dir/server.log"
db_user="fleetsync"

die() { echo "postgres: $*" >&2; exit 1; }

find_bin() {
  if [[ -n "${PG_BIN:-}" ]]; then echo "$PG_BIN"; return; fi
  # Debian keeps the server tools in /usr/lib/postgresql/N/bin; a pg_ctl on PATH is often a link to there.
  if command -v pg_ctl >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v pg_ctl)")"; return; fi
  local newest
  newest="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [[ -n "$newest" ]] || die "PostgreSQL is not installed (Debian: apt-get install postgresql), or set PG_BIN."
  echo "$newest"
}
bin="$(find_bin)"

# As root the server runs as a dedicated system user; otherwise as the caller.
as_owner() {
  if ((EUID == 0)); then
    runuser -u "$os_user" -- "$@"
  else
    "$@"
  fi
}
os_user="${PG_OS_USER:-fleetsync-pg}"

ensure_user() {
  ((EUID == 0)) || return 0
  id -u "$os_user" >/dev/null 2>&1 ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$os_user" ||
    die "cannot create the system user $os_user"
}

url() { echo "postgres://$db_user@127.0.0.1:$port/$database"; }

is_running() {
  [[ -f "$cluster/postmaster.pid" ]] && as_owner "$bin/pg_ctl" -D "$cluster" status >/dev/null 2>&1
}

port_open() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

psql_cmd() {
  "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U "$db_user" "$@"
}

start() {
  ensure_user
  mkdir -p "$data_dir"
  ((EUID == 0)) && chown "$os_user" "$data_dir"
  if is_running; then
    url
    return 0
  fi
  port_open "$port" && die "port $port is already taken by another process; set PG_PORT to a free port."
  local began=$SECONDS
  if [[ ! -f "$cluster/PG_VERSION" ]]; then
    # --no-sync: the cluster is throw-away; the server itself keeps fsync on, so crash tests see real durability.
    as_owner "$bin/initdb" -D "$cluster" -U "$db_user" --auth=trust --encoding=UTF8 --locale=C.UTF-8 --no-sync \
      >>"$log_file" 2>&1 || die "initdb failed; see $log_file"
    cat >>"$cluster/postgresql.conf" <<EOF
# fleetsync: loopback only, the socket in the data folder (no /var/run/postgresql needed)
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$data_dir'
shared_buffers = 64MB
max_connections = 100
logging_collector = off
EOF
  fi
  ((EUID == 0)) && chown -R "$os_user" "$data_dir"
  # pg_ctl -w returns once the server accepts connections (or fails with the log's reason).
  as_owner "$bin/pg_ctl" -D "$cluster" -l "$log_file" -w -t "$timeout_s" -o "-p $port" start >/dev/null ||
    die "the server did not start; last lines of $log_file:
$(tail -n 20 "$log_file")"
  if [[ -n "${PG_WATCH_PID:-}" ]]; then
    # A watchdog outside the server: when the watched process is gone, stop the server. setsid: it must outlive
    # the shell that started it.
    local postmaster
    postmaster="$(head -n 1 "$cluster/postmaster.pid")"
    setsid bash -c "while kill -0 $PG_WATCH_PID 2>/dev/null && kill -0 $postmaster 2>/dev/null; do sleep 1; done
      kill -INT $postmaster 2>/dev/null" </dev/null >/dev/null 2>&1 &
  fi
  psql_cmd -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$database'" | grep -q 1 ||
    psql_cmd -d postgres -c "CREATE DATABASE \"$database\"" || die "cannot create database $database"
  echo "postgres: ready in $((SECONDS - began))s, data in $data_dir" >&2
  url
}

stop() {
  if ! is_running; then
    echo "postgres: not running" >&2
    return 0
  fi
  # fast: roll back open transactions and disconnect clients, then a clean shutdown (no recovery at next start).
  as_owner "$bin/pg_ctl" -D "$cluster" -m fast -w -t 60 stop >/dev/null ||
    as_owner "$bin/pg_ctl" -D "$cluster" -m immediate stop >/dev/null || true
  echo "postgres: stopped" >&2
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) if is_running; then echo "running $(url)"; else echo "stopped"; exit 3; fi ;;
  url) url ;;
  *) echo "usage: $0 start|stop|status|url" >&2; exit 2 ;;
esac
