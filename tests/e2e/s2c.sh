#!/usr/bin/env bash
# Server-to-client requests through the checkpoint: a real SDK client with sampling, roots
# and elicitation handlers calls server-everything's trigger-sampling-request through a real
# gateway (@civic/passthrough-mcp-server) whose upstream connects are captured; a token from
# the real npm oidc-provider says who asks.  With a policy that allows sampling the client's
# handler answers and the tool result arrives; with a rule denying sampling/createMessage the
# request never reaches the client (its handler is not called), journald has the decision
# with the rule, and the rest of the session goes on (roots, echo).
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }
start_journald || skip_all "no systemd-journald to start"

IDP=18711
start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
[ -n "$ALICE" ] && ok "a token from the real IdP for alice (finance)" ||
	{ not_ok "token" "$(tail -5 "$T_DIR/idp-$IDP.log")"; exit 1; }

spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3031
wait_port 3031 || not_ok "server-everything listens"

# the gateway is enrolled: its connects to the server pass the checkpoint
policy() { # $1: the action for sampling/createMessage
	agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [3031]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
  "policy": {"rules": [
    {"name": "sampling for finance", "match": {"groups": ["finance"], "method": "sampling/createMessage"},
     "action": "'"$1"'", "reason": "no model calls from servers"},
    {"name": "finance tools", "match": {"groups": ["finance"], "method": "tools/call",
     "tool": ["trigger-sampling-request", "get-roots-list", "echo"]}, "action": "allow"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping",
     "roots/list"]}, "action": "allow"},
    {"name": "default", "action": "deny"}]}'
}
cfg=$(policy allow)
AGENT_ARGS="" start_agent "$cfg" || { not_ok "agent starts"; exit 1; }
ok "agent starts, logging to journald"

spawn_in "$T_CG/gw" "$T_DIR/civic.log" "$PEERS/gateway-civic.sh" 8091 http://127.0.0.1:3031/mcp
GW=$SPAWNED
wait_port 8091 || not_ok "the gateway listens" "$(cat "$T_DIR/civic.log")"

out=$(run_in "$T_CG/other" node "$PEERS/s2cclient.mjs" http://127.0.0.1:8091/mcp --token "$ALICE" --wait 8000)
check_eq "sampling allowed: the client's sampling handler was called once" 1 "$(jq -r .sampling_calls <<<"$out")"
check_eq "... and the tool result arrived" true "$(jq -r .sampling.ok <<<"$out")"
check_match "... carrying what the handler answered" "sampled-by-e2e" "$(jq -r .sampling.text <<<"$out")"
check_eq "the session goes on (echo)" "Echo: still-here" "$(jq -r .echo.text <<<"$out")"
sleep 0.5
j=$(journalctl -t mcpwarden MCPW_METHOD=sampling/createMessage -o json --no-pager 2>/dev/null | tail -n 1)
check_eq "journald: the allowed sampling request is a decision entry" allow "$(jq -r .MCPW_DECISION <<<"$j")"
check_eq "... with the stream's identity (alice)" alice "$(jq -r .MCPW_SUB <<<"$j")"
check_eq "... and the rule" "sampling for finance" "$(jq -r .MCPW_RULE <<<"$j")"

# a rule denying sampling/createMessage; flows keep the policy they started with, so a new
# gateway (new upstream connections) decides with the reloaded one
policy deny >/dev/null
kill -HUP "$AGENT_PID"
t_kill "$GW"
spawn_in "$T_CG/gw" "$T_DIR/civic2.log" "$PEERS/gateway-civic.sh" 8092 http://127.0.0.1:3031/mcp
wait_port 8092 || not_ok "the new gateway listens" "$(cat "$T_DIR/civic2.log")"
sleep 0.5
since=$(date '+%Y-%m-%d %H:%M:%S')
out=$(run_in "$T_CG/other" node "$PEERS/s2cclient.mjs" http://127.0.0.1:8092/mcp --token "$ALICE" --wait 3000)
check_eq "sampling denied: the client's handler was never called" 0 "$(jq -r .sampling_calls <<<"$out")"
check_eq "... the tool call got no result (the server got no answer either)" false "$(jq -r .sampling.ok <<<"$out")"
check_eq "the rest of the session goes on: roots/list reached the client" true "$(jq -r '.roots_calls >= 1' <<<"$out")"
check_eq "... get-roots-list answered" true "$(jq -r .roots.ok <<<"$out")"
check_eq "... and echo answered" "Echo: still-here" "$(jq -r .echo.text <<<"$out")"
sleep 0.5
j=$(journalctl -t mcpwarden --since "$since" MCPW_METHOD=sampling/createMessage -o json --no-pager 2>/dev/null | tail -n 1)
check_eq "journald: the denied sampling request is a deny decision" deny "$(jq -r .MCPW_DECISION <<<"$j")"
check_eq "... naming the rule" "sampling for finance" "$(jq -r .MCPW_RULE <<<"$j")"
check_eq "... and its reason" "no model calls from servers" "$(jq -r .MCPW_REASON <<<"$j")"
check_eq "... with alice's identity" alice "$(jq -r .MCPW_SUB <<<"$j")"
n=$(journalctl -t mcpwarden --since "$since" MCPW_METHOD=sampling/createMessage MCPW_DECISION=deny -o json --no-pager 2>/dev/null | wc -l)
check_eq "one deny entry for the one sampling request" 1 "$n"
n=$(journalctl -t mcpwarden --since "$since" MCPW_METHOD=roots/list MCPW_DECISION=allow -o json --no-pager 2>/dev/null | wc -l)
if [ "$n" -ge 1 ]; then ok "roots/list requests from the server were decided and allowed ($n)"; else
	not_ok "roots/list decisions" "$(journalctl -t mcpwarden --since "$since" --no-pager | tail -20)"
fi
