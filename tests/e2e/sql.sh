#!/usr/bin/env bash
# SQL classes in policy, end to end on a real database: PostgreSQL 15 (Debian's, started by
# hand as user postgres) behind @bytebase/dbhub (streamable HTTP, stateless), called by the
# SDK client from an enrolled cgroup with tokens from the real npm oidc-provider.  The policy
# lets DBAs run anything, refuses destructive / DDL / privilege / multi-statement /
# unreadable SQL to everyone else, and lets finance query.  A refused call never reaches
# dbhub (nor the database: psql, outside the agent, still counts every row); the DBA's
# DELETE does; every decision is a log entry with the caller and the deciding rule.
source "$(dirname "$0")/../lib.sh"
t_begin
cd "$T_DIR" || exit 1 # postgres' tools run as user postgres: a cwd it may enter
need_postgres
peers_install

PGPORT=15432
DBHUB=18801
IDP=18702
TOOL=execute_sql # dbhub's SQL tool, argument "sql"

# --- PostgreSQL 15 in the test's netns (cgroup "other"), on 127.0.0.1 and a private socket dir
start_postgres "$PGPORT" || exit 1
ok "PostgreSQL $(PGDB=postgres pgq 'SHOW server_version' | cut -d' ' -f1) up (initdb + pg_ctl) in $((PG_UP_MS / 1000)).$((PG_UP_MS % 1000 / 100)) s, in the test's netns"
check_listens_only postgres "$PGPORT"

pg_shop_db "
	CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL);
	INSERT INTO orders VALUES (1, 'acme', 120.50), (2, 'globex', 75.00), (3, 'initech', 310.25),
	                          (4, 'umbrella', 42.00), (5, 'hooli', 999.99);"
check_eq "database shop with 5 orders (role shop, password auth over TCP)" 5 "$(pgq 'SELECT count(*) FROM orders')"
count() { pgq 'SELECT count(*) FROM orders'; }

# --- dbhub, the real MCP SQL server
start_dbhub "$DBHUB" || exit 1
check_listens_only dbhub "$DBHUB"

# --- the real IdP and tokens
start_idp "$IDP"
ALICE=$(idp_token alice "$IDP")
CAROL=$(idp_token carol "$IDP")
BOB=$(idp_token bob "$IDP")
[ -n "$ALICE" ] && [ -n "$CAROL" ] && [ -n "$BOB" ] &&
	ok "tokens from the real IdP for alice (finance), carol (dba) and bob (eng)" ||
	{ not_ok "tokens" "$(tail -5 "$T_DIR/idp-$IDP.log")"; exit 1; }

# --- the agent: capture the gateway cgroup's connections to dbhub, decide on SQL classes
BAD='["destructive", "ddl", "privilege", "unparseable", "unknown", "multi_statement"]'
cfg=$(gw_agent_config "$DBHUB" "$IDP" '"policy": {"rules": [
    {"name": "DBAs may run any SQL", "match": {"groups": ["dba"], "method": "tools/call", "tool": "'"$TOOL"'"},
     "action": "allow"},
    {"name": "destructive SQL needs a DBA",
     "match": {"method": "tools/call", "tool": "'"$TOOL"'", "args": {"/sql": {"sql_class": '"$BAD"'}}},
     "action": "deny", "reason": "destructive SQL needs a DBA"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "finance may query", "match": {"groups": ["finance"], "method": "tools/call", "tool": "'"$TOOL"'"},
     "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not allowed for this caller"}]}')
start_agent "$cfg" || { not_ok "agent starts with the SQL policy"; exit 1; }
ok "agent starts with the SQL policy"

URL="http://127.0.0.1:$DBHUB/mcp"
sql() { # sql TOKEN SQL: one tools/call from the enrolled gateway cgroup
	run_in "$T_CG/gw" node "$PEERS/sqlclient.mjs" "$URL" "$2" --token "$1" --tool "$TOOL" --arg sql
}
# refused WHO SQL: the call is refused with -32010 by the destructive rule, dbhub never saw
# the text, and no order is lost
refused() {
	local who=$1 tok=$2 q=$3 out n0
	n0=$(count)
	out=$(sql "$tok" "$q")
	if [ "$(jq -r .ok <<<"$out")" = false ] &&
		grep -q -- '-32010' <<<"$(jq -r .error <<<"$out")" &&
		grep -q 'destructive SQL needs a DBA' <<<"$(jq -r .error <<<"$out")"; then
		ok "$who: '$q' refused with -32010 by 'destructive SQL needs a DBA'"
	else
		not_ok "$who: '$q' refused with -32010 by 'destructive SQL needs a DBA'" "reply: $out"
	fi
	if dbhub_sql | grep -qxF -- "$q"; then
		not_ok "  ... and dbhub never received it" "dbhub ran: $(dbhub_sql | tail -3 | tr '\n' '|')"
	else
		ok "  ... and dbhub never received it"
	fi
	check_eq "  ... and the table still has its $n0 rows (psql)" "$n0" "$(count)"
}

