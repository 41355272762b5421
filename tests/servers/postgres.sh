#!/usr/bin/env bash
# The PostgreSQL server the `pg` tests use: `postgres.sh start|stop|restart|status`.
# A cluster of its own in ${DH_SERVERS_DIR:-/tmp/dossier-hub-servers}/postgres (data/ and sock/),
# listening on 127.0.0.1:${DH_PG_PORT:-55432} only, its socket in sock/, trust authentication:
# tests only, never a server to keep data in. The tests reach it as
# postgresql://postgres@127.0.0.1:55432/postgres (DH_PG_URL) and make a database each.
# `start` is idempotent (a running server is left as it is); `stop` leaves nothing running and
# keeps the cluster for the next start; `restart` is both, the data kept (failure tests restart
# the database under a running hub). initdb refuses root: as root, the server runs as the
# `postgres` user that Debian's package creates.
set -euo pipefail

dir="${DH_SERVERS_DIR:-/tmp/dossier-hub-servers}/postgres"
port="${DH_PG_PORT:-55432}"
data="$dir/data"
sock="$dir/sock"

bin=""
for candidate in /usr/lib/postgresql/*/bin; do
  [[ -x "$candidate/pg_ctl" ]] && bin="$candidate"  # the glob sorts: the newest version wins
done
[[ -n "$bin" ]] || { echo "postgres.sh: no PostgreSQL server installed (.ci/install-deps installs it)" >&2; exit 1; }

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

running() {
  [[ -f "$data/PG_VERSION" ]] && as_owner "$bin/pg_ctl" -D "$data" status >/dev/null 2>&1
}

start() {
  if running; then
    echo "postgres.sh: already running on 127.0.0.1:$port ($dir)"
    return 0
  fi
  if [[ $(id -u) -eq 0 ]]; then
    install -d -m 755 "$(dirname "$dir")" "$dir"
    install -d -m 700 -o postgres "$data"
    install -d -m 755 -o postgres "$sock"
  else
    install -d -m 700 "$data"
    install -d -m 755 "$sock"
  fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    as_owner "$bin/initdb" -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 --auth=trust >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  # fsync and synchronous_commit stay on (the defaults): the tests check durable commits.
  if ! as_owner "$bin/pg_ctl" -D "$data" -l "$data/log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null; then
    tail -n 20 "$data/log" >&2 || true
    exit 1
  fi
  echo "postgres.sh: running on 127.0.0.1:$port ($dir)"
}

stop() {
  if running; then
    as_owner "$bin/pg_ctl" -D "$data" -m fast -w -t 60 stop >/dev/null
  fi
  if running; then
    echo "postgres.sh: the server in $dir did not stop" >&2
    exit 1
  fi
  echo "postgres.sh: stopped ($dir)"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart)
    stop
    start
    ;;
  status)
    if running; then echo "running on 127.0.0.1:$port ($dir)"; else echo "not running ($dir)"; exit 3; fi
    ;;
  *)
    echo "usage: postgres.sh start|stop|restart|status" >&2
    exit 2
    ;;
esac
