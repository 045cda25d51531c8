#!/usr/bin/env bash
# Masking end to end (issue 5): PostgreSQL 15 (started by hand) behind @bytebase/dbhub, called
# by the SDK client from an enrolled cgroup with tokens from the real npm oidc-provider.
# Customer rows hold Luhn-valid test card numbers, emails and SSNs.  Finance's rule allows
# execute_sql with the masking profile "pii"; the DBA's rule allows it clear, with a reason.
# Alice (finance) receives the rows masked (exact masked forms, other columns intact, valid
# JSON), the database still holds the raw values (psql), carol (dba) receives them clear; the
# session journal holds no raw value for either (journal.mask, default profile: keyed
# hashes), the log has the masking summary and no raw value.  Also one SSE-framed reply:
# server-everything's echo through the SDK client, masked.
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
R="$BUILD/mcpwarden-replay"
J="$T_DIR/state/journal"
cd "$T_DIR" || exit 1 # postgres' tools run as user postgres: a cwd it may enter

PGBIN=/usr/lib/postgresql/15/bin
if ! [ -x "$PGBIN/initdb" ] || ! [ -x "$PGBIN/pg_ctl" ] || ! [ -x "$PGBIN/psql" ]; then
	skip_all "PostgreSQL 15 server not installed (apt-get install postgresql postgresql-client)"
fi
id postgres >/dev/null 2>&1 || skip_all "no postgres user (apt-get install postgresql)"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }

PGPORT=15433
DBHUB=18821
IDP=18722
EVERY=18823
TOOL=execute_sql # dbhub's SQL tool, argument "sql"

# --- PostgreSQL 15 in the test's netns (cgroup "other"), on 127.0.0.1 and a private socket dir
PGDATA="$T_DIR/pg"
PGSOCK="$T_DIR/pgsock"
mkdir -p "$PGDATA" "$PGSOCK"
: >"$T_DIR/postgres.log" # the server's log, written by the server (user postgres)
chown postgres: "$PGDATA" "$PGSOCK" "$T_DIR/postgres.log"
chmod 700 "$PGDATA"
as_pg() { run_in "$T_CG/other" runuser -u postgres -- "$@"; }
# psql as the superuser over the Unix socket: the agent captures TCP only, so this is the
# database's own view, outside the checkpoint.
pgq() { as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U postgres -d "${PGDB:-shop}" -XAtq -v ON_ERROR_STOP=1 -c "$1"; }
PGSTARTED=""
pg_stop() {
	[ -n "$PGSTARTED" ] || return 0
	as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 20 >>"$T_DIR/postgres.log" 2>&1
	PGSTARTED=""
}
# stop the database (fast) before t_end's cleanup, keeping the exit status t_end reads;
# t_end also has the postmaster's PID as a fallback
sql_end() {
	local rc=$?
	pg_stop
	(exit "$rc")
	t_end
}
trap sql_end EXIT

t0=$(date +%s%3N)
if ! as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
	--no-locale -E UTF8 --no-sync >"$T_DIR/initdb.log" 2>&1; then
	not_ok "initdb" "$(tail -5 "$T_DIR/initdb.log")"
	exit 1
fi
if as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -w -t 30 -l "$T_DIR/postgres.log" \
	-o "-k $PGSOCK -h 127.0.0.1 -p $PGPORT -c fsync=off" >"$T_DIR/pg_ctl.log" 2>&1; then
	PGSTARTED=1
	T_PIDS+=("$(head -n 1 "$PGDATA/postmaster.pid")")
	ms=$(($(date +%s%3N) - t0))
	ok "PostgreSQL $(PGDB=postgres pgq 'SHOW server_version' | cut -d' ' -f1) up (initdb + pg_ctl) in $((ms / 1000)).$((ms % 1000 / 100)) s, in the test's netns"
else
	not_ok "PostgreSQL starts" "$(cat "$T_DIR/pg_ctl.log")" "$(tail -5 "$T_DIR/postgres.log")"
	exit 1
