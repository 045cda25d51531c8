#!/usr/bin/env bash
# tests/demo.sh (`sudo make demo`): one scripted session through mcpwarden, with real peers only.
#
# In a private network namespace: an IdP (npm oidc-provider) issues tokens to alice (finance),
# bob (eng) and carol (dba); an MCP SDK server serves HTTPS with a certificate from a test CA
# and answers only a bearer token that the agent alone holds; the npm civic passthrough gateway
# runs as user daemon in an enrolled cgroup with no token, trusting mcpwarden's CA.  SDK
# clients call through the gateway: allowed, masked, denied, refused, held for approval and
# approved by a second person, and without a token.  Then the operator's view (status, flows,
# journald) and the auditor's (mcpwarden-replay list/show/verify), and a search for the token
# everywhere.  Every step is checked: the demo stops with "DEMO FAILED: <step>" and exit 1 when
# one does not hold.  DEMO_PAUSE: seconds before each part (default 5 on a terminal, else 0).
T_QUIET=1
source "$(dirname "$0")/lib.sh"
t_begin
for c in node openssl jq curl unshare setpriv; do
	command -v $c >/dev/null || { echo "demo: no $c command (make deps installs it)"; exit 1; }
done
T0=$(date +%s)
PAUSE=${DEMO_PAUSE:-0}
[ -t 1 ] && PAUSE=${DEMO_PAUSE:-5}
say() { sleep "$PAUSE"; printf '\n\033[1;34m== %s\033[0m\n' "$*"; }
tell() { printf '\033[2m%s\033[0m\n' "$*"; }
die() {
	printf '\n\033[1;31mDEMO FAILED: %s\033[0m\n' "$*" >&2
	[ -n "$T_JOURNALD_PID" ] && journal_ctl -t mcpwarden -n 15 --no-pager 2>&1 | sed 's/^/# journald: /'
	exit 1
}
# expect_eq / expect_match DESC EXPECTED|REGEX ACTUAL: check_eq / check_match, fatal
expect_eq() { check_eq "$@"; [ "$T_FAILED" = 0 ] || die "$1"; }
expect_match() { check_match "$@"; [ "$T_FAILED" = 0 ] || die "$1"; }
indent() { sed 's/^/    /'; }

say "Installing the pinned npm peers (MCP SDK, civic gateway, oidc-provider)"
peers_install
start_private_journald || die "cannot start a private systemd-journald"
cd "$T_DIR" || exit 1
UP=19443 GW=19080 IDP=19600 HOST=mcp.example.test

say "1. The identity provider: npm oidc-provider on 127.0.0.1:$IDP"
start_idp "$IDP" || die "the IdP did not start: $(tail -3 "idp-$IDP.log")"
ALICE=$(idp_token alice "$IDP") BOB=$(idp_token bob "$IDP") CAROL=$(idp_token carol "$IDP")
[ -n "$ALICE" ] && [ -n "$BOB" ] && [ -n "$CAROL" ] || die "no tokens from the IdP"
for t in "$ALICE" "$BOB" "$CAROL"; do jwt_claims "$t" | jq -c '{sub, groups, aud, iss}' | indent; done
tell "alice works in finance, bob in engineering, carol is a DBA: the tokens say so, signed."

say "2. The MCP server: the SDK over HTTPS at $HOST:$UP, certificate from the company's test CA"
test_ca corpca "Example Corp test CA" && test_leaf "$HOST" corpca 1 "DNS:$HOST" || die "openssl"
TOKEN="tok-$(openssl rand -hex 24)"
(umask 077 && printf '%s\n' "$TOKEN" >upstream.token)
printf '127.0.0.1 localhost %s\n' "$HOST" >hosts
start_sdk_upstream upstream.log "$T_DIR/upstream.token" --https "$UP:$HOST.crt:$HOST.key" ||
	die "the MCP server did not start"
out=$(run_in "$T_CG/other" curl -s --cacert corpca.crt --resolve "$HOST:$UP:127.0.0.1" -o /dev/null \
	-w '%{http_code}' -d '{}' "https://$HOST:$UP/mcp")
expect_eq "the server answers 401 to anyone without its bearer token" 401 "$out"
upbase=$(wc -l <upstream.log)
tell "its token (random per run) is in one file, mode $(stat -c %a upstream.token), that only the agent reads."

say "3. The agent: mcpwardend, its own CA, identity, policy, masking, TLS interception"
mkdir -p state/journal
"$BUILD/mcpwarden" ca init --dir state/ca >/dev/null 2>&1 || die "mcpwarden ca init"
"$BUILD/mcpwarden" ca show --dir state/ca >mwca.pem 2>ca.fpr || die "mcpwarden ca show"
echo "mcpwarden ca init; mcpwarden ca show: $(tail -n 1 ca.fpr)"
"$BUILD/mcpwarden-replay" keygen --out auditor.key >/dev/null && cp auditor.key state/journal/seal.key ||
	die "mcpwarden-replay keygen"