# alice (finance) queries
out=$(sql "$ALICE" "SELECT id, customer, amount FROM orders ORDER BY id")
check_eq "alice (finance): SELECT through the checkpoint succeeds" "true false" \
	"$(jq -r '"\(.ok) \(.isError)"' <<<"$out")"
check_match "  ... and returns the 5 rows" '"rows":\[\{"id":1,"customer":"acme","amount":"120.50"\}.*"hooli".*"count":5' \
	"$(jq -c '.text | fromjson | .data' <<<"$out" 2>&1)"
check_eq "  ... dbhub ran it" 1 "$(dbhub_sql | grep -cxF 'SELECT id, customer, amount FROM orders ORDER BY id')"

# alice's destructive SQL and the evasions: refused, never executed
refused alice "$ALICE" "DELETE FROM orders"
refused alice "$ALICE" "SELECT 1; DROP TABLE orders"
refused alice "$ALICE" "DELETE/**/FROM orders"
refused alice "$ALICE" "select * from orders where id=1; delete from orders"
refused alice "$ALICE" "WITH gone AS (DELETE FROM orders RETURNING *) SELECT count(*) FROM gone"
refused alice "$ALICE" "TRUNCATE orders"
refused alice "$ALICE" "GRANT ALL ON orders TO PUBLIC"
check_eq "the orders table still exists with 5 rows" 5 "$(count)"

# bob (eng) may not even query
out=$(sql "$BOB" "SELECT count(*) FROM orders")
check_eq "bob (eng): SELECT refused" false "$(jq -r .ok <<<"$out")"
check_match "  ... with -32010 by the default rule" "32010.*not allowed for this caller" "$(jq -r .error <<<"$out")"

# carol (dba) deletes one row: it reaches the database
n0=$(count)
out=$(sql "$CAROL" "DELETE FROM orders WHERE id = 1")
check_eq "carol (dba): DELETE FROM orders WHERE id = 1 passes" "true false" "$(jq -r '"\(.ok) \(.isError)"' <<<"$out")"
check_eq "  ... and the row is gone (psql count $n0 -> $((n0 - 1)))" "$((n0 - 1))" "$(count)"
check_eq "  ... it was order 1" "" "$(pgq 'SELECT id FROM orders WHERE id = 1')"

# every decision is a log entry with the caller and the rule
log=$(cat "$T_DIR/agent.log")
check_match "log: alice's SELECT allowed by 'finance may query'" \
	"MCPW_SUB=alice .*MCPW_METHOD=tools/call MCPW_TOOL=$TOOL MCPW_DECISION=allow MCPW_RULE=\"finance may query\"" "$log"
n=$(grep -cE "MCPW_SUB=alice .*MCPW_TOOL=$TOOL MCPW_DECISION=deny MCPW_RULE=\"destructive SQL needs a DBA\"" \
	"$T_DIR/agent.log")
check_eq "log: alice's 7 refused calls, each denied by 'destructive SQL needs a DBA'" 7 "$n"
check_match "log: bob's SELECT denied by the default rule" \
	"MCPW_SUB=bob MCPW_GROUPS=eng .*MCPW_TOOL=$TOOL MCPW_DECISION=deny MCPW_RULE=default" "$log"
check_match "log: carol's DELETE allowed by 'DBAs may run any SQL'" \
	"MCPW_SUB=carol MCPW_GROUPS=dba .*MCPW_TOOL=$TOOL MCPW_DECISION=allow MCPW_RULE=\"DBAs may run any SQL\"" "$log"
if grep -qF -e "$ALICE" -e "$CAROL" "$T_DIR/agent.log"; then not_ok "tokens never reach the log"; else ok "tokens never reach the log"; fi

# explain agrees on the classes
out=$("$BUILD/mcpwarden" policy explain --config "$cfg" --sub alice --groups finance --method tools/call \
	--tool "$TOOL" --args '{"sql": "DELETE/**/FROM orders"}' 2>&1)
check_match "policy explain: alice's DELETE/**/FROM is the destructive rule's" "destructive SQL needs a DBA" "$out"

t_kill "$DBHUB_PID" # its connection pool's clients first, then the database
pg_stop
check_eq "postgres stopped (pg_ctl stop -m fast)" "" "$PGSTARTED"
