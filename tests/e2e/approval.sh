#!/usr/bin/env bash
# Just-in-time approvals end to end: PostgreSQL 15 behind @bytebase/dbhub, called by the SDK
# client from an enrolled gateway cgroup with tokens from the real npm oidc-provider.  The
# policy sends destructive SQL to review; the call is held in the checkpoint (dbhub never
# sees it) until approvers, unix users of a group made by this test, decide from a second
# process with `mcpwarden approve|deny`.  Covered: the result arriving in the same stream,
# -32011 with the reason, -32012 past the hold limit and at expiry (and the retry that
# passes once approved), self-approval refused, two approvers, grants (time-boxed, listed,
# revoked, surviving a restart), held calls answered when the agent stops, 100 calls held
# at once from several clients decided in random order, and a webhook receiving every event.
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
cd "$T_DIR" || exit 1 # postgres' tools run as user postgres: a cwd it may enter
[ -f "$PEERS/node_modules/@bytebase/dbhub/package.json" ] || skip_all "npm peers not installed (tests/e2e/peers/install.sh)"
need_postgres

PGPORT=15442
DBHUB=18811
IDP=18712
HOOK=18913
TOOL=execute_sql

# --- unix users and groups for the approvers, removed at the end
SFX=$$
GDBA=mwdba$SFX     # the rule's approver group
GCTL=mwctl$SFX     # the control socket's group
A1=mwa1u$SFX A2=mwa2u$SFX OUT=mwxu$SFX REQ=mwrq$SFX
USERS_MADE=()
GROUPS_MADE=()
mk_users() {
	groupadd "$GDBA" && GROUPS_MADE+=("$GDBA") || return 1
	groupadd "$GCTL" && GROUPS_MADE+=("$GCTL") || return 1
	useradd -M -N -s /usr/sbin/nologin -G "$GDBA,$GCTL" "$A1" && USERS_MADE+=("$A1") || return 1
	useradd -M -N -s /usr/sbin/nologin -G "$GDBA,$GCTL" "$A2" && USERS_MADE+=("$A2") || return 1
	useradd -M -N -s /usr/sbin/nologin -G "$GCTL" "$OUT" && USERS_MADE+=("$OUT") || return 1
	useradd -M -N -s /usr/sbin/nologin -G "$GDBA,$GCTL" "$REQ" && USERS_MADE+=("$REQ") || return 1
}
rm_users() {
	local u g
	for u in "${USERS_MADE[@]}"; do userdel "$u" 2>/dev/null; done
	for g in "${GROUPS_MADE[@]}"; do groupdel "$g" 2>/dev/null; done
}
t_on_end rm_users

mk_users && ok "approvers: users $A1, $A2 in groups $GDBA and $GCTL; $OUT in $GCTL only; $REQ requests" ||
	{ not_ok "useradd/groupadd"; exit 1; }

start_postgres "$PGPORT" -c max_connections=200 || exit 1
pg_shop_db "
	CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL);
	INSERT INTO orders SELECT g, 'c' || g FROM generate_series(1, 20) g;
	CREATE TABLE bulk (id int PRIMARY KEY);
	INSERT INTO bulk SELECT g FROM generate_series(1, 100) g;"
check_eq "PostgreSQL up with 20 orders and 100 bulk rows" "20 100" "$(pgq 'SELECT count(*) FROM orders') $(pgq 'SELECT count(*) FROM bulk')"
has() { [ "$(pgq "SELECT count(*) FROM orders WHERE id = $1")" = 1 ] && echo present || echo gone; }

start_dbhub "$DBHUB" || exit 1

start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
BOB=$(idp_token bob "$IDP")
CAROL=$(idp_token carol "$IDP")
[ -n "$ALICE" ] && [ -n "$BOB" ] && [ -n "$CAROL" ] && ok "tokens for alice (finance), bob (eng), carol (dba)" ||
	{ not_ok "tokens"; exit 1; }