tell "the auditor keeps auditor.key (the journal's initial seal key); the agent's copy evolves."
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": ['"$UP"']}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  '"$(idp_identity "$IDP")"',
  "masking": {"profiles": {"pii": {"detectors": ["credit_card", "email", "secret"],
    "style": "partial", "styles": {"email": "full"}}}},
  "policy": {"rules": [
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]},
     "action": "allow"},
    {"name": "finance echoes", "match": {"groups": ["finance"], "method": "tools/call", "tool": "echo"},
     "action": "allow"},
    {"name": "customer records, masked", "match": {"groups": ["finance"], "method": "tools/call",
     "tool": "customer_record"}, "action": "allow", "mask": "pii"},
    {"name": "no deletes", "match": {"method": "tools/call", "tool": "delete_records"}, "action": "deny",
     "reason": "records are never deleted through MCP"},
    {"name": "migrations need a DBA", "match": {"groups": ["eng"], "method": "tools/call",
     "tool": "run_migration"}, "action": "review", "approvers": {"oidc_groups": ["dba"]}},
    {"name": "default", "action": "deny", "reason": "not allowed for this caller"}]},
  "journal": {"mode": "strict", "seal_interval": "1s"},
  "upstreams": [{"match": {"host": "'"$HOST"'", "port": '"$UP"'}, "tls": "intercept",
    "ca_file": "'"$T_DIR/corpca.crt"'",
    "credential": {"name": "mcp-upstream", "bearer_file": "'"$T_DIR/upstream.token"'"}}]')
# the agent drops to user mcpwarden, or nobody where there is none (as here): its state is its own
chown -R "$(id -u mcpwarden 2>/dev/null || echo 65534)" state
jq -r 'to_entries[] | if .key == "policy" then "policy.rules:", (.value.rules[] | "  \(tojson)")
	else "\(.key): \(.value | tojson)" end' "$cfg" | indent
start_agent_journald "$cfg" || die "the agent did not start"
tell "agent pid $AGENT_PID, logging to journald; it intercepts TLS to $HOST:$UP and injects 'mcp-upstream'."

say "4. The gateway: npm @civic/passthrough-mcp-server, enrolled by cgroup, as user daemon (not root)"
setpriv --reuid="$(id -u daemon)" --regid="$(id -g daemon)" --clear-groups \
	test -r "$T_ROOT/tests/e2e/peers/node_modules/@civic/passthrough-mcp-server/package.json" ||
	die "user daemon cannot read $T_ROOT/tests/e2e/peers (the gateway runs as daemon): make the checkout's path readable by others (chmod o+rx on each directory), or clone it under /opt or /srv"
spawn_gw_civic "$GW" "https://$HOST:$UP/mcp" "$T_DIR/hosts" "$T_DIR/mwca.pem" daemon
GWP=$SPAWNED
wait_port "$GW" || wait_port "$GW" || die "the gateway did not start: $(tail -3 "gw-$GW.log")"
echo "pid $GWP, uid $(awk '/^Uid:/ {print $2}' /proc/$GWP/status), cgroup $(grep '^0::' /proc/$GWP/cgroup | cut -d: -f3);" \
	"its whole configuration (environment):"
tr '\0' '\n' </proc/$GWP/environ | grep -E '^(PORT|TARGET_|SOURCE_|NODE_EXTRA)' | indent
expect_eq "the gateway holds no secret: no token in its environment or argv" "" \
	"$(cat /proc/$GWP/environ /proc/$GWP/cmdline | tr '\0' '\n' | grep -iE 'token|secret|auth|bearer')"

say "5. Sessions through the gateway (SDK clients at http://127.0.0.1:$GW/mcp)"
URL="http://127.0.0.1:$GW/mcp"
tools() { run_in "$T_CG/other" node "$PEERS/toolsclient.mjs" "$URL" "$@"; }
tell "alice (finance): echo, then customer_record, then delete_records"
tools --token "$ALICE" --call echo --args '{"message":"hello through the checkpoint"}' \
	--call customer_record --args '{"id":7}' --call delete_records --args '{"table":"customers"}' >alice.out
jq -c '{ok, server, tools}' alice.out | indent
expect_eq "alice's session reaches the HTTPS server; tools/list shows only what she may call" \
	"tls-upstream customer_record echo" "$(jq -r '"\(.server.name) \(.tools | sort | join(" "))"' alice.out)"
