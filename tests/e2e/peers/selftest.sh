#!/bin/bash
# selftest.sh [ECHO_BYTES] — prove the peers work on this host: server-everything
# (streamable HTTP) direct, through the civic gateway, and through mcp-proxy spawning
# server-everything over stdio. Starts everything on free loopback ports, runs
# client.mjs against each, kills only the processes it started. Exit 0 if all ok.
set -euo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
bytes=${1:-200000}
"$dir/install.sh"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

freeport() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_ready() { # PORT PID NAME
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/mcp" && return 0
        kill -0 "$2" 2>/dev/null || { echo "selftest: $3 exited early" >&2; return 1; }
        sleep 0.1
    done
    echo "selftest: $3 not ready on port $1 after 10 s" >&2; return 1
}

log=$(mktemp -d /tmp/mw-peers-selftest.XXXXXX)
p_ev=$(freeport); p_civ=$(freeport); p_mp=$(freeport)
"$dir/everything.sh" "$p_ev" >"$log/everything.log" 2>&1 & pids+=($!); wait_ready "$p_ev" $! everything
"$dir/gateway-civic.sh" "$p_civ" "http://127.0.0.1:$p_ev/mcp" >"$log/civic.log" 2>&1 & pids+=($!); wait_ready "$p_civ" $! civic
"$dir/gateway-mcp-proxy.sh" "$p_mp" -- node "$dir/node_modules/@modelcontextprotocol/server-everything/dist/index.js" stdio \
    >"$log/mcp-proxy.log" 2>&1 & pids+=($!); wait_ready "$p_mp" $! mcp-proxy

rc=0
for pair in "direct:$p_ev" "civic:$p_civ" "mcp-proxy:$p_mp"; do
    name=${pair%%:*} port=${pair##*:}
    out=$(node "$dir/client.mjs" "http://127.0.0.1:$port/mcp" --echo-bytes "$bytes" --calls 2 --token selftest) || rc=1
    printf '%-10s %s\n' "$name" "$out"
    case "$out" in *'"ok":true'*'"match":true'*) ;; *) rc=1 ;; esac
done
if ss -ltnH 2>/dev/null | awk '{print $4}' | grep -E ":($p_ev|$p_civ|$p_mp)\$" | grep -vqE '^(127\.|\[::1\])'; then
    echo "selftest: a peer listens on a non-loopback address" >&2; rc=1
fi
[ $rc -eq 0 ] && rm -rf "$log" || echo "selftest: logs in $log" >&2
exit $rc
