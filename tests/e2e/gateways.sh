#!/usr/bin/env bash
# A gateway with an OIDC identity of its own: the enrolled gateway is mcp-proxy (streamable
# HTTP on 127.0.0.1:18304) whose stdio server is mcp-remote 0.15 with --client-credentials,
# forwarding to server-everything (streamable HTTP, 127.0.0.1:3001).  mcp-remote is mcp-proxy's
# child, so it runs in the gateway's cgroup and its connections to the upstream are captured.
# It gets its token from the real IdP (npm oidc-provider) as client gw-bot (groups
# [gateways]) by the client_credentials grant at a static token endpoint (no RFC 9728
# metadata needed; the secret comes from the environment, not the command line).  The
# client in front of the gateway has no token: the policy decides by the gateway's identity.
# Shown: the gateway's first, token-less request is refused with 401, then it fetches its
# token; an allowed tool passes; a tool its group may not call is denied with -32010 and
# never reaches the upstream; the journald decisions carry MCPW_SUB=gw-bot.
source "$(dirname "$0")/../lib.sh"
t_begin
peers_install
start_private_journald || skip_all "cannot start a private systemd-journald"

IDP=18731
GW=18304
need_idp "$IDP"
start_everything 3001

cfg=$(gw_agent_config 3001 "$IDP" '"policy": {"rules": [
    {"name": "gateways may echo", "match": {"groups": ["gateways"], "method": "tools/call", "tool": "echo"},
     "action": "allow"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not for gateways"}]}')
start_agent_journald "$cfg" || { not_ok "agent starts"; exit 1; }
ok "agent starts, logging to journald"

# The gateway: mcp-proxy spawning mcp-remote; the client secret only in the environment.
mkdir -p "$T_DIR/mcp-auth"
spawn_in "$T_CG/gw" "$T_DIR/gateway.log" env MCP_REMOTE_CONFIG_DIR="$T_DIR/mcp-auth" GW_SECRET=gw-bot-secret \
	"$PEERS/gateway-mcp-proxy.sh" "$GW" -- node "$PEERS/node_modules/mcp-remote/dist/proxy.js" \
	http://127.0.0.1:3001/mcp --client-credentials --token-endpoint "http://127.0.0.1:$IDP/token" \
	--static-oauth-client-info '{"client_id":"gw-bot","client_secret":"${GW_SECRET}"}' \
	--static-oauth-client-metadata '{"scope":"mcp","token_endpoint_auth_method":"client_secret_basic"}' \
	--resource urn:mcp:gateway
GW_PID=$SPAWNED
wait_port "$GW" || not_ok "the gateway listens on :$GW"

posts() { grep -c 'Received MCP POST request' "$T_DIR/everything.log"; }
# call TOOL ARG VALUE: one tools/call from a token-less client in front of the gateway
call() { run_in "$T_CG/other" node "$PEERS/sqlclient.mjs" "http://127.0.0.1:$GW/mcp" "$3" --tool "$1" --arg "$2"; }

out=$(run_in "$T_CG/other" node "$PEERS/client.mjs" "http://127.0.0.1:$GW/mcp" --echo-bytes 500 --calls 2 --unlisted)
check_eq "a token-less client calls echo twice through the gateway" "true 2" "$(jq -r '"\(.match) \(.calls)"' <<<"$out")"
check_eq "tools/list through the gateway is filtered to what gw-bot may call (echo)" 1 "$(jq -r .tools <<<"$out")"

sleep 0.5
j() { journal_ctl -t mcpwarden _PID="$AGENT_PID" -o json --no-pager "$@"; }
# the process whose connection carried gw-bot's token
RPID=$(j MCPW_SUB=gw-bot MCPW_TOOL=echo | head -n 1 | jq -r .MCPW_PID)
check_eq "the captured process is mcp-remote ..." node "$(cat "/proc/$RPID/comm" 2>/dev/null)"
check_match "... whose command line runs mcp-remote" "mcp-remote/dist/proxy.js" "$(tr '\0' ' ' <"/proc/$RPID/cmdline" 2>/dev/null)"
pp=$(awk '/^PPid:/ { print $2 }' "/proc/$RPID/status" 2>/dev/null)
check_match "... a child of the gateway (mcp-proxy)" "mcp-proxy" "$(tr '\0' ' ' <"/proc/$pp/cmdline" 2>/dev/null) (gateway pid $GW_PID)"
check_eq "... in the gateway's cgroup" "0::${T_CG#"$CG2"}/gw" "$(grep '^0::' "/proc/$RPID/cgroup" 2>/dev/null)"
if tr '\0' ' ' <"/proc/$RPID/cmdline" | grep -q 'gw-bot-secret'; then
	not_ok "the client secret is not on mcp-remote's command line"
else ok "the client secret is not on mcp-remote's command line"; fi

check_eq "journald: the gateway's first request had no token and got a 401 (unauthenticated)" \
	"a bearer token is required" "$(j MCPW_DECISION=unauthenticated | head -n 1 | jq -r .MCPW_REASON)"
check_eq "then mcp-remote took one client_credentials token from the IdP" 1 "$(grep -c '^POST /token 200$' "$T_DIR/idp-$IDP.log")"
check_match "... at the static token endpoint" "with the client_credentials grant" "$(cat "$T_DIR/gateway.log")"

p0=$(posts)
out=$(call echo message "hello from behind the gateway")
check_eq "echo is allowed for the gateway's identity" "Echo: hello from behind the gateway" "$(jq -r .text <<<"$out")"
sleep 0.3
p1=$(posts)
check_eq "... and reached the upstream (one POST)" 1 "$((p1 - p0))"
out=$(call get-env name PATH)
check_match "get-env (not for the gateways group) is denied with -32010 and the rule" \
	'-32010.*"rule":"default".*not for gateways' "$(jq -r .error <<<"$out")"
sleep 0.3
check_eq "... and the upstream never saw it (no POST)" "$p1" "$(posts)"

e=$(j MCPW_SUB=gw-bot MCPW_TOOL=echo MCPW_DECISION=allow | tail -n 1)
check_eq "journald: the allowed call carries the gateway's sub, groups and rule" \
	"gw-bot gateways tools/call gateways may echo 127.0.0.1:3001" \
	"$(jq -r '"\(.MCPW_SUB) \(.MCPW_GROUPS) \(.MCPW_METHOD) \(.MCPW_RULE) \(.MCPW_TARGET)"' <<<"$e")"
check_eq "journald: ... and the gateway's cgroup" "$T_CG/gw" "$(jq -r .MCPW_CGROUP <<<"$e")"
e=$(j MCPW_SUB=gw-bot MCPW_TOOL=get-env | tail -n 1)
check_eq "journald: the denied call carries the gateway's sub, the decision, rule and reason" \
	"gw-bot deny default not for gateways" \
	"$(jq -r '"\(.MCPW_SUB) \(.MCPW_DECISION) \(.MCPW_RULE) \(.MCPW_REASON)"' <<<"$e")"
check_eq "journald: 3 allowed echo calls by gw-bot" 3 "$(j MCPW_SUB=gw-bot MCPW_TOOL=echo MCPW_DECISION=allow | wc -l)"
if j | grep -q 'gw-bot-secret'; then not_ok "the client secret never reaches the journal"; else
	ok "the client secret never reaches the journal"; fi
