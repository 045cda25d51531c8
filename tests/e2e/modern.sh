#!/usr/bin/env bash
# MCP revision 2026-07-28 through the checkpoint (no initialize, server/discover, params._meta
# on every request, Mcp-Method / Mcp-Name headers, results with resultType).
# The server side: mcp-proxy 6.7 (serves 2026-07-28 next to the 2025 revisions) fronting
# server-everything over stdio, on 127.0.0.1:18305.  The client side, in the enrolled cgroup:
#  1. real peers: an SDK stdio client driving mcp-remote 0.15 --protocol auto, which finds
#     the server speaks 2026-07-28 by server/discover and bridges every request into it; it
#     authenticates with --client-credentials as alice (finance) or bob (eng);
#  2. hand-written 2026-07-28 requests (curl, shapes from the revision): discover, a call with
#     the headers, a denied call, and a header/body disagreement.
# Policy: finance may call echo, eng may call get-sum, discovery and listing are open.
source "$(dirname "$0")/../lib.sh"
t_begin
peers_install
start_private_journald || skip_all "cannot start a private systemd-journald"

IDP=18741
UP=18305
need_idp "$IDP"
spawn_in "$T_CG/other" "$T_DIR/upstream.log" "$PEERS/gateway-mcp-proxy.sh" "$UP" -- \
	node "$PEERS/node_modules/@modelcontextprotocol/server-everything/dist/index.js" stdio
wait_port "$UP" || not_ok "mcp-proxy listens on :$UP"

cfg=$(gw_agent_config "$UP" "$IDP" '"policy": {"rules": [
    {"name": "finance may echo", "match": {"groups": ["finance"], "method": "tools/call", "tool": "echo"},
     "action": "allow"},
    {"name": "eng may add", "match": {"groups": ["eng"], "method": "tools/call", "tool": "get-sum"},
     "action": "allow"},
    {"name": "discovery", "match": {"method": ["server/discover", "subscriptions/listen", "tools/list",
       "initialize", "notifications/*", "ping"]}, "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not for this caller"}]}')
start_agent_journald "$cfg" || { not_ok "agent starts"; exit 1; }
ok "agent starts, logging to journald"
j() { journal_ctl -t mcpwarden _PID="$AGENT_PID" -o json --no-pager "$@"; }

# --- 1. mcp-remote --protocol auto, as alice and as bob -------------------------------------
# session WHO: one stdio session through mcp-remote calling echo and get-sum. Each identity
# gets its own MCP_REMOTE_CONFIG_DIR: mcp-remote 0.15 keys its token cache by server URL,
# resource and headers, not by client id, so a shared one would reuse the other's token.
session() {
	mkdir -p "$T_DIR/auth-$1"
	run_in "$T_CG/gw" env MCP_REMOTE_CONFIG_DIR="$T_DIR/auth-$1" CLIENT_SECRET="$1-secret" \
		node "$PEERS/stdioclient.mjs" --call echo --args '{"message":"hi from '"$1"'"}' \
		--call get-sum --args '{"a":2,"b":3}' -- \
		node "$PEERS/node_modules/mcp-remote/dist/proxy.js" "http://127.0.0.1:$UP/mcp" --protocol auto \
		--client-credentials --token-endpoint "http://127.0.0.1:$IDP/token" \
		--static-oauth-client-info '{"client_id":"'"$1"'","client_secret":"${CLIENT_SECRET}"}' \
		--static-oauth-client-metadata '{"scope":"mcp","token_endpoint_auth_method":"client_secret_basic"}' \
		--resource urn:mcp:gateway 2>"$T_DIR/mcp-remote-$1.log"
}
callf() { jq -r --arg t "$2" '.calls[] | select(.tool == $t) | if .ok then .text else .error end' <<<"$1"; }

out=$(session alice)
check_eq "alice's session through mcp-remote works" true "$(jq -r .ok <<<"$out")"
# mcp-proxy refuses a 2026-07-28 request without a matching Mcp-Method header (400, -32020),
# so every call that passes below also shows mcp-remote sent the revision's headers.
check_match "mcp-remote found a 2026-07-28 server by server/discover and bridged to it" \
	"Remote server speaks MCP 2026-07-28" "$(cat "$T_DIR/mcp-remote-alice.log")"
check_eq "alice's tool list is filtered to what she may call" '["echo"]' "$(jq -c .tools <<<"$out")"
check_eq "alice: echo is allowed" "Echo: hi from alice" "$(callf "$out" echo)"
check_match "alice: get-sum is denied with -32010 and the rule" '-32010.*"rule":"default".*not for this caller' \
	"$(callf "$out" get-sum)"
out=$(session bob)
check_eq "bob's session through mcp-remote works" true "$(jq -r .ok <<<"$out")"
check_eq "bob's tool list is filtered to what he may call" '["get-sum"]' "$(jq -c .tools <<<"$out")"
check_match "bob: get-sum is allowed" "sum of 2 and 3 is 5" "$(callf "$out" get-sum)"
check_match "bob: echo is denied with -32010" '-32010.*"rule":"default"' "$(callf "$out" echo)"

