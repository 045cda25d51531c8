#!/bin/sh
# gateway-mcp-proxy.sh PORT -- CMD [ARGS...] — mcp-proxy serving streamable HTTP on
# 127.0.0.1:PORT, path /mcp, spawning the stdio MCP server CMD ARGS (its child: same
# cgroup). Runs in the foreground (exec). Ready when `curl -s http://127.0.0.1:PORT/mcp`
# answers. Example: gateway-mcp-proxy.sh 18303 -- node \
#   node_modules/@modelcontextprotocol/server-everything/dist/index.js stdio
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: gateway-mcp-proxy.sh PORT -- CMD [ARGS...]" >&2; exit 2; }
[ $# -ge 3 ] || usage
case "$1" in ''|*[!0-9]*) usage ;; esac
[ "$2" = -- ] || usage
port=$1
shift 2
entry="$dir/node_modules/mcp-proxy/dist/bin/mcp-proxy.mjs"
[ -f "$entry" ] || { echo "gateway-mcp-proxy.sh: $entry missing; run $dir/install.sh" >&2; exit 1; }
host=${MW_LISTEN_HOST:-127.0.0.1}
# --host defaults to "::" (all interfaces): pass loopback explicitly, and loopback.cjs
# enforces it anyway. --server stream: only the streamable HTTP endpoint (no /sse).
# --modern (default on) also serves revision 2026-07-28 on the same endpoint.
exec node --require "$dir/loopback.cjs" "$entry" \
    --host "$host" --port "$port" --server stream --streamEndpoint /mcp \
    -- "$@" </dev/null
