#!/usr/bin/env bash
# Session journals on real MCP sessions: the SDK client in an enrolled cgroup calls
# server-everything through the checkpoint (tokens from the real npm oidc-provider) with a
# strict, sealed journal.  mcpwarden-replay list/show/export/search must tell what the
# client saw (the echoed messages hash to what the client got back), verify must pass with
# the auditor's key, and every kind of tampering with the files must be caught and located.
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }
R="$BUILD/mcpwarden-replay"
J="$T_DIR/state/journal"

IDP=18711
start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
BOB=$(idp_token bob "$IDP")
[ -n "$ALICE" ] && [ -n "$BOB" ] && ok "tokens for alice (finance) and bob (eng)" || { not_ok "tokens"; exit 1; }
spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3011
wait_port 3011 || not_ok "server-everything listens"

# the auditor's key, and the agent's copy
check_cmd "keygen writes the initial seal key" "$R" keygen --out "$T_DIR/auditor.key"
check_eq "keygen never overwrites" 1 "$("$R" keygen --out "$T_DIR/auditor.key" >/dev/null 2>&1; echo $?)"
mkdir -p "$J" && cp "$T_DIR/auditor.key" "$J/seal.key"
chown -R 65534 "$T_DIR/state" 2>/dev/null
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [3011]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
  "policy": {"rules": [
    {"name": "finance may echo", "match": {"groups": ["finance"], "method": "tools/call", "tool": "echo"},
     "action": "allow"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not allowed for this caller"}]},
  "journal": {"mode": "strict", "seal_interval": "1s"}')
start_agent "$cfg" || { not_ok "agent starts with a strict journal"; exit 1; }
ok "agent starts with a strict, sealed journal"

out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3011/mcp --echo-bytes 300 --calls 3 --token "$ALICE")
check_eq "alice's three echo calls pass with a strict journal" true "$(jq -r .match <<<"$out")"
back=$(jq -r .sha256_back <<<"$out")
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3011/mcp --echo-bytes 10 --token "$BOB" --unlisted)
check_eq "bob's call is denied" false "$(jq -r .ok <<<"$out")"
sleep 1.5 # a seal interval

list=$("$R" --dir "$J" list --json)
check_eq "list: alice's session carries her name, the tool and the decision" 1 \
	"$(jq '[.[] | select(.user == "alice" and (.tools | index("echo")) and (.decisions | index("allow")))] | length' <<<"$list" 2>/dev/null | sort -u | tail -1 | awk '{print ($1>=1)}')"
check_eq "list --user bob --decision deny finds bob's session" 1 \
	"$("$R" --dir "$J" list --user bob --decision deny --json | jq 'length >= 1' | grep -c true)"
check_eq "list --user nobody finds nothing" 0 "$("$R" --dir "$J" list --user nobody --json | jq length)"
check_match "list (text) shows the unit/comm and target" "node.*127.0.0.1:3011" "$("$R" --dir "$J" list)"
sid=$(jq -r '[.[] | select(.user == "alice" and (.tools | index("echo")))][0].session' <<<"$list")
show=$("$R" --dir "$J" show "$sid")
check_match "show: the open record names the process and target" "open .*comm node.*127.0.0.1:3011" "$show"
check_match "show: the decision with user, rule" "allow by 'alice' .*tools/call echo: rule 'finance may echo'" "$show"
check_match "show: the tool call with its arguments" "tools/call echo \{\"message\":" "$show"
check_match "show: the response that came back" "Echo: " "$show"
check_match "show: the close record" "close " "$show"
bsid=$("$R" --dir "$J" list --user bob --decision deny --json | jq -r '.[0].session')
check_match "show: bob's denial names the rule and reason" "deny by 'bob' .*rule 'default', not allowed for this caller" \
	"$("$R" --dir "$J" show "$bsid")"

# one MCP session over several connections: listed together, shown merged
ms=$(jq -r --arg s "$sid" '.[] | select(.session == $s) | .mcp_session' <<<"$list")
nflows=$(jq --arg m "$ms" '[.[] | select(.mcp_session == $m)] | length' <<<"$list")
check_cmd "alice's MCP session spans several flows ($nflows)" test "$nflows" -ge 2
check_match "list (text) groups the flows under their MCP session" "MCP session $ms" "$("$R" --dir "$J" list)"
check_eq "list --mcp-session lists exactly its flows" "$nflows" \
	"$("$R" --dir "$J" list --mcp-session "$ms" --json | jq --arg m "$ms" '[.[] | select(.mcp_session == $m)] | length')"
check_eq "list --mcp-session of another session finds nothing of alice's" 0 \
	"$("$R" --dir "$J" list --mcp-session no-such-session --json | jq length)"
mshow=$("$R" --dir "$J" show "$ms")
check_match "show MCP-SESSION: all its flows" "MCP session $ms: $nflows flows" "$mshow"
check_eq "show MCP-SESSION: records of every flow, each line naming its flow" "$nflows" \
	"$(grep -oE 's  f[0-9]+ +#' <<<"$mshow" | awk '{print $2}' | sort -u | wc -l)"
check_eq "show MCP-SESSION: merged in time order" "$(grep -oE '^[0-9T:.-]+Z' <<<"$mshow")" \
	"$(grep -oE '^[0-9T:.-]+Z' <<<"$mshow" | sort)"
check_match "show: structured responses carry the HTTP status and what they answer" \
	"response +to client HTTP 200, answering tools/call echo" "$mshow"
check_match "show: a request the checkpoint passed without a payload (the SDK's GET stream or DELETE) is recorded raw" \
	"(GET|DELETE) /mcp" "$mshow"
check_match "show: the denial is the agent's own reply" "answering tools/call echo \(the agent's own reply\)" \
	"$("$R" --dir "$J" show "$("$R" --dir "$J" list --user bob --decision deny --json | jq -r '.[0].session')")"

# a flow the checkpoint does not read (not HTTP) is recorded raw, as relayed
run_in "$T_CG/gw" timeout 3 bash -c 'exec 3<>/dev/tcp/127.0.0.1/3011; printf "%s\r\n" "RAW-PROBE-0123456789-not-http-at-all" >&3; cat <&3 >/dev/null' 2>/dev/null
sleep 0.3
rsid=$("$R" --dir "$J" export --format jsonl | jq -r 'select(.type == "close" and .meta.proto == "other") | .session' | tail -1)
check_match "a non-HTTP flow: its bytes recorded raw, shown as relayed" \
	"request +to upstream, 38 bytes as relayed.*RAW-PROBE-0123456789-not-http-at-all" \
	"$("$R" --dir "$J" show "${rsid:-none}" | tr '\n' ' ')"

# what the journal holds is what the client got back: the echoed messages hash the same
"$R" --dir "$J" export --format jsonl >"$T_DIR/export.jsonl"
check_eq "export: one JSON object a line" 0 "$(jq -e . "$T_DIR/export.jsonl" >/dev/null; echo $?)"
# (the SDK spreads one MCP session over several connections: all responses of this run)
first=$(basename "$(ls "$J"/*.mwj | head -1)")
got=$(jq -r --arg f "$first" 'select(.file == $f and .type == "response") | .payload' "$T_DIR/export.jsonl" |
	grep -oE '"text":"Echo: [^"]*"' | sed -E 's/^"text":"Echo: //; s/"$//' | tr -d '\n' | sha256sum | cut -d' ' -f1)
check_eq "the echoed messages in the journal hash to what the client received" "$back" "$got"
check_eq "tokens never reach the journal" 0 "$(grep -cF "$ALICE" "$T_DIR/export.jsonl")"
# every payload once: structured or raw, never both
check_eq "each allowed tool call is recorded once (no payload both raw and structured)" \
	"$(jq -r 'select(.type == "decision" and .meta.method == "tools/call" and .meta.decision == "allow") | .session' "$T_DIR/export.jsonl" | wc -l)" \
	"$(jq -r 'select(.type == "request" and (.payload // "" | contains("\"method\":\"tools/call\""))) | .session' "$T_DIR/export.jsonl" | wc -l)"
