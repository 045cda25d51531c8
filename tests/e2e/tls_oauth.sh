#!/usr/bin/env bash
# Issue 7, point 3, end to end with real peers: an upstream credential that is an OAuth
# client_credentials token the agent fetches and refreshes from the IdP itself.
#
# Two real IdPs (npm oidc-provider, peers/idp.mjs): one for the users (alice's token for the
# checkpoint, 300 s) and one for the agent (client mcpwarden-agent, a random secret per run,
# tokens for resource urn:mcp:upstream living IDP_TTL=5 s).  The upstream is the MCP SDK server
# over HTTPS (peers/https-sdk-server.mjs --jwt): it accepts only a JWT of the agent's IdP for
# audience urn:mcp:upstream (signature from the JWKS, issuer, typ, expiry) and logs each
# accepted token's jti/iat/exp/sub/client_id.  The enrolled civic passthrough gateway has no
# token and trusts only mcpwarden's CA.  Shown: a call succeeds with a token the IdP minted
# for the agent's client; calls over ~2.5 token lifetimes all succeed with several distinct
# tokens, each used before its expiry, and journald says "refreshed" by name; a second rule
# whose secret file is wrong gets 503 after MW_FLOW_CRED_WAIT_USEC with invalid_client in
# journald; with the agent's IdP stopped, once the last token ends requests get 503 (never the
# expired token) and journald says why; the client secret, every token the IdP issued to the
# agent and their jti are in no journal, journald entry, log or gateway environment.
source "$(dirname "$0")/../lib.sh"
t_begin
for c in openssl zstd python3 jq unshare curl; do command -v $c >/dev/null || skip_all "no $c command"; done
PEERS="$T_ROOT/tests/e2e/peers"
for f in @modelcontextprotocol/sdk/package.json @civic/passthrough-mcp-server/dist/cli.js oidc-provider/package.json jose/package.json; do
	[ -e "$PEERS/node_modules/$f" ] || skip_all "npm peers not installed (tests/e2e/peers/install.sh)"
done
start_private_journald || skip_all "cannot start a private systemd-journald"
cd "$T_DIR" || exit 1

UP=18971 UP_BAD=18972 UP_BASIC=18973 GW=18981 GW_BAD=18982 GW_BASIC=18983 IDP_USERS=18990 IDP_AGENT=18991
TTL=5
AGENT_ISS="http://127.0.0.1:$IDP_AGENT"

# --- the upstream's test CA and leaf; the agent's client secret (and a wrong one) -------------
test_ca upca "upstream test CA"
test_leaf mcp.test upca 1 DNS:mcp.test
SECRET="cs-$(openssl rand -hex 24)"
(umask 077 && printf '%s' "$SECRET" >agent.secret && printf 'cs-%s\n' "$(openssl rand -hex 24)" >wrong.secret)
printf '127.0.0.1 localhost mcp.test\n' >hosts

# --- the IdPs ----------------------------------------------------------------------------------
need_idp "$IDP_USERS"
IDP_AGENT_SECRET_FILE="$T_DIR/agent.secret" need_idp "$IDP_AGENT" "$TTL"
IDPLOG="$T_DIR/idp-$IDP_AGENT.log"
IDP_AGENT_PID=$SPAWNED
ok "two IdPs (oidc-provider): users on :$IDP_USERS, the agent's on :$IDP_AGENT (tokens live $TTL s)"
ALICE=$(idp_token alice "$IDP_USERS")
[ -n "$ALICE" ] && ok "a token for alice (finance) from the users' IdP" || { not_ok "alice's token"; exit 1; }
agent_token() { # SECRET_FILE [RESOURCE]: the token endpoint's JSON reply for mcpwarden-agent
	run_in "$T_CG/other" curl -s --max-time 5 -d grant_type=client_credentials -d client_id=mcpwarden-agent \
		--data-urlencode "client_secret@$1" -d scope=mcp ${2:+-d "resource=$2"} "$AGENT_ISS/token"
}
agent_token agent.secret urn:mcp:upstream >control.json
jq -r '.access_token // empty' control.json >control.token
CONTROL_JTI=$(cut -d. -f2 control.token | tr '_-' '/+' | base64 -d 2>/dev/null | jq -r .jti 2>/dev/null)
check_match "control: the agent's IdP issues mcpwarden-agent a token for urn:mcp:upstream with the secret" \
	"^[A-Za-z0-9_-]{8,}$" "$CONTROL_JTI"