fi
lst=$(nsenter --net="/run/netns/$T_NS" ss -ltnH "sport = :$PGPORT" | awk '{print $4}' | sort -u | tr '\n' ' ')
check_eq "postgres listens only on 127.0.0.1:$PGPORT" "127.0.0.1:$PGPORT " "$lst"


# The rows: written by psql from a file outside the agent's reach (not captured: Unix socket)
CARDS=("4111 1111 1111 1111" "5500-0000-0000-0004" "378282246310005")
EMAILS=("ann.lee@example.com" "ben@shop.example.org" "cy.ortiz@example.net")
SSNS=("123-45-6789" "078-05-1120" "219-09-9999")
cat >"$T_DIR/rows.sql" <<SQL
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL,
                        email text NOT NULL, card text NOT NULL, ssn text NOT NULL);
INSERT INTO customers VALUES
  (1, 'Ann Lee', 'Lyon', '${EMAILS[0]}', '${CARDS[0]}', '${SSNS[0]}'),
  (2, 'Ben Okafor', 'Oslo', '${EMAILS[1]}', '${CARDS[1]}', '${SSNS[1]}'),
  (3, 'Cy Ortiz', 'Quito', '${EMAILS[2]}', '${CARDS[2]}', '${SSNS[2]}');
SQL
chmod 644 "$T_DIR/rows.sql"
PGDB=postgres pgq "CREATE ROLE shop LOGIN PASSWORD 'shop-secret'" &&
	PGDB=postgres pgq "CREATE DATABASE shop OWNER shop" &&
	as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U shop -d shop -XAtq -v ON_ERROR_STOP=1 \
		-f "$T_DIR/rows.sql" >"$T_DIR/psql.log" 2>&1
check_eq "database shop: 3 customers with cards, emails and SSNs" 3 "$(pgq 'SELECT count(*) FROM customers')"