check_eq "payload records of inspected flows carry method, status and session" 0 \
	"$(jq -r 'select(.type == "response" and (.raw | not) and (.meta.status == null or .meta.method == null))' "$T_DIR/export.jsonl" | wc -l)"

check_match "decisions carry the token's hash" '"token_sha256":"[0-9a-f]{64}"' "$(cat "$T_DIR/export.jsonl")"
check_eq "export --user alice holds only alice's sessions" 0 \
	"$("$R" --dir "$J" export --format jsonl --user alice | jq -r .session | sort -u | grep -vEc "$(
		"$R" --dir "$J" list --user alice --json | jq -r '.[].session' | paste -sd'|')")"
check_match "search finds the tool call" "$sid" "$("$R" --dir "$J" search '"name":"echo"')"
check_eq "search for what is not there exits 1" 1 "$("$R" --dir "$J" search no-such-text-xyz >/dev/null; echo $?)"
check_match "play replays the session (fast)" "Echo: " "$("$R" --dir "$J" play "$sid" --speed 1000)"
check_match "show --json is JSON records" '"type": "open"' "$("$R" --dir "$J" show "$sid" --json)"
check_cmd "verify with the auditor's key passes" "$R" --dir "$J" verify --key "$T_DIR/auditor.key"
check_match "and checked seals against the key" '"seals_verified": [1-9]' \
	"$("$R" --dir "$J" verify --key "$T_DIR/auditor.key" --json)"
