#!/bin/sh
# dbhub.sh PORT DSN — @bytebase/dbhub, streamable HTTP (stateless, JSON replies), on
# 127.0.0.1:PORT, path /mcp, serving the one database named by DSN
# (e.g. postgres://user@127.0.0.1:5432/db?sslmode=disable).
# Runs in the foreground (exec): the caller's PID is the server's PID.
# Ready when `curl -s http://127.0.0.1:PORT/healthz` answers "OK".
# MW_LISTEN_HOST=::1 binds [::1] instead (see loopback.cjs).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
    ''|*[!0-9]*) echo "usage: dbhub.sh PORT DSN" >&2; exit 2 ;;
esac
[ -n "${2:-}" ] || { echo "usage: dbhub.sh PORT DSN" >&2; exit 2; }
pkg="$dir/node_modules/@bytebase/dbhub"
entry="$pkg/dist/index.js"
[ -f "$entry" ] || { echo "dbhub.sh: $entry missing; run $dir/install.sh" >&2; exit 1; }
# dbhub reads ./.env and ./dbhub.toml from its working directory: run it from its own
# package directory, which has neither, so only the flags below configure it.
cd "$pkg"
# dbhub 0.21.2 flags: --transport http|stdio, --port N, --dsn URL (also --id, --config,
# --ssh-*). Its one SQL tool is execute_sql {"sql": "..."} (several statements may be
# separated by ";"); search_objects lists schema objects. It calls
# app.listen(port, "0.0.0.0"), which loopback.cjs turns into 127.0.0.1.
# NODE_ENV=production: no development extras.
NODE_ENV=production
export NODE_ENV
exec node --require "$dir/loopback.cjs" "$entry" --transport http --port "$1" --dsn "$2"
