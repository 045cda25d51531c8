#!/usr/bin/env bash
# Identity against a real OpenID Provider (npm oidc-provider 9, tests/e2e/peers/idp.mjs): its
# RS256 and ES256 JWT access tokens (typ at+jwt, custom claims groups and email) for three
# client_credentials identities verify with the right claims through discovery + JWKS; a
# token for another audience, an expired one and a tampered one are refused. The verifier is
# build/tests/oidccheck (agent/oidc.c + agent/jwt.c), run inside the test's netns.
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
CHECK=${OIDCCHECK:-$BUILD/tests/oidccheck}
[ -x "$CHECK" ] || { echo "Bail out! $CHECK not built"; exit 1; }
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }

P1=18701 # tokens live 300 s
P2=18702 # tokens live 2 s
start_idp $P1 300 && ok "oidc-provider up on 127.0.0.1:$P1 (TTL 300 s)" || { not_ok "IdP $P1 starts" "$(tail -5 "$T_DIR/idp-$P1.log")"; exit 1; }
start_idp $P2 2 && ok "oidc-provider up on 127.0.0.1:$P2 (TTL 2 s)" || { not_ok "IdP $P2 starts" "$(tail -5 "$T_DIR/idp-$P2.log")"; exit 1; }

# token ID RESOURCE PORT: a client_credentials access token from the real IdP
token() { idp_token "$1" "$4" "$2"; }
# check CONFIG TOKEN...: one JSON line per token (stderr: one refresh line per issuer)
check() { run_in "$T_CG/other" "$CHECK" "$@" 2>>"$T_DIR/refresh.log"; }
b64url_dec() { local s=${1//-/+}; s=${s//_//}; while ((${#s} % 4)); do s+="="; done; base64 -d <<<"$s"; }
b64url_enc() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

cat >"$T_DIR/mcpwarden.json" <<JSON
{
  "identity": {
    "require_token": true,
    "oidc": [
      {"issuer": "http://127.0.0.1:$P1", "audience": "urn:mcp:gateway", "typ": "at+jwt",
       "groups_claim": "groups"},
      {"issuer": "http://127.0.0.1:$P2", "audience": "urn:mcp:gateway", "typ": "at+jwt",
       "leeway": "0s"}
    ]
  }
}
JSON
CFG=$T_DIR/mcpwarden.json

A_RS=$(token alice urn:mcp:gateway x $P1)
B_ES=$(token bob urn:mcp:gateway:es256 x $P1)
C_RS=$(token carol urn:mcp:gateway x $P1)
A_ES=$(token alice urn:mcp:gateway:es256 x $P1)
A_OTHER=$(token alice urn:other:api x $P1)
if [ -n "$A_RS" ] && [ -n "$B_ES" ] && [ -n "$C_RS" ] && [ -n "$A_ES" ] && [ -n "$A_OTHER" ]; then
	ok "the IdP issued 5 client_credentials tokens"
else
	not_ok "tokens issued" "$(tail -5 "$T_DIR/idp-$P1.log")"
fi
check_eq "RS256 token header from the IdP" '{"alg":"RS256","typ":"at+jwt","kid":"rsa-1"}' "$(b64url_dec "${A_RS%%.*}" | jq -c .)"
check_eq "ES256 token header from the IdP" '{"alg":"ES256","typ":"at+jwt","kid":"ec-1"}' "$(b64url_dec "${B_ES%%.*}" | jq -c .)"

# 1. good tokens, through discovery + JWKS
out=$(check "$CFG" "$A_RS" "$B_ES" "$C_RS" "$A_ES"); rc=$?
check_eq "four good tokens verify (exit 0)" 0 "$rc"
l1=$(sed -n 1p <<<"$out"); l2=$(sed -n 2p <<<"$out"); l3=$(sed -n 3p <<<"$out"); l4=$(sed -n 4p <<<"$out")
check_eq "alice RS256: sub, groups, email, alg" 'alice ["finance"] alice@example.com RS256 rsa-1' \
	"$(jq -r '[.sub, (.groups|tojson), .email, .alg, .kid] | join(" ")' <<<"$l1")"
check_eq "bob ES256: sub, groups, email, alg" 'bob ["eng"] bob@example.com ES256 ec-1' \
	"$(jq -r '[.sub, (.groups|tojson), .email, .alg, .kid] | join(" ")' <<<"$l2")"
check_eq "carol RS256: sub, groups, email" 'carol ["dba"] carol@example.com RS256' \
	"$(jq -r '[.sub, (.groups|tojson), .email, .alg] | join(" ")' <<<"$l3")"
check_eq "alice ES256: sub, groups, iss, scope" "alice [\"finance\"] http://127.0.0.1:$P1 mcp ES256" \
	"$(jq -r '[.sub, (.groups|tojson), .iss, .scope, .alg] | join(" ")' <<<"$l4")"
if grep -qF "$(cut -d. -f3 <<<"$A_RS")" <<<"$out$(cat "$T_DIR/refresh.log")"; then
	not_ok "the verifier never prints a token"
else
	ok "the verifier never prints a token (only a sha256 prefix: $(jq -r .sha256_prefix <<<"$l1"))"
fi

# 2. the keys came through discovery
check_match "discovery was fetched from the IdP" "^GET /.well-known/openid-configuration 200$" "$(cat "$T_DIR/idp-$P1.log")"
check_match "then the JWKS it names" "^GET /jwks 200$" "$(cat "$T_DIR/idp-$P1.log")"
check_eq "both issuers refreshed with 2 keys each (RS256 + ES256)" "2 2" \
	"$(jq -rs '[.[0:2][] | select(.ok) | .n_keys] | join(" ")' "$T_DIR/refresh.log")"

# 3. refusals
out=$(check "$CFG" "$A_OTHER"); rc=$?
check_eq "a token for another audience is refused (EACCES)" "1 EACCES" "$rc $(jq -r .errno <<<"$out")"
check_match "... and says why" "aud" "$(jq -r .error <<<"$out")"

IFS=. read -r h p s <<<"$A_RS"
p2=$(b64url_dec "$p" | sed 's/"finance"/"dba"/' | b64url_enc)
out=$(check "$CFG" "$h.$p2.$s"); rc=$?
check_eq "a tampered token (groups finance -> dba) is refused (EKEYREJECTED)" "1 EKEYREJECTED" "$rc $(jq -r .errno <<<"$out")"
s2=$(tr 'A-Za-z' 'B-ZAb-za' <<<"${s:0:10}")${s:10}
out=$(check "$CFG" "$h.$p.$s2")
check_eq "a token with a tampered signature is refused" "EKEYREJECTED" "$(jq -r .errno <<<"$out")"
IFS=. read -r h p s <<<"$B_ES"
hn=$(printf '{"alg":"none","typ":"at+jwt","kid":"ec-1"}' | b64url_enc)
out=$(check "$CFG" "$hn.$p.")
check_match "alg none with the IdP's payload is refused" "^(EKEYREJECTED|EBADMSG)$" "$(jq -r .errno <<<"$out")"

# 4. expiry: a 2 s token verifies now, not 3 s later (leeway 0 s for that issuer)
SHORT=$(token bob urn:mcp:gateway:es256 x $P2)
out=$(check "$CFG" "$SHORT")
check_eq "a 2 s token verifies while fresh (issuer chosen by iss: :$P2)" "bob http://127.0.0.1:$P2" \
	"$(jq -r '[.sub, .iss] | join(" ")' <<<"$out")"
sleep 3
out=$(check "$CFG" "$SHORT"); rc=$?
check_eq "the same token 3 s later is refused as expired (EKEYEXPIRED)" "1 EKEYEXPIRED" "$rc $(jq -r .errno <<<"$out")"

# 5. discovery must name exactly the configured issuer; a configured jwks_uri skips it
sed "s|\"http://127.0.0.1:$P1\"|\"http://127.0.0.1:$P1/\"|" "$CFG" >"$T_DIR/slash.json"
: >"$T_DIR/refresh.log"
out=$(check "$T_DIR/slash.json" "$A_RS")
check_match "an issuer differing by a trailing slash fails discovery" \
	"discovery names issuer 'http://127.0.0.1:$P1', not the configured one" "$(cat "$T_DIR/refresh.log")"
check_eq "... and its tokens are not accepted" false "$(jq -r .ok <<<"$out")"
cat >"$T_DIR/direct.json" <<JSON
{"identity": {"oidc": [{"issuer": "http://127.0.0.1:$P1", "audience": "urn:mcp:gateway",
  "jwks_uri": "http://127.0.0.1:$P1/jwks"}]}}
JSON
n_disc=$(grep -c "^GET /.well-known/openid-configuration" "$T_DIR/idp-$P1.log")
out=$(check "$T_DIR/direct.json" "$C_RS")
check_eq "with a configured jwks_uri the token verifies" carol "$(jq -r .sub <<<"$out")"
check_eq "... without fetching discovery" "$n_disc" "$(grep -c "^GET /.well-known/openid-configuration" "$T_DIR/idp-$P1.log")"