check_eq "the agent's key has evolved (epoch > 0): the initial key is gone from the host" 1 \
	"$(cmp -s "$T_DIR/auditor.key" "$J/seal.key"; echo $?)"
check_eq "files are 0640" 640 "$(stat -c %a "$(ls "$J"/*.mwj | head -1)")"
check_cmd "--help documents every command" bash -c "'$R' --help | grep -q keygen && '$R' verify --help | grep -q -- --key"
check_eq "an unknown command is a usage error (2)" 2 "$("$R" frobnicate >/dev/null 2>&1; echo $?)"
check_eq "show of an unknown session exits 1" 1 "$("$R" --dir "$J" show 0123456789abcdef >/dev/null 2>&1; echo $?)"
printf 'hello, not a journal' >"$T_DIR/foreign.mwj"
check_match "a foreign file: a precise error, exit 1" "foreign.mwj offset 0: not an mcpwarden journal" \
	"$("$R" verify "$T_DIR/foreign.mwj"; echo "rc=$?")"

# a reload: rotation and retention apply, mode and dir wait for a restart (and say so)
cp "$cfg" "$T_DIR/orig.json"
sed -i 's/"journal": {"mode": "strict", "seal_interval": "1s"}/"journal": {"mode": "best-effort", "seal_interval": "1s", "retention": "30d", "max_file_size": "1MiB"}/' "$cfg"
kill -HUP "$AGENT_PID"
for _ in $(seq 20); do grep -q "applied from the new configuration" "$T_DIR/agent.log" && break; sleep 0.2; done
check_match "reload: a journal setting needing a restart is named" "'journal.mode' changed: it takes effect after a restart" \
	"$(cat "$T_DIR/agent.log")"
check_match "reload: rotation and retention are applied" "rotation .*retention .* applied from the new configuration" \
	"$(cat "$T_DIR/agent.log")"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3011/mcp --echo-bytes 20 --token "$ALICE")
check_eq "reload: the journal goes on (strict still)" true "$(jq -r .match <<<"$out")"
cp "$T_DIR/orig.json" "$cfg"

# approval events (written by the approvals module) in show, list and export
GEN="$T_DIR/gen"
gen=$("$BUILD/tests/journalgen" "$GEN")
gsid=$(head -1 <<<"$gen")
gshow=$("$R" --dir "$GEN/journal" show "$gsid")
check_match "show: a call held for review names its approval" "review by 'alice' .*approval 7KQ2M9XA" "$gshow"
check_match "show: the approval asked for, by whom, under which rule" "approval +approval 7KQ2M9XA new on tools/call query asked by 'alice', rule 'destructive SQL needs a DBA'" "$gshow"
check_match "show: the approval's decision and why" "approval 7KQ2M9XA approved on tools/call query .*: approved by carol for 1h: ticket OPS-12" "$gshow"
check_eq "export: both approval events" 2 "$("$R" --dir "$GEN/journal" export --format jsonl | jq -r 'select(.type == "approval") | .meta.event' | wc -l)"
check_eq "list --json: the session's approvals" '["7KQ2M9XA:new","7KQ2M9XA:approved"]' \
	"$("$R" --dir "$GEN/journal" list --json | jq -c '.[0].approvals')"
# a raw HTTP flow whose messages are cut across records: read as one HTTP stream each way
rshow=$("$R" --dir "$GEN/journal" show "$(tail -1 <<<"$gen")")
check_match "raw HTTP: a request body cut across records is shown whole" "tools/call lookup \{\"who\":\"bob\"\}" "$rshow"
check_match "raw HTTP: a chunked event stream cut mid-chunk is shown as its event" "result \(id 5\): \{\"found\":\"bob@example\"\}" "$rshow"
check_match "raw HTTP: the response's status and type" "HTTP 200 OK.*Content-Type: text/event-stream" "$(tr '\n' ' ' <<<"$rshow")"

# a restart begins a new segment chained to the last one
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
start_agent "$cfg" || { not_ok "agent restarts"; exit 1; }
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3011/mcp --echo-bytes 50 --token "$ALICE")
check_eq "a session after a restart" true "$(jq -r .match <<<"$out")"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check_eq "two segments" 2 "$(ls "$J"/*.mwj | wc -l)"
check_cmd "after a clean stop the journal (two segments) verifies" "$R" --dir "$J" verify --key "$T_DIR/auditor.key"
check_cmd "verify PATH... checks the named files in order" "$R" verify --key "$T_DIR/auditor.key" $(ls "$J"/*.mwj)

# ---- tampering: each caught and located ---------------------------------------------------
seg=$(ls "$J"/*.mwj | tail -1)
TOOL="$BUILD/tests/journaltamper"
tamper() { # name, then journaltamper args; verify must fail and print the location
	local name=$1; shift
	rm -rf "$T_DIR/t" && cp -a "$J" "$T_DIR/t" && rm -f "$T_DIR/t/HEAD" # re-framing changes sizes
	local f="$T_DIR/t/$(basename "$seg")"
	if ! "$TOOL" "$@" "$f" >"$T_DIR/tamper.out" 2>&1; then not_ok "$name: tamper" "$(cat "$T_DIR/tamper.out")"; return; fi
	local out rc
	out=$("$R" --dir "$T_DIR/t" verify --key "$T_DIR/auditor.key" 2>&1); rc=$?
	if [ $rc -eq 1 ] && grep -qE "^FAIL $(basename "$seg") offset [0-9]+ record jseq [0-9]+ \(session [0-9a-f]+ seq" <<<"$out"; then
		ok "$name: caught and located ($(grep -m1 ^FAIL <<<"$out" | cut -c1-150))"
	else
		not_ok "$name: caught and located" "rc=$rc" "$out"
	fi
}
tamper "a flipped payload byte (frame re-compressed, checksum fixed)" flip 5
tamper "a record dropped" drop 5
tamper "two records swapped" swap 4 5
tamper "a record inserted (a copy of another)" dup 3
tamper "a record spliced from another file" splice "$(ls "$J"/*.mwj | head -1)" 2
tamper "an old seal (from the first segment) replayed over the newest one" oldseal "$(ls "$J"/*.mwj | head -1)"
tamper "the chain rewritten after a change (a forger without the key)" rechain 5
# truncation behind the durable point: whole frames cut off the end
rm -rf "$T_DIR/t" && cp -a "$J" "$T_DIR/t"
f="$T_DIR/t/$(basename "$seg")"
"$TOOL" lastframe "$f" >/dev/null
out=$("$R" --dir "$T_DIR/t" verify 2>&1)
check_match "truncation behind the durable point is caught" "truncated behind the durable point" "$out"
# a byte cut inside the last frame: a torn tail, located
rm -rf "$T_DIR/t" && cp -a "$J" "$T_DIR/t"
truncate -s -7 "$T_DIR/t/$(basename "$seg")"
check_match "a torn tail is reported with its offset" "FAIL $(basename "$seg") offset [0-9]+: frame cut short" \
	"$("$R" --dir "$T_DIR/t" verify 2>&1)"
# a removed middle segment (when there are several) or a seal with the wrong key
"$R" keygen --out "$T_DIR/other.key" >/dev/null
check_match "seals checked with another key fail, naming the seal" "FAIL .*seal does not verify" \
	"$("$R" --dir "$J" verify --key "$T_DIR/other.key" 2>&1)"
