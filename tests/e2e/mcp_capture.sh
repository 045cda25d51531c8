#!/usr/bin/env bash
# Real MCP peers through the agent: the official SDK client in an enrolled cgroup reaches
# server-everything (streamable HTTP); a real gateway from npm (@civic/passthrough-mcp-server)
# in an enrolled cgroup has its listener taken over (inbound) and its upstream connects
# captured (outbound).
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [3001]}],
              "inbound": [{"port": 8080, "backend_port": 18080}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
start_agent "$cfg" || { not_ok "agent starts"; exit 1; }

spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3001
wait_port 3001 || not_ok "server-everything listens"

# 1. the SDK client, enrolled, talks to the server through the agent
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3001/mcp --echo-bytes 1000000 --calls 2)
check_eq "SDK client through the agent: session ok" true "$(jq -r .ok <<<"$out")"
check_eq "SDK client through the agent: 2 x 1 MB echoed intact (sha256)" true "$(jq -r .match <<<"$out")"
check_eq "SDK client through the agent: protocol negotiated" 2025-11-25 "$(jq -r .protocol <<<"$out")"
flows=$(mw flows --all --json)
n=$(jq '[.flows[] | select(.origin == "127.0.0.1:3001" and .comm == "node" and .protocol == "http1")] | length' <<<"$flows")
if [ "$n" -ge 1 ]; then ok "the client's flows are attributed (node, http1, 127.0.0.1:3001): $n"; else
	not_ok "client flows attributed" "$flows"
fi
up=$(jq '[.flows[] | select(.origin == "127.0.0.1:3001") | .bytes_up] | add' <<<"$flows")
if [ "$up" -ge 2000000 ]; then ok "the flows carried the echo payload up ($up bytes)"; else not_ok "bytes up" "$up"; fi
check_eq "every flow had its origin" 0 "$(mw status --json | jq .counters.origin_missing)"

# 2. a real gateway, enrolled: its port 8080 is taken over, its upstream captured
spawn_in "$T_CG/gw" "$T_DIR/civic.log" "$PEERS/gateway-civic.sh" 8080 http://127.0.0.1:3001/mcp
GW=$SPAWNED
wait_port 18080 || not_ok "the gateway's listener was moved to 18080" "$(cat "$T_DIR/civic.log")"
ok "the gateway's listener moved to loopback:18080"
check_eq "the agent counts the moved bind" true "$(mw status --json | jq '.bpf.bind_moved >= 1')"
before=$(mw status --json | jq .counters.flows_total)
out=$(run_in "$T_CG/other" node "$PEERS/client.mjs" http://127.0.0.1:8080/mcp --echo-bytes 200000)
check_eq "a client outside reaches the gateway's public port through the agent" true "$(jq -r .match <<<"$out")"
flows=$(mw flows --all --json)
n=$(jq '[.flows[] | select(.direction == "inbound" and .cgroup == "'"$T_CG/gw"'")] | length' <<<"$flows")
if [ "$n" -ge 1 ]; then ok "inbound flows pass the agent before the gateway ($n)"; else not_ok "inbound flows" "$flows"; fi
n=$(jq --argjson gw "$GW" '[.flows[] | select(.direction == "outbound" and .pid == $gw and .origin == "127.0.0.1:3001")] | length' <<<"$flows")
if [ "$n" -ge 1 ]; then ok "the gateway's own upstream connects are captured, with its pid ($n)"; else
	not_ok "gateway upstream flows" "gateway pid $GW" "$flows"
fi
after=$(mw status --json | jq .counters.flows_total)
if [ "$after" -gt "$before" ]; then ok "flows counted ($before -> $after)"; else not_ok "flow count"; fi