# --- the webhook receiver: every POST body, one line each
cat >"$T_DIR/hook.py" <<'PY'
import sys, http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with open(sys.argv[2], 'ab') as f:
            f.write(body.replace(b'\n', b' ') + b'\n')
        self.send_response(200); self.end_headers(); self.wfile.write(b'ok')
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
PY
: >"$T_DIR/hook.jsonl"
spawn_in "$T_CG/other" "$T_DIR/hook.log" python3 "$T_DIR/hook.py" "$HOOK" "$T_DIR/hook.jsonl"
wait_port "$HOOK" || not_ok "webhook receiver listens"

BAD='["write", "destructive", "ddl", "privilege", "unparseable", "multi_statement"]'
config() { # config TIMEOUT HOLD
	gw_agent_config "$DBHUB" "$IDP" '"control": {"group": "'"$GCTL"'"},
  "approvals": {"timeout": "'"$1"'", "hold": "'"$2"'", "keepalive": "1s", "webhook": "http://127.0.0.1:'"$HOOK"'/hook"},
  "policy": {"rules": [
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "eng writes need two DBAs",
     "match": {"groups": ["eng"], "method": "tools/call", "tool": "'"$TOOL"'", "args": {"/sql": {"sql_class": '"$BAD"'}}},
     "action": "review", "approvers": {"groups": ["'"$GDBA"'"], "count": 2}},
    {"name": "writes need a DBA",
     "match": {"method": "tools/call", "tool": "'"$TOOL"'", "args": {"/sql": {"sql_class": '"$BAD"'}}},
     "action": "review", "approvers": {"groups": ["'"$GDBA"'"], "oidc_groups": ["dba"]}},
    {"name": "anyone may query", "match": {"method": "tools/call", "tool": "'"$TOOL"'"}, "action": "allow"},
    {"name": "default", "action": "deny"}]}'
}
cfg=$(config 2m 90s)
start_agent "$cfg" || { not_ok "agent starts with approvals configured"; exit 1; }
ok "agent starts with approvals configured (timeout 2m, hold 90s, keepalive 1s, webhook)"

URL="http://127.0.0.1:$DBHUB/mcp"
as_user() { local u=$1; shift; runuser -u "$u" -- "$@"; }
mwu() { local u=$1; shift; as_user "$u" "$BUILD/mcpwarden" --socket "$(MW_SOCK)" "$@"; }
# call NAME TOKEN SQL [client options]: in the background; output in $T_DIR/NAME.out
call() {
	local name=$1 tok=$2 q=$3
	shift 3
	spawn_in "$T_CG/gw" "$T_DIR/$name.err" node "$PEERS/approvalclient.mjs" "$URL" "$q" --token "$tok" "$@"
	CALL_PID=$SPAWNED
	# the result line goes to .err too (spawn_in merges); .out is extracted by result()
}
result() { # result NAME: wait for the client, print its JSON line
	local name=$1 pid=$2
	for _ in $(seq 1500); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	grep -E '^\{' "$T_DIR/$name.err" | tail -n 1
}
pending_id() { # pending_id SQL: the id of the pending approval holding SQL ("" when none), 10 s
	local q=$1 id
	for _ in $(seq 100); do
		id=$(mw pending --json | jq -r --arg q "$q" '.approvals[] | select((.arguments | fromjson | .sql) == $q) | .id' | head -n 1)
		[ -n "$id" ] && { echo "$id"; return 0; }
		sleep 0.1
	done
	return 1
}

# === 1. held, listed, approved by a DBA from another process: the result in the same stream
Q1="DELETE FROM orders WHERE id = 2"
call c1 "$ALICE" "$Q1" --justification "INC-4711: duplicate order"
ID1=$(pending_id "$Q1")
check_match "alice's DELETE is held: mcpwarden pending shows it with an id of 8 Crockford characters" '^[0-9A-HJKMNP-TV-Z]{8}$' "$ID1"
p=$(mw pending --json)
check_eq "  ... with requester, tool, target, rule, justification and approvers" \
	"alice|finance|$TOOL|127.0.0.1:$DBHUB|writes need a DBA|INC-4711: duplicate order|$GDBA|dba" \
	"$(jq -r --arg id "$ID1" '.approvals[] | select(.id == $id) | [.sub, .groups, .tool, .target, .rule, .justification, (.approvers.groups | join(",")), (.approvers.oidc_groups | join(","))] | join("|")' <<<"$p")"
