#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server from the local server binaries and
# prints the URL to use as DORAMETER_TEST_POSTGRES. Stop it with
# `scripts/postgres.sh stop DIR`.
#
#   url=$(scripts/postgres.sh start)        # prints postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/postgres.sh stop "$PGDIR"        # PGDIR is printed on stderr by start
#
# initdb refuses to run as root, so as root the server runs as the `postgres`
# user. Exit status 3 means no PostgreSQL server binaries were found
# (install them with `apt-get install -y postgresql`).
set -euo pipefail

bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir)
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  fi
  for d in /usr/lib/postgresql/*/bin /usr/local/pgsql/bin; do
    [ -x "$d/initdb" ] && { echo "$d"; return; }
  done
  command -v initdb >/dev/null 2>&1 && { dirname "$(command -v initdb)"; return; }
  return 1
}

free_port() {
  python3 - <<'PY' 2>/dev/null || echo 55432
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

case "${1:-}" in
  start)
    bin=$(bindir) || { echo "no PostgreSQL server binaries found (apt-get install -y postgresql)" >&2; exit 3; }
    dir=$(mktemp -d /tmp/dorameter-pg.XXXXXX)
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    port=${DORAMETER_PG_PORT:-$(free_port)}
    as_owner "'$bin/initdb' -D '$dir/data' -A trust -U postgres >'$dir/initdb.log' 2>&1"
    as_owner "'$bin/pg_ctl' -D '$dir/data' -w -t 60 -o \"-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off\" -l '$dir/log' start >/dev/null"
    echo "PGDIR=$dir" >&2
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    dir=${2:?usage: postgres.sh stop DIR}
    bin=$(bindir) || exit 0
    as_owner "'$bin/pg_ctl' -D '$dir/data' -m fast stop >/dev/null 2>&1" || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: scripts/postgres.sh start | stop DIR" >&2
    exit 2
    ;;
esac
