#!/usr/bin/env bash
# A throwaway PostgreSQL for the tests, from Debian's postgresql package:
# initdb + pg_ctl in a temporary folder (as the postgres user when run as
# root, since PostgreSQL refuses to run as root), TCP on 127.0.0.1 with a
# free port, password (SCRAM) authentication, fsync off (test data only).
#   scripts/pg_test_cluster.sh start STATE   writes STATE/dsn:
#       postgresql://neobert:<random password>@127.0.0.1:<port>/postgres
#   scripts/pg_test_cluster.sh stop STATE    stops it and deletes its files
# CTest runs these as the setup/cleanup of the neobert_fixtures fixture
# (tests/CMakeLists.txt); start takes ~2 s. Also handy by hand:
#   scripts/pg_test_cluster.sh start /tmp/pg && cat /tmp/pg/dsn
set -euo pipefail
cmd="${1:?usage: pg_test_cluster.sh start|stop STATE_DIR}"
state="$(realpath -m "${2:?usage: pg_test_cluster.sh start|stop STATE_DIR}")"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
[ -x "$bindir/initdb" ] || { echo "pg_test_cluster: no PostgreSQL server (apt-get install postgresql)" >&2; exit 1; }

as_pg=()
if [ "$(id -u)" -eq 0 ]; then as_pg=(runuser -u postgres --); fi

stop() {
  if [ -f "$state/data" ]; then
    local data
    data="$(cat "$state/data")"
    if [ -d "$data/db" ]; then
      "${as_pg[@]}" "$bindir/pg_ctl" -D "$data/db" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$data"
  fi
  rm -f "$state/data" "$state/dsn"
}

case "$cmd" in
  stop) stop ;;
  start)
    stop
    mkdir -p "$state"
    data="$(mktemp -d /tmp/neobert-pg-XXXXXX)"
    echo "$data" > "$state/data"
    password="pw-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
    printf '%s\n' "$password" > "$data/pw"
    if [ "${#as_pg[@]}" -gt 0 ]; then chown -R postgres: "$data"; fi
    "${as_pg[@]}" "$bindir/initdb" -D "$data/db" -U neobert --pwfile="$data/pw" \
      --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --no-sync >"$data/initdb.log" 2>&1 ||
      { cat "$data/initdb.log" >&2; exit 1; }
    port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    "${as_pg[@]}" "$bindir/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 60 \
      -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null || { cat "$data/server.log" >&2; exit 1; }
    echo "postgresql://neobert:$password@127.0.0.1:$port/postgres" > "$state/dsn"
    echo "pg_test_cluster: PostgreSQL on 127.0.0.1:$port (files in $data)"
    ;;
  *) echo "usage: pg_test_cluster.sh start|stop STATE_DIR" >&2; exit 2 ;;
esac
