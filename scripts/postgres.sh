#!/usr/bin/env bash
# Throwaway PostgreSQL cluster on loopback for kensa's server tests and for
# trying `kensa server` by hand.
#
#   scripts/postgres.sh start   # initdb (first time) and start; prints the URL
#   scripts/postgres.sh url     # prints the URL of the running cluster
#   scripts/postgres.sh stop    # stops it (the data folder stays)
#   scripts/postgres.sh destroy # stops it and removes the data folder
#
# The cluster lives in $KENSA_PG_DIR (default: .cache/postgres in the
# repository, or /tmp/kensa-pg-<hash of the repository path> when run as
# root, because PostgreSQL refuses to run as root and its own user must own
# the folder). It listens on 127.0.0.1 only, on $KENSA_PG_PORT or the first
# free port from 55432, with its unix socket inside the data folder, and
# trusts loopback connections of user "kensa" to database "kensa": it is a
# test cluster, never a production one. Debian's postgresql packages are
# installed by scripts/setup.sh.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"

pgbin=""
for d in /usr/lib/postgresql/*/bin; do
  [ -x "$d/initdb" ] && pgbin="$d"
done
if [ -z "$pgbin" ]; then
  echo "postgres.sh: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin (run scripts/setup.sh)" >&2
  exit 1
fi

if [ "$(id -u)" = 0 ]; then
  dir="${KENSA_PG_DIR:-/tmp/kensa-pg-$(printf %s "$repo" | sha256sum | cut -c1-12)}"
  # as_pg CMD...: run CMD as the postgres system user (created by Debian's
  # postgresql-common package).
  as_pg() { runuser -u postgres -- "$@"; }
  owner=postgres
else
  dir="${KENSA_PG_DIR:-$repo/.cache/postgres}"
  as_pg() { "$@"; }
  owner="$(id -un)"
fi
data="$dir/data"
sock="$dir/sock"

port_of() { cat "$dir/port" 2>/dev/null; }
url() { echo "postgres://kensa@127.0.0.1:$(port_of)/kensa?sslmode=disable"; }
running() { [ -f "$data/postmaster.pid" ] && as_pg "$pgbin/pg_ctl" -D "$data" status >/dev/null 2>&1; }

# free_port: $KENSA_PG_PORT, or the first port from 55432 nothing listens on.
free_port() {
  if [ -n "${KENSA_PG_PORT:-}" ]; then echo "$KENSA_PG_PORT"; return; fi
  local p
  for p in $(seq 55432 55532); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "postgres.sh: no free port in 55432-55532" >&2
  return 1
}

start() {
  if running; then url; return; fi
  mkdir -p "$dir"
  chown "$owner" "$dir"
  chmod 700 "$dir"
  if [ ! -f "$data/PG_VERSION" ]; then
    rm -rf "$data"
    as_pg "$pgbin/initdb" -D "$data" -U kensa --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
      { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  as_pg mkdir -p "$sock"
  free_port >"$dir/port"
  local p
  p="$(port_of)"
  if ! as_pg "$pgbin/pg_ctl" -D "$data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $p -k $sock -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" start >/dev/null; then
    tail -20 "$dir/server.log" >&2
    exit 1
  fi
  if ! as_pg "$pgbin/psql" -h "$sock" -p "$p" -U kensa -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname='kensa'" | grep -q 1; then
    as_pg "$pgbin/createdb" -h "$sock" -p "$p" -U kensa kensa
  fi
  url
}

stop() {
  if running; then as_pg "$pgbin/pg_ctl" -D "$data" -m fast -w stop >/dev/null; fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  url) running || { echo "postgres.sh: not running (scripts/postgres.sh start)" >&2; exit 1; }; url ;;
  destroy) stop; rm -rf "$dir" ;;
  *) echo "usage: $0 start|stop|url|destroy" >&2; exit 2 ;;
esac
