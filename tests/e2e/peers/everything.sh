#!/bin/sh
# everything.sh PORT — server-everything, streamable HTTP, on 127.0.0.1:PORT, path /mcp.
# Runs in the foreground (exec): the caller's PID is the server's PID.
# Ready when `curl -s http://127.0.0.1:PORT/mcp` answers (with HTTP 400: no session).
# MW_LISTEN_HOST=::1 binds [::1] instead (see loopback.cjs).
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
    ''|*[!0-9]*) echo "usage: everything.sh PORT" >&2; exit 2 ;;
esac
entry="$dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js"
[ -f "$entry" ] || { echo "everything.sh: $entry missing; run $dir/install.sh" >&2; exit 1; }
# The CLI's first argument picks the transport (stdio|sse|streamableHttp); the port
# comes only from $PORT (default 3001); it calls app.listen(PORT) on all interfaces,
# which loopback.cjs turns into 127.0.0.1.
PORT=$1
export PORT
exec node --require "$dir/loopback.cjs" "$entry" streamableHttp