check_eq "control: the agent's IdP refuses a wrong secret" invalid_client "$(agent_token wrong.secret urn:mcp:upstream | jq -r .error)"

# --- the upstream: the SDK server, JWTs of the agent's IdP for urn:mcp:upstream ----------------
spawn_in "$T_CG/other" upstream.log node "$PEERS/https-sdk-server.mjs" --jwt "$AGENT_ISS" urn:mcp:upstream \
	--https "$UP:mcp.test.crt:mcp.test.key" --https "$UP_BAD:mcp.test.crt:mcp.test.key" \
	--https "$UP_BASIC:mcp.test.crt:mcp.test.key"
for _ in $(seq 100); do grep -qx ready upstream.log && break; kill -0 "$SPAWNED" 2>/dev/null || break; sleep 0.1; done
grep -qx ready upstream.log && ok "the SDK upstream serves HTTPS, verifying JWTs against the agent's IdP" ||
	{ not_ok "the SDK upstream starts" "$(tail -5 upstream.log)"; exit 1; }
init='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
direct() { # TOKEN_FILE: one initialize straight to the upstream (outside the agent) with that bearer
	printf 'Authorization: Bearer %s\n' "$(cat "$1")" >direct.hdr
	run_in "$T_CG/other" curl -s --max-time 5 --cacert upca.crt --resolve "mcp.test:$UP:127.0.0.1" \
		-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' -H @direct.hdr \
		-w '\nHTTP %{http_code}' -d "$init" "https://mcp.test:$UP/mcp"
	rm -f direct.hdr
}
: >none.token
printf '%s' "$ALICE" >alice.token
agent_token agent.secret | jq -r '.access_token // empty' >gwaud.token
check_match "control: directly, without a token, the upstream answers 401" "HTTP 401$" "$(direct none.token)"
check_match "control: directly, alice's token (other issuer and audience) gets 401" "HTTP 401$" "$(direct alice.token)"
check_match "control: directly, an agent token without the resource (audience urn:mcp:gateway) gets 401" \
	"HTTP 401$" "$(direct gwaud.token)"
check_match "control: directly, the agent's token for urn:mcp:upstream opens an MCP session" \
	'"serverInfo":\{"name":"tls-upstream"' "$(direct control.token)"
check_eq "control: the upstream logged the refusals' reasons and the accepted token's jti" \
	"401 no_bearer|401 ERR_JWS_SIGNATURE_VERIFICATION_FAILED|401 ERR_JWT_CLAIM_VALIDATION_FAILED|token jti=$CONTROL_JTI" \
	"$(awk -v p=$UP '$1 == p && ($2 == "401" || $2 == "token") { print $2, $3 }' upstream.log | paste -sd'|')"
upbase=$(wc -l <upstream.log)

