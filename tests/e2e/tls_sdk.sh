#!/usr/bin/env bash
# Issue 7 end to end with real peers: an MCP SDK server (McpServer + streamable HTTP, peers/
# https-sdk-server.mjs) serves HTTPS with a certificate from a test CA made here, and plain
# HTTP on a second port; it answers only requests carrying a bearer token that only the agent
# holds (an upstreams credential read from a file, random per run).  The enrolled gateway is the
# npm civic passthrough, configured with a host name (mcp.test, resolved through a private
# /etc/hosts in its own mount namespace), no token, and trusting only mcpwarden's CA
# (NODE_EXTRA_CA_CERTS; it does not know the test CA).  An SDK client with an OIDC token from the
# real IdP lists tools and calls an allowed tool, a denied one (-32010, never reaches the
# upstream) and one whose reply a masking profile masks; the same calls over plain HTTP give
# the same results.  The token is in none of: the gateways' environment and argv, the agent's
# log, the private journald (export format), the session journal (replay export, payloads
# decoded, and the raw segment frames through zstd), the peers' logs.  Three more upstreams
# (a certificate for another name, an expired one, one from an unknown CA) are refused, each
# with its reason in journald and, relayed by the gateway, at the client.
source "$(dirname "$0")/../lib.sh"
t_begin
for c in openssl zstd python3 jq unshare; do command -v $c >/dev/null || skip_all "no $c command"; done
PEERS="$T_ROOT/tests/e2e/peers"
for f in @modelcontextprotocol/sdk/package.json @civic/passthrough-mcp-server/dist/cli.js oidc-provider/package.json; do
	[ -e "$PEERS/node_modules/$f" ] || skip_all "npm peers not installed (tests/e2e/peers/install.sh)"
done
start_private_journald || skip_all "cannot start a private systemd-journald"
cd "$T_DIR" || exit 1

UP_TLS=18941 UP_PLAIN=18942 UP_WRONG=18943 UP_EXPIRED=18944 UP_UNKNOWN=18945
GW_TLS=18951 GW_PLAIN=18952 GW_WRONG=18953 GW_EXPIRED=18954 GW_UNKNOWN=18955
IDP=18960

# --- certificates: the upstream's test CA, an unknown CA, and four leaves -------------------
test_ca upca "upstream test CA"
test_ca rogue "unknown test CA"
leaf() { test_leaf "$1" "$2" "$3" "DNS:$1"; } # NAME CA DAYS: NAME.crt/NAME.key for DNS:NAME
leaf mcp.test upca 1
leaf other.test upca 1      # served as wrongname.test
leaf expired.test upca -1
leaf unknownca.test rogue 1
v() { openssl verify -CAfile upca.crt "$@" 2>&1; }
check_match "test CA: the good leaf verifies" "mcp.test.crt: OK" "$(v -verify_hostname mcp.test mcp.test.crt)"
check_match "test CA: the leaf for other.test does not verify as wrongname.test" "hostname mismatch" \
	"$(v -verify_hostname wrongname.test other.test.crt)"
check_match "test CA: the expired leaf is expired" "certificate has expired" "$(v expired.test.crt)"
check_match "test CA: the unknown CA's leaf does not chain" "unable to get local issuer certificate" "$(v unknownca.test.crt)"

TOKEN="tok-$(openssl rand -hex 24)"
(umask 077 && printf '%s\n' "$TOKEN" >upstream.token)
printf 'Authorization: Bearer %s\n' "$TOKEN" >auth.hdr # for curl -H @file: not on a command line
printf '127.0.0.1 localhost mcp.test plain.test wrongname.test expired.test unknownca.test\n' >hosts

# --- the upstream: one SDK server process, five ports -----------------------------------------
start_sdk_upstream upstream.log "$T_DIR/upstream.token" \
	--https "$UP_TLS:mcp.test.crt:mcp.test.key" --http "$UP_PLAIN" \
	--https "$UP_WRONG:other.test.crt:other.test.key" --https "$UP_EXPIRED:expired.test.crt:expired.test.key" \
	--https "$UP_UNKNOWN:unknownca.test.crt:unknownca.test.key" || exit 1
