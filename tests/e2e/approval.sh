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
cd "$T_DIR" || exit 1
[ -f "$PEERS/node_modules/@bytebase/dbhub/package.json" ] || skip_all "npm peers not installed (tests/e2e/peers/install.sh)"

PGBIN=/usr/lib/postgresql/15/bin
[ -x "$PGBIN/initdb" ] && [ -x "$PGBIN/pg_ctl" ] || skip_all "PostgreSQL 15 server not installed"
id postgres >/dev/null 2>&1 || skip_all "no postgres user"

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

# --- PostgreSQL (as in sql.sh)
PGDATA="$T_DIR/pg"
PGSOCK="$T_DIR/pgsock"
mkdir -p "$PGDATA" "$PGSOCK"
: >"$T_DIR/postgres.log"
chown postgres: "$PGDATA" "$PGSOCK" "$T_DIR/postgres.log"
chmod 700 "$PGDATA"
as_pg() { run_in "$T_CG/other" runuser -u postgres -- "$@"; }
pgq() { as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U postgres -d "${PGDB:-shop}" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
PGSTARTED=""
pg_stop() {
	[ -n "$PGSTARTED" ] || return 0
	as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 20 >>"$T_DIR/postgres.log" 2>&1
	PGSTARTED=""
}
approval_end() {
	local rc=$?
	pg_stop
	rm_users
	(exit "$rc")
	t_end
}
trap approval_end EXIT

mk_users && ok "approvers: users $A1, $A2 in groups $GDBA and $GCTL; $OUT in $GCTL only; $REQ requests" ||
	{ not_ok "useradd/groupadd"; exit 1; }

as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
	--no-locale -E UTF8 --no-sync >"$T_DIR/initdb.log" 2>&1 || { not_ok "initdb" "$(tail -5 "$T_DIR/initdb.log")"; exit 1; }
if as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -w -t 30 -l "$T_DIR/postgres.log" \
	-o "-k $PGSOCK -h 127.0.0.1 -p $PGPORT -c fsync=off -c max_connections=200" >"$T_DIR/pg_ctl.log" 2>&1; then
	PGSTARTED=1
	T_PIDS+=("$(head -n 1 "$PGDATA/postmaster.pid")")
else
	not_ok "PostgreSQL starts" "$(tail -5 "$T_DIR/postgres.log")"
	exit 1
fi
PGDB=postgres pgq "CREATE ROLE shop LOGIN PASSWORD 'shop-secret'" &&
	PGDB=postgres pgq "CREATE DATABASE shop OWNER shop" &&
	as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U shop -d shop -XAtq -v ON_ERROR_STOP=1 -c "
	CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL);
	INSERT INTO orders SELECT g, 'c' || g FROM generate_series(1, 20) g;
	CREATE TABLE bulk (id int PRIMARY KEY);
	INSERT INTO bulk SELECT g FROM generate_series(1, 100) g;" >"$T_DIR/psql.log" 2>&1
check_eq "PostgreSQL up with 20 orders and 100 bulk rows" "20 100" "$(pgq 'SELECT count(*) FROM orders') $(pgq 'SELECT count(*) FROM bulk')"
has() { [ "$(pgq "SELECT count(*) FROM orders WHERE id = $1")" = 1 ] && echo present || echo gone; }

DSN="postgres://shop:shop-secret@127.0.0.1:$PGPORT/shop?sslmode=disable"
spawn_in "$T_CG/other" "$T_DIR/dbhub.log" "$PEERS/dbhub.sh" "$DBHUB" "$DSN"
DBHUB_PID=$SPAWNED
up=""
for _ in $(seq 200); do
	[ "$(run_in "$T_CG/other" curl -s --max-time 1 "http://127.0.0.1:$DBHUB/healthz" 2>/dev/null)" = OK ] && { up=1; break; }
	sleep 0.1
done
[ -n "$up" ] && ok "dbhub serves http://127.0.0.1:$DBHUB/mcp" || { not_ok "dbhub starts" "$(tail -5 "$T_DIR/dbhub.log")"; exit 1; }
dbhub_sql() { run_in "$T_CG/other" curl -s --max-time 5 "http://127.0.0.1:$DBHUB/api/requests" | jq -r '.requests[].sql'; }

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
	agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": ['"$DBHUB"']}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "control": {"group": "'"$GCTL"'"},
  "approvals": {"timeout": "'"$1"'", "hold": "'"$2"'", "webhook": "http://127.0.0.1:'"$HOOK"'/hook"},
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
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
ok "agent starts with approvals configured (timeout 2m, hold 90s, webhook)"

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
cfg=$(config 8s 3s)
start_agent "$cfg" || { not_ok "agent restarts"; exit 1; }
check_eq "after the restart: nothing pending, the 40 s grant is back" "0 $ID6" \
	"$(mw pending --json | jq '.approvals | length') $(mw grants --json | jq -r '.grants[].id' | tr '\n' ' ' | sed 's/ $//')"
call c12 "$ALICE" "$Q6"
r12=$(result c12 "$CALL_PID")
check_eq "  ... and lets the identical call through without a hold" true "$(jq -r .ok <<<"$r12")"
left=$((GRANT_T0 + 41 - $(date +%s)))
[ "$left" -gt 0 ] && sleep "$left"
check_eq "the grant expires on time (40 s): no longer listed" 0 "$(mw grants --json | jq '.grants | length')"
check_eq "  ... and gone from the file" 0 "$(jq '.grants | length' "$T_DIR/state/grants")"
call c13 "$ALICE" "$Q6" --timeout-ms 30000
r13=$(result c13 "$CALL_PID")
check_eq "  ... the identical call is held again: past the hold limit (3 s) it gets -32012" "-32012" "$(jq -r .code <<<"$r13")"
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
sleep 6
out=$(mwu "$A1" approve "$ID15" 2>&1)
check_match "the approval expires (8 s): approving it is refused" "already expired" "$out"
sleep 1
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