# --- the agent: two oauth rules, the second with a wrong secret --------------------------------
mkdir -p "$T_DIR/state"
check_cmd "mcpwarden ca init" "$BUILD/mcpwarden" ca init --dir "$T_DIR/state/ca"
"$BUILD/mcpwarden" ca show --dir "$T_DIR/state/ca" >mwca.pem 2>/dev/null
oauth_rule() { # PORT NAME SECRET_FILE [CLIENT_ID CLIENT_AUTH]
	printf '{"match": {"host": "mcp.test", "port": %s}, "tls": "intercept", "ca_file": "%s",
    "credential": {"name": "%s", "oauth": {"token_endpoint": "%s/token", "client_id": "%s",
      "client_secret_file": "%s", "scope": "mcp", "resource": "urn:mcp:upstream", "client_auth": "%s"}}}' \
		"$1" "$T_DIR/upca.crt" "$2" "$AGENT_ISS" "${4:-mcpwarden-agent}" "$T_DIR/$3" "${5:-post}"
}
cfg=$(gw_agent_config "$UP, $UP_BAD, $UP_BASIC" "$IDP_USERS" '"policy": {"rules": [
    {"name": "finance echoes", "match": {"groups": ["finance"], "method": "tools/call", "tool": "echo"}, "action": "allow"},
    {"name": "sessions", "match": {"method": ["initialize", "notifications/*", "tools/list", "ping"]}, "action": "allow"},
    {"name": "default", "action": "deny", "reason": "not allowed"}]},
  "journal": {"mode": "strict"},
  "upstreams": ['"$(oauth_rule $UP upstream-oauth agent.secret), $(oauth_rule $UP_BAD upstream-oauth-bad wrong.secret),
    $(oauth_rule $UP_BASIC upstream-oauth-basic agent.secret mcpwarden-agent-basic basic)"']')
start_agent_journald "$cfg" || { not_ok "agent starts with three oauth credentials"; exit 1; }
ok "agent starts with three oauth credentials (post, basic, a wrong secret), logging to a private journald"

j() { journal_ctl -t mcpwarden _PID="$AGENT_PID" -o json --no-pager "$@"; }
jwait() { # SECONDS MATCHES...: the last agent journald entry matching them, waiting for it
	local e="" n=$(($1 * 10))
	shift
	for _ in $(seq "$n"); do
		e=$(j "$@" | tail -n 1)
		[ -n "$e" ] && break
		sleep 0.1
	done
	printf '%s' "$e"
}
e=$(jwait 10 MCPW_CREDENTIAL=upstream-oauth MCPW_DECISION=fetched)
check_eq "journald: the agent fetched its first token, by name, with the IdP's lifetime" \
	"c5e0b7d4a3f24f1e8b6d2a9c7e1f4b30 $TTL" "$(jq -r '"\(.MESSAGE_ID) \(.MCPW_TTL)"' <<<"$e" 2>&1)"
e=$(jwait 10 MCPW_CREDENTIAL=upstream-oauth-bad MCPW_DECISION=failed)
check_eq "journald: the wrong secret's rule says why (the IdP's answer), by name" \
	"token endpoint '$AGENT_ISS/token' answered 401: invalid_client" "$(jq -r .MCPW_REASON <<<"$e" 2>&1)"

# --- the gateways: civic passthrough, enrolled, no token, trusting only mcpwarden's CA -----------
declare -A GWPID
start_gw() { # PORT TARGET_URL
	spawn_in "$T_CG/gw" "gw-$1.log" env NODE_EXTRA_CA_CERTS="$T_DIR/mwca.pem" \
		unshare --mount --propagation private -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$T_DIR/hosts" \
		"$PEERS/gateway-civic.sh" "$1" "$2"
	GWPID[$1]=$SPAWNED
}
start_gw $GW "https://mcp.test:$UP/mcp"
start_gw $GW_BAD "https://mcp.test:$UP_BAD/mcp"
start_gw $GW_BASIC "https://mcp.test:$UP_BASIC/mcp"
for p in $GW $GW_BAD $GW_BASIC; do
	wait_port "$p" || wait_port "$p" || { not_ok "gateway :$p listens" "$(tail -5 "gw-$p.log")"; exit 1; }
done
gp=${GWPID[$GW]}
check_eq "the gateway is node in the enrolled cgroup, configured with the HTTPS URL and no token" \
	"node 0::${T_CG#"$CG2"}/gw TARGET_SERVER_URL=https://mcp.test:$UP" \
	"$(cat "/proc/$gp/comm") $(grep '^0::' "/proc/$gp/cgroup") $(tr '\0' '\n' <"/proc/$gp/environ" | grep -E '^TARGET_SERVER_URL=|TOKEN|SECRET|AUTH' | paste -sd' ')"

call() { # GATEWAY_PORT MESSAGE: alice calls echo through the gateway; one JSON line
	run_in "$T_CG/other" node "$PEERS/toolsclient.mjs" "http://127.0.0.1:$1/mcp" --token "$ALICE" \
		--call echo --args "{\"message\":\"$2\"}"
}
tokens_since() { # LINE: "jti iat exp sub client_id now" of the tokens the upstream accepted on :UP after LINE
	tail -n +$(($1 + 1)) upstream.log | awk -v p=$UP '$1 == p && $2 == "token" {
		for (i = 3; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		print v["jti"], v["iat"], v["exp"], v["sub"], v["client_id"], v["now"] }'
}
issued() { # the jti of every token the IdP issued to the agent's clients (post and basic)
	awk '$1 == "issued" && $2 ~ /^mcpwarden-agent(-basic)?$/ { sub("jti=", "", $3); print $3 }' "$IDPLOG"
}

# --- one call ----------------------------------------------------------------------------------
out=$(call $GW "first call")
check_eq "alice's echo through the gateway succeeds, answered by the SDK upstream" "true Echo: first call" \
	"$(jq -r '.calls[0] | "\(.ok) \(.text)"' <<<"$out" 2>&1)"
tokens_since "$upbase" >first.tokens
check_match "the upstream accepted a token for it" "^[A-Za-z0-9_-]{8,} " "$(cat first.tokens)"
check_eq "every token it accepted was minted for the agent's client (sub and client_id mcpwarden-agent)" \
	"mcpwarden-agent mcpwarden-agent" "$(awk '{ print $4, $5 }' first.tokens | sort -u | paste -sd'|')"
check_eq "and was issued by the agent's IdP to mcpwarden-agent (its jti in the IdP's issued log), not the test's control token" \
	"" "$(awk '{ print $1 }' first.tokens | grep -vxF -f <(issued) ; awk '{ print $1 }' first.tokens | grep -xF "$CONTROL_JTI")"
e=$(jwait 5 MCPW_DECISION=intercept MCPW_SNI=mcp.test)
check_eq "journald: the intercept decision names the rule and the credential" "upstreams[0] upstream-oauth" \
	"$(jq -r '"\(.MCPW_RULE) \(.MCPW_CREDENTIAL)"' <<<"$e")"

# --- client_secret_basic: the same through the rule with "client_auth": "basic" ------------------
basicbase=$(wc -l <upstream.log)
out=$(call $GW_BASIC "basic call")
check_eq "client_auth basic: alice's echo succeeds through the third rule" "true Echo: basic call" \
	"$(jq -r '.calls[0] | "\(.ok) \(.text)"' <<<"$out" 2>&1)"
check_eq "... the upstream accepted a token minted for mcpwarden-agent-basic (client_secret_basic at the IdP)" \
	"mcpwarden-agent-basic" "$(tail -n +$((basicbase + 1)) upstream.log | awk -v p=$UP_BASIC '$1 == p && $2 == "token"' |
		grep -o 'client_id=[^ ]*' | cut -d= -f2 | sort -u | paste -sd'|')"