ok "the SDK upstream serves HTTPS and HTTP"
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
direct() { # PORT SCHEME [curl options]: one initialize straight to the upstream, outside the agent
	local port=$1 scheme=$2
	shift 2
	run_in "$T_CG/other" curl -s --max-time 5 --cacert upca.crt --resolve "mcp.test:$port:127.0.0.1" \
		-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
		-w '\nHTTP %{http_code}' "$@" -d "$init" "$scheme://mcp.test:$port/mcp"
}
check_match "directly, without a token, the upstream answers 401 (HTTPS)" "HTTP 401$" "$(direct $UP_TLS https)"
check_match "directly, without a token, the upstream answers 401 (HTTP)" "HTTP 401$" "$(direct $UP_PLAIN http)"
check_match "directly, with the token, it is an MCP server (HTTPS)" '"serverInfo":\{"name":"tls-upstream"' \
	"$(direct $UP_TLS https -H @auth.hdr)"
upbase=$(wc -l <upstream.log)

start_idp "$IDP" || { not_ok "IdP starts" "$(tail -5 "idp-$IDP.log")"; exit 1; }
ALICE=$(idp_token alice "$IDP")
[ -n "$ALICE" ] && ok "a token from the real IdP for alice (finance)" || { not_ok "alice's token"; exit 1; }

# --- the agent --------------------------------------------------------------------------------
mkdir -p "$T_DIR/state"
check_cmd "mcpwarden ca init" "$BUILD/mcpwarden" ca init --dir "$T_DIR/state/ca"
"$BUILD/mcpwarden" ca show --dir "$T_DIR/state/ca" >mwca.pem 2>/dev/null
cred='"credential": {"name": "mcp-upstream", "bearer_file": "'"$T_DIR/upstream.token"'"}'
icpt() { # HOST PORT: an intercepting rule verifying against the test CA, with the credential
	printf '{"match": {"host": "%s", "port": %s}, "tls": "intercept", "ca_file": "%s", %s}' "$1" "$2" "$T_DIR/upca.crt" "$cred"
}
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"],
    "ports": ['"$UP_TLS, $UP_PLAIN, $UP_WRONG, $UP_EXPIRED, $UP_UNKNOWN"']}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$IDP"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]},
  "masking": {"profiles": {"pii": {"detectors": ["credit_card", "email", "secret"],
    "style": "partial", "styles": {"email": "full"}}}},
  "policy": {"rules": [
    {"name": "finance echoes", "match": {"groups": ["finance"], "method": "tools/call", "tool": "echo"}, "action": "allow"},
    {"name": "customer records, masked", "match": {"groups": ["finance"], "method": "tools/call",
     "tool": "customer_record"}, "action": "allow", "mask": "pii"},
    {"name": "no deletes", "match": {"method": "tools/call", "tool": "delete_records"}, "action": "deny",
     "reason": "records are never deleted through MCP"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]}, "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not allowed"}]},
  "journal": {"mode": "strict"},
  "upstreams": ['"$(icpt mcp.test $UP_TLS)"',
    {"match": {"host": "127.0.0.1", "port": '"$UP_PLAIN"'}, "tls": "intercept", '"$cred"'},
    '"$(icpt wrongname.test $UP_WRONG), $(icpt expired.test $UP_EXPIRED), $(icpt unknownca.test $UP_UNKNOWN)"']')
start_agent_journald "$cfg" || { not_ok "agent starts with a CA, upstreams and a credential"; exit 1; }
ok "agent starts with a CA, five upstreams rules and a credential, logging to journald"