sleep 0.5
check_eq "journald: alice's discovery is a decision entry (server/discover, allow)" "alice finance allow discovery" \
	"$(j MCPW_SUB=alice MCPW_METHOD=server/discover | tail -n 1 | jq -r '"\(.MCPW_SUB) \(.MCPW_GROUPS) \(.MCPW_DECISION) \(.MCPW_RULE)"')"
check_eq "journald: no initialize went upstream (2026-07-28 has none)" 0 "$(j MCPW_METHOD=initialize | wc -l)"
check_eq "journald: alice's echo allowed, with the tool name" "echo allow finance may echo" \
	"$(j MCPW_SUB=alice MCPW_METHOD=tools/call MCPW_DECISION=allow | tail -n 1 | jq -r '"\(.MCPW_TOOL) \(.MCPW_DECISION) \(.MCPW_RULE)"')"
check_eq "journald: alice's get-sum denied, with the tool name and reason" "get-sum deny default not for this caller" \
	"$(j MCPW_SUB=alice MCPW_DECISION=deny | tail -n 1 | jq -r '"\(.MCPW_TOOL) \(.MCPW_DECISION) \(.MCPW_RULE) \(.MCPW_REASON)"')"
check_eq "journald: bob's echo denied and get-sum allowed" "echo deny|get-sum allow" \
	"$(j MCPW_SUB=bob MCPW_METHOD=tools/call | jq -r '"\(.MCPW_TOOL) \(.MCPW_DECISION)"' | paste -sd'|')"

# --- 2. hand-written 2026-07-28 requests ----------------------------------------------------
ALICE=$(idp_token alice "$IDP")
BOB=$(idp_token bob "$IDP")
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"mcpwarden-e2e-hand","version":"0.1.0"},"io.modelcontextprotocol/clientCapabilities":{}}'
# rpc TOKEN METHOD NAME BODY: one POST as the revision shapes it (TOKEN or NAME "": header
# left out); prints the HTTP status, a space, then the body
rpc() {
	local hdr=(-H "Mcp-Method: $2") code
	[ -n "$1" ] && hdr+=(-H "Authorization: Bearer $1")
	[ -n "$3" ] && hdr+=(-H "Mcp-Name: $3")
	code=$(run_in "$T_CG/gw" curl -s --max-time 10 -o "$T_DIR/rpc.out" -w '%{http_code}' \
		"http://127.0.0.1:$UP/mcp" -H 'Content-Type: application/json' \
		-H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
		"${hdr[@]}" -d "$4")
	printf '%s %s' "$code" "$(tr '\n' ' ' <"$T_DIR/rpc.out")"
}
out=$(rpc "$ALICE" server/discover "" '{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{'"$META"'}}')
check_match "hand client: server/discover answers 200 with supportedVersions [2026-07-28]" \
	'^200 .*"supportedVersions":\["2026-07-28"\]' "$out"
out=$(rpc "$ALICE" tools/call echo '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"by hand"},'"$META"'}}')
check_match "hand client: alice's tools/call echo (Mcp-Method/Mcp-Name, _meta) passes; the result has resultType" \
	'^200 .*"text":"Echo: by hand".*"resultType":"complete"' "$out"
out=$(rpc "$BOB" tools/call echo '{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"by hand"},'"$META"'}}')
check_match "hand client: bob's echo is denied with -32010 for id 3" '"code":-32010.*"id":3|"id":3.*"code":-32010' "$out"
out=$(rpc "" tools/call echo '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":{"message":"x"},'"$META"'}}')
check_match "hand client: no token is a 401" '^401 ' "$out"
sleep 0.3
check_eq "journald: the hand-written calls are decisions with the tool name" "alice echo allow|bob echo deny" \
	"$(j MCPW_METHOD=tools/call | tail -n 2 | jq -r '"\(.MCPW_SUB) \(.MCPW_TOOL) \(.MCPW_DECISION)"' | paste -sd'|')"

# A header naming another tool than the body: the checkpoint decides by the body, a gateway
# may route by the header, so the agent must refuse it (agent/mcp.c mcp_check_headers()).
n_allow=$(j MCPW_SUB=alice MCPW_TOOL=echo MCPW_DECISION=allow | wc -l)
out=$(rpc "$ALICE" tools/call get-sum '{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo","arguments":{"message":"smuggled"},'"$META"'}}')
t_note "header/body disagreement answered: ${out:0:300}"
sleep 0.3
check_eq "Mcp-Name disagreeing with the body is refused by the agent, never forwarded" "$n_allow" \
	"$(j MCPW_SUB=alice MCPW_TOOL=echo MCPW_DECISION=allow | wc -l)"
if j | grep -qF "${ALICE##*.}"; then not_ok "tokens never reach the journal"; else ok "tokens never reach the journal"; fi