expect_eq "echo is allowed and answered" "Echo: hello through the checkpoint" "$(jq -r '.calls[0].text' alice.out)"
echo "    customer_record, as alice receives it:"
jq -r '.calls[1].text | fromjson' alice.out | indent
expect_eq "card, email and secret are masked; name and city intact" \
	"[MASKED:credit_card:…1111]|[MASKED:email]|deploy key [MASKED:secret]|Ann Lee Lyon" \
	"$(jq -r '.calls[1].text | fromjson | "\(.card)|\(.email)|\(.note)|\(.name) \(.city)"' alice.out)"
jq -r '.calls[2] | "    \(.tool): \(.code) \(.data | tojson)"' alice.out
expect_eq "delete_records is denied -32010 with the rule's reason" \
	"-32010 no deletes records are never deleted through MCP" \
	"$(jq -r '.calls[2] | "\(.code) \(.data.rule) \(.data.reason)"' alice.out)"

tell "bob (eng): customer_record (finance only)"
tools --token "$BOB" --call customer_record --args '{"id":7}' >bob.out
jq -r '"    tools bob sees: \(.tools | sort | join(" "))",
	(.calls[0] | "    \(.tool): \(.code) \(.data | tojson)")' bob.out
expect_eq "bob's call is refused by policy (-32010, rule default)" "-32010 default" \
	"$(jq -r '.calls[0] | "\(.code) \(.data.rule)"' bob.out)"

tell "bob (eng): run_migration, held until a DBA approves"
spawn_in "$T_CG/other" bob-migration.log node "$PEERS/approvalclient.mjs" "$URL" 2026_07_orders_index \
	--token "$BOB" --tool run_migration --arg name --justification "CHG-1234: index for the orders report"
CLIENT=$SPAWNED
id=""
for _ in $(seq 100); do
	id=$(mw pending --json | jq -r '.approvals[] | select(.tool == "run_migration") | .id' | head -n 1)
	[ -n "$id" ] && break
	sleep 0.1
done
[ -n "$id" ] || die "bob's run_migration was not held for approval"
echo "\$ mcpwarden pending"
mw pending | indent
expect_eq "the server has not seen the held call" 0 "$(grep -c run_migration upstream.log)"
echo "\$ mcpwarden approve $id --token <carol's token> --reason 'reviewed, off-peak'"
mw approve "$id" --token "$CAROL" --reason "reviewed, off-peak" | indent
for _ in $(seq 100); do kill -0 "$CLIENT" 2>/dev/null || break; sleep 0.1; done
res=$(grep -E '^\{' bob-migration.log | tail -n 1)
echo "    bob's client: $(jq -c '{ok, text, ms}' <<<"$res")"
expect_eq "approved by carol, bob's client gets the server's answer" "true Migration 2026_07_orders_index applied" \
	"$(jq -r '"\(.ok) \(.text)"' <<<"$res")"

tell "someone without a token"
tools >anon.out
jq -r '"    \(.error | sub(" data=.*"; ""))"' anon.out
tell "(the agent answered 401 invalid_token; the gateway relays it as its own error)"
expect_match "a call without a token is answered 401" "401" "$(jq -r .error anon.out)"
expect_eq "the server answered every forwarded request with the agent's token (no 401 at the server)" "0" \
	"$(tail -n +$((upbase + 1)) upstream.log | grep -c ' 401$')"

say "6. The operator's view"
echo "\$ mcpwarden status"
mw status | indent
echo "\$ mcpwarden flows --all"
mw flows --all >flows.txt
indent <flows.txt
echo "\$ mcpwarden flows --all --json | jq (the TLS facts of each flow)"
mw flows --all --json >flows.json
jq -r '.flows[] | "\(.id)  \(.tls.mode) SNI \(.tls.sni), rule \(.tls.rule), credential \(.tls.credential);" +
	" upstream leg \(.tls.version) \(.tls.cipher) ALPN \(.tls.server_alpn // "-"), \(.tls.subject)"' flows.json | indent
expect_eq "every flow: TLS intercepted, SNI $HOST, credential injected by name" "intercept $HOST mcp-upstream" \
	"$(jq -r '[.flows[] | "\(.tls.mode) \(.tls.sni) \(.tls.credential)"] | unique | join(",")' flows.json)"
echo "\$ journalctl -t mcpwarden -o json | jq (the decisions, from the demo's private journald)"
for _ in $(seq 50); do # until the approval's entry is in the demo's journald
	journal_ctl -t mcpwarden -o json --no-pager >journald.json
	grep -q '"MCPW_DECISION":"approved"' journald.json && break
	sleep 0.1