# --- the wrong secret's rule, in the background while the refresh runs -------------------------
(
	t0=$(date +%s%N)
	call $GW_BAD "never arrives" >bad.out 2>bad.err
	echo $((($(date +%s%N) - t0) / 1000000)) >bad.ms
) &
BAD_SUB=$!

# --- refresh: calls over ~2.5 token lifetimes -----------------------------------------------------
refbase=$(wc -l <upstream.log)
n=0 good=0
t_end_refresh=$(($(date +%s) + TTL * 5 / 2 + 1))
while [ "$(date +%s)" -lt $t_end_refresh ]; do
	n=$((n + 1))
	out=$(call $GW "call $n")
	[ "$(jq -r '.calls[0] | "\(.ok) \(.text)"' <<<"$out" 2>&1)" = "true Echo: call $n" ] && good=$((good + 1)) ||
		t_note "call $n: $out"
	sleep 0.5
done
check_eq "$n calls over $((TTL * 5 / 2 + 1)) s (token lifetime $TTL s) all succeed" "$n" "$good"
tokens_since "$refbase" >refresh.tokens
distinct=$(awk '{ print $1 }' refresh.tokens | sort -u | wc -l)
t_note "the upstream accepted $(wc -l <refresh.tokens) requests with $distinct distinct tokens"
check_eq "the upstream saw at least two distinct tokens (different jti)" 1 "$((distinct >= 2))"
check_eq "all of them the agent's (sub, client_id), issued to it by the IdP" "mcpwarden-agent mcpwarden-agent|" \
	"$(awk '{ print $4, $5 }' refresh.tokens | sort -u | paste -sd'|')|$(awk '{ print $1 }' refresh.tokens | grep -vxF -f <(issued))"