# --- the gateways: civic passthrough in the enrolled cgroup, a private /etc/hosts, no token, ---
# trusting mcpwarden's CA only (Node's bundled roots plus NODE_EXTRA_CA_CERTS)
declare -A GWPID
start_gw() { # PORT TARGET_URL
	spawn_gw_civic "$1" "$2" "$T_DIR/hosts" "$T_DIR/mwca.pem"
	GWPID[$1]=$SPAWNED
}
start_gw $GW_TLS "https://mcp.test:$UP_TLS/mcp"
start_gw $GW_PLAIN "http://plain.test:$UP_PLAIN/mcp"
start_gw $GW_WRONG "https://wrongname.test:$UP_WRONG/mcp"
start_gw $GW_EXPIRED "https://expired.test:$UP_EXPIRED/mcp"
start_gw $GW_UNKNOWN "https://unknownca.test:$UP_UNKNOWN/mcp"
for p in $GW_TLS $GW_PLAIN $GW_WRONG $GW_EXPIRED $GW_UNKNOWN; do
	wait_port "$p" || wait_port "$p" || { not_ok "gateway :$p listens" "$(tail -5 "gw-$p.log")"; exit 1; }
done
ok "five civic passthrough gateways listen"
gp=${GWPID[$GW_TLS]}
check_eq "the gateway process is node, in the enrolled cgroup" "node 0::${T_CG#"$CG2"}/gw" \
	"$(cat "/proc/$gp/comm") $(grep '^0::' "/proc/$gp/cgroup")"
genv=$(tr '\0' '\n' <"/proc/$gp/environ")
check_match "its configuration (environment) targets the HTTPS host name" "^TARGET_SERVER_URL=https://mcp.test:$UP_TLS$" "$genv"
check_match "it trusts mcpwarden's CA through NODE_EXTRA_CA_CERTS" "^NODE_EXTRA_CA_CERTS=$T_DIR/mwca.pem$" "$genv"
check_eq "mcpwarden's CA is not the test CA" "" "$(grep -F "$(sed -n 2p upca.crt)" mwca.pem)"
check_eq "it resolves mcp.test through its private /etc/hosts only" "127.0.0.1|" \
	"$(nsenter --mount="/proc/$gp/ns/mnt" getent hosts mcp.test | awk '{ print $1 }')|$(getent hosts mcp.test)"

# control: with the gateway's trust (Node, NODE_EXTRA_CA_CERTS=mwca.pem) and not enrolled, the
# upstream's own certificate is refused, so a success through the gateway means re-origination
out=$(run_in "$T_CG/other" env NODE_EXTRA_CA_CERTS="$T_DIR/mwca.pem" unshare --mount --propagation private -- \
	sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_DIR/hosts" node -e '
	fetch(process.argv[1], { method: "POST" }).then((r) => console.log("HTTP " + r.status),
		(e) => console.log(String(e.cause && e.cause.code)))' "https://mcp.test:$UP_TLS/mcp" 2>&1)
check_match "control: the gateway's trust store refuses the upstream's own certificate" "^UNABLE_TO_(VERIFY_LEAF_SIGNATURE|GET_ISSUER_CERT_LOCALLY)$" "$out"

# --- the same calls through the HTTPS and the plain HTTP gateway --------------------------------
calls() { # GATEWAY_PORT
	run_in "$T_CG/other" node "$PEERS/toolsclient.mjs" "http://127.0.0.1:$1/mcp" --token "$ALICE" \
		--call echo --args '{"message":"hello from behind the gateway"}' \
		--call delete_records --args '{"table":"customers"}' \
		--call customer_record --args '{"id":7}'
}
calls $GW_TLS >client-tls.out 2>client-tls.err
calls $GW_PLAIN >client-plain.out 2>client-plain.err
for mode in tls plain; do
	out=$(cat "client-$mode.out")
	port=$UP_TLS
	[ $mode = plain ] && port=$UP_PLAIN
	check_eq "$mode: the session works and reaches the SDK server" "true tls-upstream" \
		"$(jq -r '"\(.ok) \(.server.name)"' <<<"$out" 2>&1)"
	check_eq "$mode: tools/list comes through, filtered to what alice may call" "customer_record echo" \
		"$(jq -r '.tools | sort | join(" ")' <<<"$out")"
	check_eq "$mode: echo is allowed and answered by the upstream" "true Echo: hello from behind the gateway" \
		"$(jq -r '.calls[0] | "\(.ok) \(.text)"' <<<"$out")"
	check_eq "$mode: delete_records is refused -32010 with the rule's reason" "-32010 no deletes records are never deleted through MCP" \
		"$(jq -r '.calls[1] | "\(.code) \(.data.rule) \(.data.reason)"' <<<"$out")"
	rec=$(jq -r '.calls[2].text' <<<"$out")
	check_eq "$mode: customer_record: card, email and secret masked, the rest intact" \
		"[MASKED:credit_card:…1111]|[MASKED:email]|deploy key [MASKED:secret]|Ann Lee Lyon 7" \
		"$(jq -r '"\(.card)|\(.email)|\(.note)|\(.name) \(.city) \(.id)"' <<<"$rec" 2>&1)"
	check_eq "$mode: the upstream answered the calls with the agent's token (no 401), never saw delete_records" \
		"1 1 0 0" \
		"$(tail -n +$((upbase + 1)) upstream.log | awk -v p="$port" '$1 == p' | awk '{ e += ($3 == "echo"); c += ($3 == "customer_record");
			d += ($3 == "delete_records"); u += ($2 == "401") } END { print e + 0, c + 0, d + 0, u + 0 }')"