check_match "  ... the human listing too" "$ID1 +pending.*requester +alice.*justification +INC-4711" "$(mw pending | tr '\n' ' ')"
sleep 1
check_eq "  ... dbhub has not seen it and order 2 is still there" "0 present" "$(dbhub_sql | grep -cxF "$Q1") $(has 2)"
kill -0 "$CALL_PID" 2>/dev/null && ok "  ... and the client is still waiting for its answer" || not_ok "  ... and the client is still waiting"

out=$(mwu "$OUT" approve "$ID1" 2>&1)
check_match "$OUT (control group, not an approver) cannot approve" "not an approver of rule 'writes need a DBA'" "$out"
out=$(as_user "$A1" "$BUILD/mcpwarden" --socket "$(MW_SOCK)" status 2>&1; true)
t0=$(date +%s%3N)
out=$(mwu "$A1" approve "$ID1" --reason "checked with finance" 2>&1)
check_match "$A1 (in $GDBA) approves from a second process" "$ID1 +approved" "$out"
r1=$(result c1 "$CALL_PID")
t1=$(date +%s%3N)
check_eq "  ... the held call completes in the same stream with dbhub's result" "true false" "$(jq -r '"\(.ok) \(.isError)"' <<<"$r1")"
t_note "approval to result: $((t1 - t0)) ms (client's call took $(jq -r .ms <<<"$r1") ms in all)"
check_eq "  ... and order 2 is gone (psql)" gone "$(has 2)"
check_eq "  ... and nothing is pending any more" 0 "$(mw pending --json | jq '.approvals | length')"
out=$(mwu "$A2" approve "$ID1" 2>&1)
check_match "approving it again is refused: already approved" "already approved" "$out"

# === 1b. progress: a client with a progressToken hears the approval id at once, then the result
Q1B="DELETE FROM orders WHERE id = 4"
call c1b "$ALICE" "$Q1B" --progress
C1B=$CALL_PID
ID1B=$(pending_id "$Q1B")
line=""
for _ in $(seq 100); do
	line=$(grep -m1 '^progress ' "$T_DIR/c1b.err") && break
	sleep 0.1
done
check_match "a held call with a progressToken: the SDK client gets notifications/progress at once" \
	"^progress .*\"progress\":0.*\"message\":\"waiting for approval $ID1B \(needs groups $GDBA; OIDC groups dba\)\"" "$line"
sleep 1.5
t_appr=$(date +%s%3N)
mwu "$A1" approve "$ID1B" >/dev/null
r1b=$(result c1b "$C1B")
check_eq "  ... approved: the result arrives in the same call, and order 4 is gone" "true false gone" \
	"$(jq -r '"\(.ok) \(.isError)"' <<<"$r1b") $(has 4)"
check_eq "  ... one progress notification, before the approval; the result after it" "1 true true" \
	"$(jq -r --argjson t "$t_appr" '"\(.progress | length) \(.progress[0].at < $t) \(.at >= $t)"' <<<"$r1b")"
# on the wire: the started stream, keep-alive comments, and the answer as an event in it
Q1C="DELETE FROM orders WHERE id = 13"
body='{"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"'"$TOOL"'","arguments":{"sql":"'"$Q1C"'"},"_meta":{"progressToken":"p-77"}}}'
spawn_in "$T_CG/gw" "$T_DIR/c1c.raw" curl -sS -N --raw --max-time 30 -H "Authorization: Bearer $ALICE" \
	-H 'Accept: application/json, text/event-stream' -H 'Content-Type: application/json' \
	-H 'Mcp-Session-Id: raw-1' -d "$body" "$URL" -D "$T_DIR/c1c.head"
C1C=$SPAWNED
ID1C=$(pending_id "$Q1C")
for _ in $(seq 100); do # two keep-alive comments (one a second), however loaded the machine
	[ "$(grep -c ": waiting for approval $ID1C" "$T_DIR/c1c.raw" 2>/dev/null)" -ge 2 ] && break
	sleep 0.1
