#!/bin/sh
# PostgreSQL in the foreground on port $1, in a fresh data directory that is removed when the
# server stops. As root it runs as the `postgres` user (PostgreSQL refuses to run as root);
# `setpriv` execs in place, so the server stays in the unit's process group. SIGTERM (the
# runner's stop) becomes PostgreSQL's fast shutdown.
set -eu
port="$1"
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$bin" ] || bin=$(dirname "$(command -v postgres)")
dir=$(mktemp -d "${TMPDIR:-/tmp}/testrium-orders-pg.XXXXXX")
as=""
if [ "$(id -u)" = 0 ]; then
  chown postgres "$dir"
  as="setpriv --reuid=postgres --regid=postgres --init-groups --"
fi
$as "$bin/initdb" -D "$dir/data" -A trust -U app >/dev/null
$as "$bin/postgres" -D "$dir/data" -p "$port" -k "$dir" \
  -c listen_addresses=127.0.0.1 -c fsync=off &
server=$!
trap 'kill -INT "$server" 2>/dev/null' TERM INT
wait "$server" || true
wait "$server" 2>/dev/null || true
rm -rf "$dir"
