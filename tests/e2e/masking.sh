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
R="$BUILD/mcpwarden-replay"
J="$T_DIR/state/journal"
cd "$T_DIR" || exit 1 # postgres' tools run as user postgres: a cwd it may enter
need_postgres
peers_install

PGPORT=15433
DBHUB=18821
IDP=18722
EVERY=18823
TOOL=execute_sql # dbhub's SQL tool, argument "sql"

# --- PostgreSQL 15 in the test's netns (cgroup "other"), on 127.0.0.1 and a private socket dir
start_postgres "$PGPORT" || exit 1
ok "PostgreSQL $(PGDB=postgres pgq 'SHOW server_version' | cut -d' ' -f1) up (initdb + pg_ctl) in $((PG_UP_MS / 1000)).$((PG_UP_MS % 1000 / 100)) s, in the test's netns"
check_listens_only postgres "$PGPORT"

# The rows: written by psql over the Unix socket, outside the agent's reach (not captured)
CARDS=("4111 1111 1111 1111" "5500-0000-0000-0004" "378282246310005")
EMAILS=("ann.lee@example.com" "ben@shop.example.org" "cy.ortiz@example.net")
SSNS=("123-45-6789" "078-05-1120" "219-09-9999")
pg_shop_db "
CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, city text NOT NULL,
                        email text NOT NULL, card text NOT NULL, ssn text NOT NULL);
INSERT INTO customers VALUES
  (1, 'Ann Lee', 'Lyon', '${EMAILS[0]}', '${CARDS[0]}', '${SSNS[0]}'),
  (2, 'Ben Okafor', 'Oslo', '${EMAILS[1]}', '${CARDS[1]}', '${SSNS[1]}'),
  (3, 'Cy Ortiz', 'Quito', '${EMAILS[2]}', '${CARDS[2]}', '${SSNS[2]}');"
check_eq "database shop: 3 customers with cards, emails and SSNs" 3 "$(pgq 'SELECT count(*) FROM customers')"

# --- dbhub, the real MCP SQL server, and server-everything (SSE replies)
start_dbhub "$DBHUB" || exit 1
check_listens_only dbhub "$DBHUB"
start_everything "$EVERY"

start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
CAROL=$(idp_token carol "$IDP")
[ -n "$ALICE" ] && [ -n "$CAROL" ] && ok "tokens from the real IdP for alice (finance) and carol (dba)" ||
	{ not_ok "tokens" "$(tail -5 "$T_DIR/idp-$IDP.log")"; exit 1; }

cfg=$(gw_agent_config "$DBHUB, $EVERY" "$IDP" '"masking": {"profiles": {"pii": {"detectors": ["credit_card", "email", "us_ssn"],
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