done
jq -r 'def f: if . == null or . == "" then "-" else . end; def w(n): f | .[0:n] | . + " " * (n - length);
	select((.MCPW_TOOL // "") != "" or .MCPW_DECISION == "intercept" or .MCPW_DECISION == "unauthenticated")
	| "\(.__REALTIME_TIMESTAMP | tonumber / 1e6 | strftime("%H:%M:%S")) \(.MCPW_SUB | w(6)) \(.MCPW_GROUPS | w(8))" +
	  " \(.MCPW_TOOL // .MCPW_SNI | w(17)) \(.MCPW_DECISION // (.MCPW_MASKED | select(.) | "masked") | w(15))" +
	  " \(.MCPW_RULE // .MCPW_MASKED | f)" +
	  "\(.MCPW_CREDENTIAL // .MCPW_APPROVER // .MCPW_REASON | if f == "-" then "" else ", " + . end)"' journald.json | indent
expect_eq "journald: the denial, with bob's refusal and carol's approval" "alice:no deletes bob:default carol" \
	"$(jq -r 'select(.MCPW_DECISION == "deny" and .MCPW_TOOL == "delete_records") | "alice:\(.MCPW_RULE)"' journald.json | head -n 1) $(
		jq -r 'select(.MCPW_DECISION == "deny" and .MCPW_SUB == "bob") | "bob:\(.MCPW_RULE)"' journald.json | head -n 1) $(
		jq -r 'select(.MCPW_DECISION == "approved") | .MCPW_APPROVER' journald.json | grep -o carol | head -n 1)"
echo "\$ journalctl -t mcpwarden -o verbose MCPW_TOOL=customer_record MCPW_SUB=alice (some of the fields)"
journal_ctl -t mcpwarden -o verbose --no-pager MCPW_TOOL=customer_record MCPW_SUB=alice |
	grep -E '^[A-Z][a-z]{2} |^ +(MESSAGE|MCPW_(SUB|GROUPS|UID|COMM|TARGET|METHOD|TOOL|DECISION|RULE|MASKED_PATHS|TOKEN_SHA256))=' |
	sed 's/ \[s=.*//' | indent

say "7. The auditor's view: the session journal (mcpwarden-replay)"
R() { "$BUILD/mcpwarden-replay" --dir "$T_DIR/state/journal" "$@"; }
sleep 1.2 # one seal interval
echo "\$ mcpwarden-replay list"
R list | indent
sid=$(R list --user alice --tool customer_record --json | jq -r '.[0].session // empty')
[ -n "$sid" ] || die "no journaled session of alice's customer_record call"
tell "the gateway carries every caller over one upstream connection: each request is journaled with its caller."
R list --user bob --json >bob.sessions
expect_eq "list --user bob finds bob's sessions, each naming bob among its callers" "true" \
	"$(jq 'length > 0 and all(.[]; (.users // [.user]) | index("bob"))' bob.sessions)"
echo "\$ mcpwarden-replay show $sid"
R show "$sid" >show.txt
cut -c1-180 show.txt | indent
expect_match "the session shows alice's decision and the masked reply" \
	"allow by 'alice'.*customer_record.*MASKED:credit_card" "$(tr '\n' ' ' <show.txt)"
echo "\$ mcpwarden-replay verify --key auditor.key"
R verify --key auditor.key 2>&1 | indent
expect_match "verify: hash chain and seals check out against the auditor's key" '"seals_verified": [1-9]' \
	"$(R verify --key auditor.key --json)"

say "8. The upstream's token: nowhere but its file"
R export --format jsonl >export.jsonl
jq -r 'if .payload_encoding == "base64" then (.payload | @base64d) else (.payload // "") end' export.jsonl >payloads.txt
journal_ctl -o export --no-pager >journald.export
tr '\0' '\n' </proc/$GWP/environ >gw.environ
places=(agent.log journald.export journald.json export.jsonl payloads.txt flows.json "gw-$GW.log" gw.environ
	upstream.log "idp-$IDP.log" alice.out bob.out bob-migration.log anon.out state run)
echo "\$ grep -rlF \"\$TOKEN\" upstream.token ${places[*]}"
grep -rlaF -- "$TOKEN" upstream.token "${places[@]}" 2>/dev/null | indent
expect_eq "the token is only in its file: not in the journal, journald, logs, gateway or clients" upstream.token \
	"$(grep -rlaF -- "$TOKEN" upstream.token "${places[@]}" 2>/dev/null | paste -sd' ')"
expect_eq "the customer's card number and deploy key reached no client, journal or journald entry" "" \
	"$(grep -laE '4111 1111 1111 1111|ghp_Zx9Yw8' alice.out export.jsonl payloads.txt journald.export | paste -sd' ')"

say "Demo done in $(($(date +%s) - T0)) s: every step checked ($T_N checks). Cleaning up."