check_eq "each was used before its expiry (upstream clock: now < exp), none refused" "0 0" \
	"$(awk '$6 >= $3' refresh.tokens | wc -l) $(tail -n +$((upbase + 1)) upstream.log | awk -v p=$UP '$1 == p && $2 == "401"' | wc -l)"
nref=$(j MCPW_CREDENTIAL=upstream-oauth MCPW_DECISION=refreshed | wc -l)
check_eq "journald says the credential was refreshed, by name (>= 2 entries)" 1 "$((nref >= 2))"
check_match "... in words" "Upstream credential 'upstream-oauth': token refreshed, valid $TTL s" \
	"$(j MCPW_CREDENTIAL=upstream-oauth MCPW_DECISION=refreshed | tail -n 1 | jq -r .MESSAGE)"

# --- the wrong secret: 503 after MW_FLOW_CRED_WAIT_USEC ------------------------------------------
wait "$BAD_SUB"
ms=$(cat bad.ms)
check_match "wrong secret: the client's session fails with the agent's 503 and its reason" \
	"503.*the upstream's credential is not available yet" "$(jq -r .error bad.out 2>&1)"
check_eq "... after the bounded wait (MW_FLOW_CRED_WAIT_USEC, 10 s; took ${ms} ms)" 1 "$((ms >= 10000 && ms < 20000))"
check_eq "... and no request reached the upstream on that port" 0 "$(awk -v p=$UP_BAD '$1 == p' upstream.log | wc -l)"
check_eq "... the IdP refused the rule's fetches (its retries: >= 2 more 401s than the control's one)" 1 \
	"$(($(grep -c '^POST /token 401$' "$IDPLOG") >= 3))"

# --- the agent's IdP stopped: once the last token ends, 503, never the expired token ------------
t_kill "$IDP_AGENT_PID"
stopbase=$(wc -l <upstream.log)
last_exp=$(awk '$1 == "issued" && $2 == "mcpwarden-agent" { sub("exp=", "", $4); e = $4 } END { print e }' "$IDPLOG")
e=$(jwait $((TTL + 15)) MCPW_CREDENTIAL=upstream-oauth MCPW_DECISION=expired)
check_match "IdP stopped: journald says the held token ended and why (the endpoint unreachable), by name" \
	"^token endpoint '$AGENT_ISS/token': Could(n't| not) connect" "$(jq -r .MCPW_REASON <<<"$e" 2>&1)"
check_eq "... once the IdP's last token for the agent has ended (exp $last_exp)" 1 "$(($(date +%s) >= last_exp))"
t0=$(date +%s%N)
out=$(call $GW "after the end")
ms=$((($(date +%s%N) - t0) / 1000000))
check_match "... then a call fails with the agent's 503 after the bounded wait (took ${ms} ms)" \
	"503.*the upstream's credential is not available yet" "$(jq -r .error <<<"$out" 2>&1)"
check_eq "... and the upstream saw no request (no expired token, no 401) since the stop" 0 \
	"$(tail -n +$((stopbase + 1)) upstream.log | awk -v p=$UP '$1 == p' | wc -l)"

