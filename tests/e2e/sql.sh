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
PEERS="$T_ROOT/tests/e2e/peers"
cd "$T_DIR" || exit 1 # postgres' tools run as user postgres: a cwd it may enter

PGBIN=/usr/lib/postgresql/15/bin
if ! [ -x "$PGBIN/initdb" ] || ! [ -x "$PGBIN/pg_ctl" ] || ! [ -x "$PGBIN/psql" ]; then
	skip_all "PostgreSQL 15 server not installed (apt-get install postgresql postgresql-client)"
fi
id postgres >/dev/null 2>&1 || skip_all "no postgres user (apt-get install postgresql)"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }

PGPORT=15432
DBHUB=18801
IDP=18702
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

PGDB=postgres pgq "CREATE ROLE shop LOGIN PASSWORD 'shop-secret'" &&
	PGDB=postgres pgq "CREATE DATABASE shop OWNER shop" &&
	as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U shop -d shop -XAtq -v ON_ERROR_STOP=1 -c "
	CREATE TABLE orders (id int PRIMARY KEY, customer text NOT NULL, amount numeric(10,2) NOT NULL);
	INSERT INTO orders VALUES (1, 'acme', 120.50), (2, 'globex', 75.00), (3, 'initech', 310.25),
	                          (4, 'umbrella', 42.00), (5, 'hooli', 999.99);" >"$T_DIR/psql.log" 2>&1
check_eq "database shop with 5 orders (role shop, password auth over TCP)" 5 "$(pgq 'SELECT count(*) FROM orders')"
count() { pgq 'SELECT count(*) FROM orders'; }

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
# SQL texts dbhub ran, from its own request log (GET /api/requests; not captured: cgroup other)
dbhub_sql() { run_in "$T_CG/other" curl -s --max-time 5 "http://127.0.0.1:$DBHUB/api/requests" | jq -r '.requests[].sql'; }

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
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": ['"$DBHUB"']}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
  "policy": {"rules": [
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