# --- dbhub, the real MCP SQL server, in cgroup "other" (not enrolled: its own DB
# connections are not captured)
DSN="postgres://shop:shop-secret@127.0.0.1:$PGPORT/shop?sslmode=disable"
spawn_in "$T_CG/other" "$T_DIR/dbhub.log" "$PEERS/dbhub.sh" "$DBHUB" "$DSN"
DBHUB_PID=$SPAWNED
up=""
for _ in $(seq 200); do
	[ "$(run_in "$T_CG/other" curl -s --max-time 1 "http://127.0.0.1:$DBHUB/healthz" 2>/dev/null)" = OK ] &&
		{ up=1; break; }
	kill -0 "$DBHUB_PID" 2>/dev/null || break
	sleep 0.1
done
if [ -n "$up" ]; then ok "dbhub $(jq -r .version "$PEERS/node_modules/@bytebase/dbhub/package.json") serves http://127.0.0.1:$DBHUB/mcp"; else
	not_ok "dbhub starts" "$(tail -5 "$T_DIR/dbhub.log")"
	exit 1
fi
lst=$(nsenter --net="/run/netns/$T_NS" ss -ltnH "sport = :$DBHUB" | awk '{print $4}' | sort -u | tr '\n' ' ')
check_eq "dbhub listens only on 127.0.0.1:$DBHUB" "127.0.0.1:$DBHUB " "$lst"
spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" "$EVERY"
wait_port "$EVERY" || not_ok "server-everything listens"

start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
CAROL=$(idp_token carol "$IDP")
[ -n "$ALICE" ] && [ -n "$CAROL" ] && ok "tokens from the real IdP for alice (finance) and carol (dba)" ||
	{ not_ok "tokens" "$(tail -5 "$T_DIR/idp-$IDP.log")"; exit 1; }

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": ['"$DBHUB"', '"$EVERY"']}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
  "masking": {"profiles": {"pii": {"detectors": ["credit_card", "email", "us_ssn"],
    "style": "partial", "styles": {"email": "full"}}}},
  "policy": {"rules": [
    {"name": "DBAs see customer data", "match": {"groups": ["dba"], "method": "tools/call", "tool": "execute_sql"},
     "action": "allow", "reason": "DBAs handle customer data under the data protection policy"},
    {"name": "finance queries, masked", "match": {"groups": ["finance"], "method": "tools/call",
     "tool": ["execute_sql", "echo"]}, "action": "allow", "mask": "pii"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not allowed for this caller"}]},
  "journal": {"mode": "strict"}')
start_agent "$cfg" || { not_ok "agent starts with masking profiles"; exit 1; }
ok "agent starts with the masking profile pii and journal.mask (default)"
check_eq "the host key for keyed hashes was created 0600 in state_dir" 600 "$(stat -c %a "$T_DIR/state/mask.key" 2>&1)"

URL="http://127.0.0.1:$DBHUB/mcp"
sql() { run_in "$T_CG/gw" node "$PEERS/sqlclient.mjs" "$URL" "$2" --token "$1"; }
Q="SELECT id, name, city, email, card, ssn FROM customers ORDER BY id"

# --- alice (finance): masked
sql "$ALICE" "$Q" >"$T_DIR/alice.out"
out=$(cat "$T_DIR/alice.out")
check_eq "alice: the query passes" "true false" "$(jq -r '"\(.ok) \(.isError)"' <<<"$out")"
rows=$(jq -c '.text | fromjson | .data.rows' <<<"$out" 2>&1)
check_match "alice: the tool's text is still valid JSON with 3 rows" '^\[\{.*\}\]$' "$rows"
check_eq "alice: cards masked, last 4 kept" \
	"[MASKED:credit_card:…1111]|[MASKED:credit_card:…0004]|[MASKED:credit_card:…0005]" \
	"$(jq -r '.[].card' <<<"$rows" | paste -sd'|')"
check_eq "alice: emails masked whole" "[MASKED:email]|[MASKED:email]|[MASKED:email]" \
	"$(jq -r '.[].email' <<<"$rows" | paste -sd'|')"
check_eq "alice: SSNs masked, last 4 kept" "[MASKED:us_ssn:…6789]|[MASKED:us_ssn:…1120]|[MASKED:us_ssn:…9999]" \
	"$(jq -r '.[].ssn' <<<"$rows" | paste -sd'|')"
check_eq "alice: ids, names and cities intact" "1 Ann Lee Lyon|2 Ben Okafor Oslo|3 Cy Ortiz Quito" \
	"$(jq -r '.[] | "\(.id) \(.name) \(.city)"' <<<"$rows" | paste -sd'|')"

# --- the database is untouched
check_eq "psql: the database still holds the raw values" \
	"${CARDS[0]}|${EMAILS[1]}|${SSNS[2]}" \
	"$(pgq "SELECT card FROM customers WHERE id=1")|$(pgq "SELECT email FROM customers WHERE id=2")|$(pgq "SELECT ssn FROM customers WHERE id=3")"

# --- carol (dba): clear
sql "$CAROL" "$Q" >"$T_DIR/carol.out"
rows=$(jq -c '.text | fromjson | .data.rows' "$T_DIR/carol.out" 2>&1)
check_eq "carol (dba, no masking): the raw cards, emails and SSNs" \
	"${CARDS[0]}|${CARDS[1]}|${CARDS[2]}|${EMAILS[0]}|${SSNS[1]}" \
	"$(jq -r '[.[0].card, .[1].card, .[2].card, .[0].email, .[1].ssn] | .[]' <<<"$rows" | paste -sd'|')"

# --- an SSE-framed reply: server-everything answers POSTs with text/event-stream
hdr=$(run_in "$T_CG/other" curl -s -D - -o /dev/null --max-time 5 "http://127.0.0.1:$EVERY/mcp" \
	-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
	-d '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}')
check_match "server-everything replies to a POST as an SSE stream" "[Cc]ontent-[Tt]ype: text/event-stream" "$hdr"
MSG="reach ${EMAILS[2]} about card ${CARDS[0]}"
out=$(run_in "$T_CG/gw" node "$PEERS/sqlclient.mjs" "http://127.0.0.1:$EVERY/mcp" "$MSG" --token "$ALICE" \
	--tool echo --arg message)
echo "$out" >"$T_DIR/alice-echo.out"
check_eq "alice's echo over SSE comes back masked" "Echo: reach [MASKED:email] about card [MASKED:credit_card:…1111]" \
	"$(jq -r .text <<<"$out")"

sleep 1
# --- the log: a masking entry per masked reply, with kinds, counts and paths, no value
log=$(cat "$T_DIR/agent.log")
check_match "log: alice's execute_sql reply masked (summary with counts)" \
	"MCPW_SUB=alice .*MCPW_TOOL=execute_sql MCPW_MASKED=\"credit_card=3 email=3 us_ssn=3\".*MCPW_MASKED_PATHS=\"/result/content/0/text" "$log"
check_match "log: the echo reply's masking entry" "MCPW_SUB=alice .*MCPW_TOOL=echo MCPW_MASKED=\"credit_card=1 email=1\"" "$log"
check_eq "log: no masking entry for carol" 0 "$(grep -c 'MCPW_SUB=carol .*MCPW_MASKED="[a-z]' "$T_DIR/agent.log")"

# --- the session journal: nothing raw for either identity
"$R" --dir "$J" export --format jsonl >"$T_DIR/export.jsonl"
check_eq "export: one JSON object a line" 0 "$(jq -e . "$T_DIR/export.jsonl" >/dev/null; echo $?)"
for who in alice carol; do
	sids=$("$R" --dir "$J" list --user "$who" --json | jq -r '.[].session')
	: >"$T_DIR/show-$who.txt"
	for s in $sids; do "$R" --dir "$J" show "$s" >>"$T_DIR/show-$who.txt"; done
	check_match "journal: $who's session shows the query's response" "execute_sql" "$(cat "$T_DIR/show-$who.txt")"
done
csids=$("$R" --dir "$J" list --user carol --json | jq -c '[.[].session]')
check_match "journal: carol's clear rows are in it as keyed hashes (journal.mask applies anyway)" \
	'MASKED:credit_card:hmac:[0-9a-f]{16}.*MASKED:us_ssn:hmac:[0-9a-f]{16}' \
	"$(jq -r --argjson s "$csids" 'select((.session as $x | $s | index($x)) and .type == "response") | .payload' "$T_DIR/export.jsonl")"
check_match "journal: responses carry the masking summary in their metadata" '"masked":"[a-z_]+=' "$(cat "$T_DIR/export.jsonl")"
for v in "${CARDS[0]}" 4111111111111111 "${EMAILS[1]}" "${SSNS[2]}"; do
	n=$("$R" --dir "$J" search "$v" 2>/dev/null | wc -l)
	check_eq "journal: search '$v' finds nothing" 0 "$n"
done

# every log and journal file, and every replay output: no raw value anywhere but carol's
# own client output
leak=""
for v in "${CARDS[@]}" "${EMAILS[@]}" "${SSNS[@]}" 4111111111111111 5500000000000004; do
	f=$(grep -rlF -- "$v" "$T_DIR/agent.log" "$T_DIR/state" "$T_DIR/export.jsonl" "$T_DIR"/show-*.txt \
		"$T_DIR/alice.out" "$T_DIR/alice-echo.out" 2>/dev/null)
	[ -n "$f" ] && leak="$leak $v in $f;"
done
check_eq "no raw card, email or SSN in the log, the journal or alice's output" "" "$leak"
check_eq "carol's output is the one place the raw values are" 1 "$(grep -cF "${CARDS[0]}" "$T_DIR/carol.out")"

t_kill "$DBHUB_PID"
pg_stop
check_eq "postgres stopped (pg_ctl stop -m fast)" "" "$PGSTARTED"