# --- the secret and the agent's tokens: nowhere ----------------------------------------------------
R="$BUILD/mcpwarden-replay"
"$R" --dir "$T_DIR/state/journal" export --format jsonl >export.jsonl 2>export.err
check_match "the session journal names the credential" '"credential":"upstream-oauth"' "$(cat export.jsonl)"
jq -r 'if .payload_encoding == "base64" then (.payload | @base64d) else (.payload // "") end' export.jsonl >export.payloads 2>&1
journal_raw "$T_DIR/state/journal" >segments.raw 2>zstd.err
check_match "the raw journal frames decode (zstd) and hold the calls" "Echo: call 1" "$(grep -a -o 'Echo: call 1' segments.raw | head -n 1)"
journal_ctl -o export --no-pager >journald.export
mw flows --all --json >flows.json 2>&1
for p in "${GWPID[@]}"; do
	tr '\0' '\n' <"/proc/$p/environ" >"gw-$p.environ"
	tr '\0' ' ' <"/proc/$p/cmdline" >"gw-$p.cmdline"
done
issued >issued.jti
t_note "the IdP issued $(grep -cvxF "$CONTROL_JTI" issued.jti) tokens to the agent"
# scan FILES...: which files hold the secret, a jti the IdP issued to mcpwarden-agent, or a JWT
# (any base64url form) whose claims are mcpwarden-agent's; one "file: what" a line
scan() {
	python3 - "$SECRET" issued.jti "$@" <<'PY' || echo "scan failed"
import base64, json, os, re, sys
secret, jtis = sys.argv[1].encode(), [l.strip().encode() for l in open(sys.argv[2]) if l.strip()]
jwt = re.compile(rb"eyJ[A-Za-z0-9_-]{8,}\.(eyJ[A-Za-z0-9_-]+)\.[A-Za-z0-9_-]+")
def files(p):
    if os.path.isdir(p):
        for d, _, fs in os.walk(p):
            for f in fs:
                if os.path.isfile(os.path.join(d, f)) and not os.path.islink(os.path.join(d, f)):
                    yield os.path.join(d, f)
    elif os.path.isfile(p):
        yield p
for arg in sys.argv[3:]:
    for f in files(arg):
        b = open(f, "rb").read()
        what = set()
        if secret in b:
            what.add("client secret")
        for j in jtis:
            if j in b:
                what.add("jti")
        for m in jwt.finditer(b):
            try:
                c = json.loads(base64.urlsafe_b64decode(m.group(1) + b"=" * (-len(m.group(1)) % 4)))
            except Exception:
                continue
            if c.get("client_id", "").startswith("mcpwarden-agent") or c.get("jti", "").encode() in jtis:
                what.add("agent token")
        if what:
            print(f"{f}: {' '.join(sorted(what))}")
PY
}
check_eq "control: the scan finds the secret, a token and its jti where they are" \
	"agent.secret: client secret|control.json: agent token|control.token: agent token|idp-$IDP_AGENT.log: jti" \
	"$(scan agent.secret control.json control.token "idp-$IDP_AGENT.log" | sort | paste -sd'|')"
places=(agent.log journald.export journald.log export.jsonl export.payloads segments.raw flows.json
	gw-*.log gw-*.environ gw-*.cmdline "$T_DIR/state" "$T_DIR/run" bad.out bad.err)
check_eq "the search covers non-empty sources" "" \
	"$(for f in journald.export export.jsonl export.payloads segments.raw flows.json gw-*.log gw-*.environ; do
		[ -s "$f" ] || printf '%s ' "$f"; done)"
check_eq "the secret, the agent's tokens and their jti are in no journal, journald entry, log or gateway environment" \
	"" "$(scan "${places[@]}" | paste -sd'|')"
check_eq "the peers' logs hold no secret and no token (the jti, by design, only)" "" \
	"$(scan upstream.log "$IDPLOG" "idp-$IDP_USERS.log" | grep -v ': jti$' | paste -sd'|')"