done
mwu "$A2" deny "$ID1C" --reason "not this one" >/dev/null
for _ in $(seq 100); do kill -0 "$C1C" 2>/dev/null || break; sleep 0.1; done
check_match "curl: the reply starts at once as a chunked SSE stream echoing the session id" \
	"^HTTP/1.1 200 OK.*Content-Type: text/event-stream.*Transfer-Encoding: chunked.*Mcp-Session-Id: raw-1" "$(tr -d '\r' <"$T_DIR/c1c.head" | tr '\n' ' ')"
raw=$(tr -d '\r' <"$T_DIR/c1c.raw" | tr '\n' ' ')
check_match "  ... progress event, keep-alive comments every second, then the -32011 event and the last chunk" \
	"data: \{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":\{\"progressToken\":\"p-77\",\"progress\":0,.*$ID1C.*: waiting for approval $ID1C .*: waiting for approval $ID1C .*data: \{\"jsonrpc\":\"2.0\",\"id\":77,\"error\":\{\"code\":-32011.*not this one.* 0 *$" "$raw"

# === 2. denied: -32011 with the approver's reason; nothing reaches the database
Q2="DELETE FROM orders WHERE id = 3"
call c2 "$ALICE" "$Q2"
ID2=$(pending_id "$Q2")
out=$(mwu "$A2" deny "$ID2" 2>&1)
check_match "deny without --reason is a usage error" "reason TEXT is required" "$out"
mwu "$A2" deny "$ID2" --reason "not during the quarter close" >/dev/null
r2=$(result c2 "$CALL_PID")
check_eq "denied: the client gets -32011" "-32011" "$(jq -r .code <<<"$r2")"
check_match "  ... with the approver's reason, the rule and the approval id" \
	"not during the quarter close.*" "$(jq -r '.data.reason' <<<"$r2")"
check_eq "  ... data names the rule and the approval id" "writes need a DBA $ID2" "$(jq -r '"\(.data.rule) \(.data.approval_id)"' <<<"$r2")"
check_eq "  ... order 3 is still there and dbhub never saw the text" "present 0" "$(has 3) $(dbhub_sql | grep -cxF "$Q2")"

# === 3. nobody approves their own request: the requester's unix uid, or OIDC subject
Q3="DELETE FROM orders WHERE id = 5"
spawn_in "$T_CG/gw" "$T_DIR/c3.err" runuser -u "$REQ" -- node "$PEERS/approvalclient.mjs" "$URL" "$Q3" --token "$ALICE"
C3=$SPAWNED
ID3=$(pending_id "$Q3")
check_eq "a call made by $REQ's process is held (workload uid $(id -u "$REQ"))" "$(id -u "$REQ")" \
	"$(mw pending --json | jq -r --arg id "$ID3" '.approvals[] | select(.id == $id) | .uid')"
out=$(mwu "$REQ" approve "$ID3" 2>&1)
check_match "$REQ (in $GDBA) cannot approve the call its own process made" "nobody approves their own request \(same unix uid" "$out"
Q4="DELETE FROM orders WHERE id = 6"
call c4 "$CAROL" "$Q4"
C4=$CALL_PID
ID4=$(pending_id "$Q4")
out=$(mwu "$A1" approve "$ID4" --token "$CAROL" 2>&1)
check_match "carol (OIDC group dba) cannot approve her own call with her token (from $A1's shell)" "nobody approves their own request \(same OIDC subject" "$out"
out=$(mw approve "$ID4" --token "$ALICE" 2>&1)
check_match "alice's token (finance) does not make root an approver" "not an approver" "$out"
check_eq "  ... both are still pending" "pending pending" "$(mw pending --json | jq -r --arg a "$ID3" --arg b "$ID4" '[.approvals[] | select(.id == $a or .id == $b) | .state] | join(" ")')"
mwu "$A1" approve "$ID3" >/dev/null
mwu "$A1" deny "$ID4" --reason "self-service is not allowed" >/dev/null
r3=$(result c3 "$C3")
r4=$(result c4 "$C4")
check_eq "  ... another approver decides them: $REQ's call passes, carol's is denied" "true -32011" \
	"$(jq -r .ok <<<"$r3") $(jq -r .code <<<"$r4")"

# === 4. two approvers: bob (eng) needs two distinct DBAs
Q5="DELETE FROM orders WHERE id = 7"
call c5 "$BOB" "$Q5"
ID5=$(pending_id "$Q5")
check_eq "bob's DELETE is held by the two-approver rule" "eng writes need two DBAs 2" \
	"$(mw pending --json | jq -r --arg id "$ID5" '.approvals[] | select(.id == $id) | "\(.rule) \(.approvers_needed)"')"
out=$(mwu "$A1" approve "$ID5" 2>&1)
check_match "  ... one approval is recorded, a second is needed" "a second, different approver is still needed" "$out"
out=$(mwu "$A1" approve "$ID5" 2>&1)
check_match "  ... the same approver twice does not count" "already approved" "$out"
sleep 0.5
check_eq "  ... still held after one approval (order 7 present)" "present pending" \
	"$(has 7) $(mw pending --json | jq -r --arg id "$ID5" '.approvals[] | select(.id == $id) | .state')"
mwu "$A2" approve "$ID5" >/dev/null
r5=$(result c5 "$CALL_PID")
check_eq "  ... the second, different approver lets it through" "true gone" "$(jq -r .ok <<<"$r5") $(has 7)"

# === 5. a hundred held calls at once from several clients, decided in random order
t0=$(date +%s%3N)
MP=()
for c in 0 1 2 3; do
	first=$((c * 25 + 1)) last=$((c * 25 + 25))
	tok=$ALICE
	spawn_in "$T_CG/gw" "$T_DIR/m$c.err" node "$PEERS/approvalmulti.mjs" "$URL" \
		"DELETE FROM bulk WHERE id = {k} RETURNING id" "$first" "$last" --token "$tok"
	MP+=("$SPAWNED")
done
n=0
for _ in $(seq 300); do
	n=$(mw pending --json | jq '.approvals | length')
	[ "$n" -ge 100 ] && break
	sleep 0.2
done
check_eq "100 calls from 4 clients held at once" 100 "$n"
t_note "100 calls held in $(($(date +%s%3N) - t0)) ms"
mw pending --json | jq -r '.approvals[] | "\(.id) \(.arguments | fromjson | .sql | capture("id = (?<k>[0-9]+)").k)"' >"$T_DIR/bulk.ids"
t0=$(date +%s%3N)
shuf "$T_DIR/bulk.ids" | while read -r id k; do
	if [ $((k % 2)) = 0 ]; then mwu "$A1" approve "$id" >/dev/null; else mwu "$A2" deny "$id" --reason "no $k" >/dev/null; fi
done
t_note "100 decisions (random order, one CLI process each) in $(($(date +%s%3N) - t0)) ms"
for c in 0 1 2 3; do
	for _ in $(seq 600); do kill -0 "${MP[$c]}" 2>/dev/null || break; sleep 0.1; done
done
all=$(cat "$T_DIR"/m[0-3].err | grep -E '^\{' | jq -c '.results[]')
check_eq "every client got all its 25 answers" 100 "$(grep -c . <<<"$all")"
right=$(jq -r '.k as $k | if ($k % 2 == 0) then (if .ok and ((.text | fromjson | .data.rows[0].id) == $k) then "ok" else "bad \(.)" end)
	else (if .code == -32011 and .reason == "no \($k)" then "ok" else "bad \(.)" end) end' <<<"$all" | sort | uniq -c | sed 's/^ *//')
check_eq "  ... each its own: the even ones deleted their own row, the odd ones denied with their own reason" "100 ok" "$right"
check_eq "  ... the database agrees: the 50 odd rows are left" "50 0" \
	"$(pgq 'SELECT count(*) FROM bulk') $(pgq 'SELECT count(*) FROM bulk WHERE id % 2 = 0')"

# === 6. grants: --for lets the same call through without a hold, listed, revocable
Q6="DELETE FROM orders WHERE id = 8"
call c6 "$ALICE" "$Q6"
ID6=$(pending_id "$Q6")
mwu "$A1" approve "$ID6" --for 40s --reason "cleanup window" >/dev/null
GRANT_T0=$(date +%s)
r6=$(result c6 "$CALL_PID")
check_eq "approve --for 40s: the call passes" true "$(jq -r .ok <<<"$r6")"
g=$(mw grants --json)
check_eq "mcpwarden grants lists it: alice, the tool, the target, bound to the arguments" \
	"$ID6 sub:alice $TOOL 127.0.0.1:$DBHUB true" \
	"$(jq -r '.grants[0] | "\(.id) \(.identity) \(.tool) \(.target) \(.fingerprint != null)"' <<<"$g")"
check_eq "  ... persisted in state_dir/grants, mode 0600" "600 $ID6" \
	"$(stat -c %a "$T_DIR/state/grants") $(jq -r '.grants[0].id' "$T_DIR/state/grants")"
call c7 "$ALICE" "$Q6"
r7=$(result c7 "$CALL_PID")
check_eq "  ... the next identical call passes without a hold" "true 0" \
	"$(jq -r .ok <<<"$r7") $(mw pending --json | jq '.approvals | length')"
Q7="DELETE FROM orders WHERE id = 9"
call c8 "$ALICE" "$Q7"
ID8=$(pending_id "$Q7")
check_match "  ... other arguments are not covered: held" '^[0-9A-Z]{8}$' "$ID8"
mwu "$A1" approve "$ID8" --for 1h --any-args >/dev/null
result c8 "$CALL_PID" >/dev/null
check_eq "a second grant, for any arguments, listed" 2 "$(mw grants --json | jq '.grants | length')"
call c9 "$ALICE" "DELETE FROM orders WHERE id = 10"
r9=$(result c9 "$CALL_PID")
check_eq "  ... lets other arguments through" "true gone" "$(jq -r .ok <<<"$r9") $(has 10)"
out=$(mwu "$OUT" revoke "$ID8" 2>&1)
check_match "revoke ends it" "revoked" "$out"
call c10 "$ALICE" "DELETE FROM orders WHERE id = 11"
ID10=$(pending_id "DELETE FROM orders WHERE id = 11")
check_match "  ... the next call is held again" '^[0-9A-Z]{8}$' "$ID10"
mwu "$A1" deny "$ID10" --reason "revoked" >/dev/null
result c10 "$CALL_PID" >/dev/null

# === 7. a restart: a held call is answered -32012, the grant survives
Q8="DELETE FROM orders WHERE id = 12"
call c11 "$ALICE" "$Q8"
ID11=$(pending_id "$Q8")
kill -TERM "$AGENT_PID"
r11=$(result c11 "$CALL_PID")
check_eq "the agent stops: the held call is answered -32012 with its approval id" "-32012 $ID11" \
	"$(jq -r '"\(.code) \(.data.approval_id)"' <<<"$r11")"
check_match "  ... saying it was not decided before the agent stopped" "not decided before the agent stopped" "$(jq -r .data.reason <<<"$r11")"
for _ in $(seq 100); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
# after the restart: held calls wait HOLD7 s, approvals expire after TIMEOUT7 s.  TIMEOUT7
# leaves a loaded host time to approve a call between its -32012 and its expiry.
TIMEOUT7=15
HOLD7=3
cfg=$(config "${TIMEOUT7}s" "${HOLD7}s")
start_agent "$cfg" || { not_ok "agent restarts"; exit 1; }
check_eq "after the restart: nothing pending, the 40 s grant is back" "0 $ID6" \
	"$(mw pending --json | jq '.approvals | length') $(mw grants --json | jq -r '.grants[].id' | tr '\n' ' ' | sed 's/ $//')"
call c12 "$ALICE" "$Q6"
r12=$(result c12 "$CALL_PID")
check_eq "  ... and lets the identical call through without a hold" true "$(jq -r .ok <<<"$r12")"
left=$((GRANT_T0 + 41 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
check_eq "the grant expires on time (40 s): no longer listed" 0 "$(mw grants --json | jq '.grants | length')"
# the file is rewritten at the agent's next tick (250 ms): wait for it (10 s)
for _ in $(seq 100); do [ "$(jq '.grants | length' "$T_DIR/state/grants")" = 0 ] && break; sleep 0.1; done
check_eq "  ... and gone from the file" 0 "$(jq '.grants | length' "$T_DIR/state/grants")"
call c13 "$ALICE" "$Q6" --timeout-ms 30000
r13=$(result c13 "$CALL_PID")
check_eq "  ... the identical call is held again: past the hold limit ($HOLD7 s) it gets -32012" "-32012" "$(jq -r .code <<<"$r13")"
ID13=$(jq -r .data.approval_id <<<"$r13")
check_match "  ... with the approval id and who must approve" "$ID13 is still pending \(needs groups $GDBA; OIDC groups dba\); retry" "$(jq -r .data.reason <<<"$r13")"
mwu "$A1" approve "$ID13" >/dev/null
call c14 "$ALICE" "$Q6"
r14=$(result c14 "$CALL_PID")
check_eq "  ... approved later, the retry of the same call passes at once" "true" "$(jq -r .ok <<<"$r14")"
check_match "  ... (in $(jq -r .ms <<<"$r14") ms, without a hold)" "^[0-9]+$" "$(jq -r .ms <<<"$r14")"
call c15 "$ALICE" "$Q6"
ID15=$(pending_id "$Q6")
check_match "  ... once: a third identical call is held again" '^[0-9A-Z]{8}$' "$ID15"
result c15 "$CALL_PID" >/dev/null
# approval_state ID: "STATE after N s" (N: its lifetime, expires - created) from
# `mcpwarden pending --all` ("" when not listed)
approval_state() {
	mw pending --all --json | jq -r --arg id "$1" '.approvals[] | select(.id == $id) |
		"\(.state) after \((.expires | fromdate) - (.created | fromdate)) s"'
}
# wait for the expiry (the agent's tick, 250 ms past TIMEOUT7 s) rather than sleep a fixed
# time: at most twice TIMEOUT7 from now
for _ in $(seq $((TIMEOUT7 * 20))); do [[ "$(approval_state "$ID15")" == pending* ]] || break; sleep 0.1; done
st=$(approval_state "$ID15")
out=$(mwu "$A1" approve "$ID15" 2>&1)
check_match "the approval expires ($TIMEOUT7 s): approving it is refused" \
	"^expired after $TIMEOUT7 s: .*already expired" "$st: $out"
for _ in $(seq 100); do
	jq -r 'select(.event == "expired") | .approval.id' "$T_DIR/hook.jsonl" | grep -q "$ID15" && break
	sleep 0.1
done
check_eq "  ... and the webhook heard the expiry" 1 "$(jq -r 'select(.event == "expired") | .approval.id' "$T_DIR/hook.jsonl" | grep -c "$ID15")"

# === 8. the webhook and the journal heard every event
sleep 1
for ev in new approved denied expired partially_approved; do
	n=$(jq -r 'select(.event == "'"$ev"'") | .text' "$T_DIR/hook.jsonl" | grep -c .)
	[ "$n" -gt 0 ] && ok "webhook: $n '$ev' events with a Slack-compatible text" || not_ok "webhook: '$ev' events" "$(tail -3 "$T_DIR/hook.jsonl")"
done
check_eq "webhook: every one of the 100 bulk approvals was announced and decided" "100 100" \
	"$(jq -r 'select(.event == "new") | .approval.arguments' "$T_DIR/hook.jsonl" | grep -c 'FROM bulk') $(jq -r 'select(.event == "approved" or .event == "denied") | .approval.arguments' "$T_DIR/hook.jsonl" | grep -c 'FROM bulk')"
check_match "webhook: the text says who must approve and how" "Approval $ID1: alice wants to call $TOOL .*needs groups $GDBA; OIDC groups dba.*mcpwarden approve $ID1" "$(cat "$T_DIR/hook.jsonl")"
log=$(cat "$T_DIR/agent.log")
check_match "journal: the approval with its MESSAGE_ID and fields" "MESSAGE_ID=661c3018476f4e178cd00f063526361d.*MCPW_APPROVAL=$ID13" "$log"
if grep -qF -e "$ALICE" -e "$CAROL" "$T_DIR"/agent.log "$T_DIR/hook.jsonl"; then not_ok "tokens never reach the log or the webhook"; else ok "tokens never reach the log or the webhook"; fi

t_kill "$DBHUB_PID"
pg_stop
