#!/usr/bin/env bash
# The MCP checkpoint on a captured flow: the SDK client in an enrolled cgroup calls
# server-everything with access tokens from the real npm oidc-provider; the policy lets
# finance call the echo tool and denies everyone else.  A denied call never reaches the
# server (the client gets -32010 with the deciding rule); a missing token gets a 401; every
# decision is a log entry with the caller's claims.
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }

IDP=18701
start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
BOB=$(idp_token bob "$IDP")
[ -n "$ALICE" ] && [ -n "$BOB" ] && ok "tokens from the real IdP for alice (finance) and bob (eng)" ||
	{ not_ok "tokens" "$(tail -5 "$T_DIR/idp-$IDP.log")"; exit 1; }

spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3001
wait_port 3001 || not_ok "server-everything listens"

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [3001, 3002]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
  "policy": {"rules": [
    {"name": "finance may echo", "match": {"groups": ["finance"], "method": "tools/call", "tool": "echo"},
     "action": "allow"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not allowed for this caller"}]}')
start_agent "$cfg" || { not_ok "agent starts with a policy and an identity provider"; exit 1; }
ok "agent starts with a policy and an identity provider"

posts() { grep -c 'Received MCP POST request' "$T_DIR/everything.log"; }
p0=$(posts)
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3001/mcp --echo-bytes 1000 --token "$ALICE")
check_eq "alice (finance) calls echo through the checkpoint" true "$(jq -r .match <<<"$out")"
check_eq "tools/list is filtered for alice: only the tool she may call is left (echo)" 1 "$(jq -r .tools <<<"$out")"
sleep 0.3
p1=$(posts)
check_eq "the server saw alice's 4 POSTs (initialize, initialized, tools/list, tools/call)" 4 "$((p1 - p0))"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3001/mcp --echo-bytes 1000 --token "$BOB" --unlisted)
check_eq "bob (eng) sees no tools he could never call" 0 "$(jq -r .tools <<<"$out")"
check_eq "and calling echo anyway is refused" false "$(jq -r .ok <<<"$out")"
check_match "with -32010 and the deciding rule's reason" "32010|denied by policy|not allowed for this caller" \
	"$(jq -r .error <<<"$out")"
sleep 0.3
check_eq "the server never saw bob's tools/call (3 POSTs, not 4)" 3 "$(($(posts) - p1))"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3001/mcp --echo-bytes 10)
check_eq "no token: refused" false "$(jq -r .ok <<<"$out")"
check_match "with a 401" "401|nauthorized|invalid_token" "$(jq -r .error <<<"$out")"
log=$(cat "$T_DIR/agent.log")
check_match "the allowed call is a decision entry with alice's claims" \
	"MCPW_SUB=alice MCPW_GROUPS=finance .*MCPW_METHOD=tools/call MCPW_TOOL=echo MCPW_DECISION=allow MCPW_RULE=\"finance may echo\"" "$log"

check_match "the denied call names bob, the rule and the reason" \
	"MCPW_SUB=bob MCPW_GROUPS=eng .*MCPW_TOOL=echo MCPW_DECISION=deny MCPW_RULE=default" "$log"
check_match "the missing token is logged" "MCPW_DECISION=unauthenticated" "$log"
if grep -qF "$ALICE" "$T_DIR/agent.log"; then not_ok "tokens never reach the log"; else ok "tokens never reach the log"; fi
check_match "decisions carry the token's hash" "MCPW_TOKEN_SHA256=[0-9a-f]{64}" "$log"

# a smuggling attempt (Content-Length with Transfer-Encoding) is answered 400, never forwarded
p2=$(posts)
raw=$(run_in "$T_CG/gw" node -e '
const s = require("net").connect(3001, "127.0.0.1", () => s.write(
  "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n" +
  "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /mcp HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"));
let out = ""; s.on("data", d => out += d); s.on("close", () => { console.log(out.split("\r\n")[0]); process.exit(0); });
s.on("error", e => console.log(e.code)); setTimeout(() => { console.log(out.split("\r\n")[0] || "timeout"); process.exit(0); }, 3000);')
check_eq "CL.TE smuggling through the checkpoint: 400" "HTTP/1.1 400 Bad Request" "$raw"
sleep 0.3
check_eq "and nothing reached the server" "$p2" "$(posts)"
check_match "the malformed request is logged" "MCPW_DECISION=malformed" "$(cat "$T_DIR/agent.log")"

# a rug pull: the server changes echo's definition after listing it once
spawn_in "$T_CG/other" "$T_DIR/rugpull.log" node "$PEERS/rugpull.mjs" 3002
wait_port 3002
out=$(run_in "$T_CG/gw" node "$PEERS/rugclient.mjs" http://127.0.0.1:3002/mcp --token "$ALICE")
check_eq "rug pull: the first listing shows echo" "Echoes the message back." "$(jq -r .first <<<"$out")"
check_match "rug pull: the second listing shows the changed definition" "id_rsa" "$(jq -r .second <<<"$out")"
check_match "the change is flagged in the log" "MCPW_TOOL=echo MCPW_DECISION=flagged MCPW_RULE=\"\(tool definition changed\)\"" \
	"$(cat "$T_DIR/agent.log")"
check_eq "a call to the changed tool is refused" false "$(jq -r .call_ok <<<"$out")"
check_match "... by the checkpoint" "32010|definition changed" "$(jq -r .error <<<"$out")"

# explain agrees with what happened
out=$("$BUILD/mcpwarden" policy explain --config "$cfg" --sub bob --groups eng --method tools/call --tool echo 2>&1)
rc=$?
check_eq "policy explain: bob's echo is denied (exit 1)" 1 "$rc"
check_match "policy explain names the same rule" "default" "$out"
out=$("$BUILD/mcpwarden" policy explain --config "$cfg" --sub alice --groups finance --method tools/call --tool echo 2>&1)
check_match "policy explain: alice's echo is allowed by the same rule as in the journal" "finance may echo" "$out"

# SIGHUP with a new policy: bob may now echo
sed -i 's/"groups": \["finance"\]/"groups": ["finance", "eng"]/' "$cfg"
kill -HUP "$AGENT_PID"
sleep 0.5
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3001/mcp --echo-bytes 100 --token "$BOB")
check_eq "after a reload with a new policy bob's call passes" true "$(jq -r .match <<<"$out")"
# and without a filter the server lists all 13 tools: the filter removed them above
sed -i 's/{"name": "default", "action": "deny"/{"name": "default", "action": "allow"/' "$cfg"
kill -HUP "$AGENT_PID"
sleep 0.5
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3001/mcp --echo-bytes 10 --token "$BOB")
check_eq "with a policy that allows everything, tools/list is whole (13 tools)" 13 "$(jq -r .tools <<<"$out")"