done
# "exactly as over plain HTTP": the two results, ids and times removed
norm() { jq -S 'walk(if type == "object" then with_entries(select(.key | test("(^|_)(id|ts|time|timestamp|at|ms)$"; "i") | not)) else . end)
	| .calls |= map(del(.error))' "$1"; }
norm client-tls.out >tls.norm
norm client-plain.out >plain.norm
if [ -s tls.norm ] && cmp -s tls.norm plain.norm; then ok "HTTPS and plain HTTP give identical results (tools, replies, refusal, masking)"; else
	not_ok "HTTPS and plain HTTP give identical results" "$(diff tls.norm plain.norm | head -20)"; fi
check_eq "... and the refusal texts match too, ids aside" \
	"$(jq -r '.calls[1].error' client-plain.out | sed -E 's/[0-9a-f-]{16,}//g')" "$(jq -r '.calls[1].error' client-tls.out | sed -E 's/[0-9a-f-]{16,}//g')"

j() { journal_ctl -t mcpwarden _PID="$AGENT_PID" -o json --no-pager "$@"; }
jwait() { # MATCHES...: the last agent journald entry matching them, waiting for it up to 5 s
	local e=""
	for _ in $(seq 50); do
		e=$(j "$@" | tail -n 1)
		[ -n "$e" ] && break
		sleep 0.1
	done
	printf '%s' "$e"
}

# --- refused upstreams -------------------------------------------------------------------------
for c in "$GW_WRONG wrongname.test $UP_WRONG hostname mismatch" \
	"$GW_EXPIRED expired.test $UP_EXPIRED certificate has expired" \
	"$GW_UNKNOWN unknownca.test $UP_UNKNOWN unable to get local issuer certificate"; do
	read -r gw host port reason <<<"$c"
	calls "$gw" >"client-$host.out" 2>"client-$host.err"
	out=$(cat "client-$host.out")
	check_eq "$host: the client's session fails" false "$(jq -r .ok <<<"$out")"
	check_match "$host: the client is told why (relayed by the gateway)" \
		"mcpwarden refused the upstream: upstream certificate: $reason" "$(jq -r .error <<<"$out")"
	e=$(jwait MCPW_DECISION=refused MCPW_SNI="$host")
	check_eq "$host: journald: refused, with the reason and the rule" "upstream certificate: $reason" \
		"$(jq -r .MCPW_TLS_ERROR <<<"$e" 2>&1)"
	check_eq "$host: no request reached the upstream" 0 "$(awk -v p="$port" '$1 == p' upstream.log | wc -l)"
done

# --- journals name the credential --------------------------------------------------------------
e=$(jwait MCPW_DECISION=intercept MCPW_SNI=mcp.test)
check_eq "journald: the intercept decision names the rule and the credential" "upstreams[0] mcp-upstream" \
	"$(jq -r '"\(.MCPW_RULE) \(.MCPW_CREDENTIAL)"' <<<"$e")"
e=$(jwait MCPW_SNI=mcp.test MCPW_TLS_SUBJECT=/CN=mcp.test)
check_eq "journald: the close event names the credential and the upstream's leaf (the test CA's)" \
	"mcp-upstream $(openssl x509 -in mcp.test.crt -noout -fingerprint -sha256 | cut -d= -f2)" \
	"$(jq -r '"\(.MCPW_CREDENTIAL) \(.MCPW_TLS_FINGERPRINT)"' <<<"$e")"
check_match "journald: alice's allowed echo over TLS" "alice finance tools/call echo allow" \
	"$(j MCPW_TOOL=echo MCPW_DECISION=allow | jq -r '"\(.MCPW_SUB) \(.MCPW_GROUPS) \(.MCPW_METHOD) \(.MCPW_TOOL) \(.MCPW_DECISION)"')"
R="$BUILD/mcpwarden-replay"
"$R" --dir "$T_DIR/state/journal" export --format jsonl >export.jsonl 2>export.err
check_eq "the session journal exports, one JSON object a line" 0 "$(jq -e . export.jsonl >/dev/null 2>&1; echo $?)"
check_match "the session journal names the credential" '"credential":"mcp-upstream"' "$(cat export.jsonl)"
for r in "wrongname.test hostname mismatch" "expired.test certificate has expired" \
	"unknownca.test unable to get local issuer certificate"; do
	check_eq "the session journal records the refusal of ${r%% *} with its reason" "upstream certificate: ${r#* }" \
		"$(jq -r --arg h "${r%% *}" '.. | objects | select(.sni? == $h and (.error? // "") != "") | .error' export.jsonl | sort -u)"
done
# every payload decoded, base64 or not
jq -r 'if .payload_encoding == "base64" then (.payload | @base64d) else (.payload // "") end' export.jsonl >export.payloads 2>&1
check_match "the journal holds the masked reply, not the raw one" '\[MASKED:credit_card' "$(cat export.payloads)"
# the raw segments, read by hand (not by mcpwarden-replay)
journal_raw "$T_DIR/state/journal" >segments.raw 2>zstd.err
check_eq "the raw journal frames decode (zstd) and hold the flows" "customer_record|mcp.test" \
	"$(grep -a -o 'customer_record\|mcp\.test' segments.raw | sort -u | paste -sd'|')"
journal_ctl -o export --no-pager >journald.export
check_match "the private journald holds the agent's entries" "MCPW_CREDENTIAL=mcp-upstream" "$(grep -a MCPW_CREDENTIAL journald.export | sort -u)"
mw flows --all --json >flows.json 2>&1
for p in "${GWPID[@]}"; do
	tr '\0' '\n' <"/proc/$p/environ" >"gw-$p.environ"
	tr '\0' ' ' <"/proc/$p/cmdline" >"gw-$p.cmdline"
done

# --- the token: nowhere --------------------------------------------------------------------------
places=(agent.log journald.export journald.log export.jsonl export.payloads segments.raw flows.json upstream.log
	"idp-$IDP.log" gw-*.log gw-*.environ gw-*.cmdline client-*.out client-*.err "$T_DIR/state" "$T_DIR/run")
check_eq "the search covers non-empty sources" "" \
	"$(for f in journald.export export.jsonl export.payloads segments.raw flows.json gw-*.log gw-*.environ client-*.out; do
		[ -s "$f" ] || printf '%s ' "$f"; done)"
check_eq "the search finds the token where it is (control: the credential file)" upstream.token \
	"$(grep -rlaF -- "$TOKEN" upstream.token "${places[@]}" 2>/dev/null | head -n 1)"
check_eq "the token is in no log, journal, journald entry, gateway environment, argv or output" "" \
	"$(grep -rlaF -- "$TOKEN" "${places[@]}" 2>/dev/null | paste -sd' ')"
check_eq "the raw secret from customer_record is in no client output or journal" "" \
	"$(grep -rlaF -- ghp_Zx9Yw8 client-*.out export.payloads segments.raw journald.export 2>/dev/null | paste -sd' ')"
