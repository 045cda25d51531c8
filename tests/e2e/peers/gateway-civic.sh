#!/bin/sh
# gateway-civic.sh PORT TARGET_URL — @civic/passthrough-mcp-server (HTTP -> HTTP) on
# 127.0.0.1:PORT, path /mcp, forwarding to TARGET_URL. Runs in the foreground (exec).
# TARGET_URL may be given with or without its MCP path: http://127.0.0.1:18301/mcp and
# http://127.0.0.1:18301 both reach .../mcp (the CLI appends TARGET_SERVER_MCP_PATH,
# default /mcp, to TARGET_SERVER_URL). The client's Authorization header is forwarded.
# Ready when `curl -s http://127.0.0.1:PORT/mcp` answers.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
usage() { echo "usage: gateway-civic.sh PORT TARGET_URL" >&2; exit 2; }
[ $# -eq 2 ] || usage
case "$1" in ''|*[!0-9]*) usage ;; esac
case "$2" in http://*|https://*) ;; *) usage ;; esac
entry="$dir/node_modules/@civic/passthrough-mcp-server/dist/cli.js"
[ -f "$entry" ] || { echo "gateway-civic.sh: $entry missing; run $dir/install.sh" >&2; exit 1; }

# Split TARGET_URL into origin and path: scheme://host[:port] + /path (default /mcp).
rest=${2#*://}
scheme=${2%%://*}
case "$rest" in
    */*) hostport=${rest%%/*}; path=/${rest#*/} ;;
    *)   hostport=$rest; path=/ ;;
esac
[ "$path" = / ] && path=/mcp

PORT=$1
TARGET_SERVER_URL="$scheme://$hostport"
TARGET_SERVER_MCP_PATH=$path
# The CLI falls back to TARGET_SERVER_MCP_PATH for its own path too: pin ours to /mcp.
SOURCE_SERVER_MCP_PATH=/mcp
TARGET_SERVER_TRANSPORT=httpStream
export PORT TARGET_SERVER_URL TARGET_SERVER_MCP_PATH SOURCE_SERVER_MCP_PATH TARGET_SERVER_TRANSPORT
unset HOOKS
# cli.js only runs main() when import.meta.url equals file://argv[1]: call it by its
# real path (no symlink such as node_modules/.bin). It listens on all interfaces by
# default; loopback.cjs binds it to 127.0.0.1 (or MW_LISTEN_HOST=::1).
exec node --require "$dir/loopback.cjs" "$(realpath "$entry")" </dev/null
