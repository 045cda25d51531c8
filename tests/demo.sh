#!/usr/bin/env bash
# tests/demo.sh (`sudo make demo`): the agent in front of a real MCP gateway, end to end.
#
# In a private network namespace: server-everything (an MCP server from npm) listens on
# 127.0.0.1:3001; @civic/passthrough-mcp-server (an MCP gateway from npm) runs in an
# enrolled cgroup, configured to listen on port 8080 and forward to the server.  The agent
# takes over the gateway's port (inbound) and captures its upstream connects (outbound).
# An SDK client, playing the AI agent, runs a session through the gateway; then the
# operator's view: `mcpwarden status` and `mcpwarden flows`.
T_QUIET=1
source "$(dirname "$0")/lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Installing the npm peers (pinned)"
"$PEERS/install.sh"

say "Starting mcpwardend (enrolled: $T_CG/gw)"
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8", "::1/128"], "ports": [3001]}],
              "inbound": [{"port": 8080, "backend_port": 18080}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
cat "$cfg"
start_agent "$cfg" || exit 1

say "Starting server-everything on 127.0.0.1:3001 (not enrolled)"
spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3001
wait_port 3001 || { echo "server did not start"; exit 1; }

say "Starting the civic gateway on port 8080 in the enrolled cgroup"
spawn_in "$T_CG/gw" "$T_DIR/gateway.log" "$PEERS/gateway-civic.sh" 8080 http://127.0.0.1:3001/mcp
wait_port 18080 || { echo "gateway did not start"; exit 1; }
echo "the gateway asked for port 8080; the kernel gave it 127.0.0.1:18080, the agent serves 8080:"
nsenter --net="/run/netns/$T_NS" ss -ltnp 2>/dev/null | grep -E ':(8080|18080|3001|15001) ' | sed 's/^/  /'

say "An MCP client session through the gateway (SDK client, 3 echo calls of 64 KiB)"
run_in "$T_CG/other" node "$PEERS/client.mjs" http://127.0.0.1:8080/mcp --echo-bytes 65536 --calls 3 | jq .

say "mcpwarden status"
mw status
say "mcpwarden flows --all"
mw flows --all
say "The agent's journal entries for those flows (journald, or stderr here)"
grep -E 'flow f[0-9a-f]+ .*(opened|closed)' "$T_DIR/agent.log" | head -n 8 | cut -c1-220
echo
echo "Session replay (mcpwarden-replay) arrives with the session journals; this demo ends here."
