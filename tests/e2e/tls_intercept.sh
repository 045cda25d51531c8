#!/usr/bin/env bash
# TLS interception with real OpenSSL peers: `openssl s_server` as the upstream (certificate
# from a test CA made here), `openssl s_client` as the gateway, and between them the engine
# (build/tests/tlsrelay: tls_hello + ca + tls on two loopback sockets).  s_client must see
# the chain minted by mcpwarden's CA (made with `mcpwarden ca init`) and verify it, the
# upstream's reply must come through, a second connection must resume on both legs, and an
# upstream with a wrong host name, an expired certificate or one from an unknown CA must be
# refused with the verifier's reason.
T_NAME=tls
source "$(dirname "$0")/../lib.sh"
t_begin
command -v openssl >/dev/null || skip_all "no openssl command"
RELAY="$BUILD/tests/tlsrelay"
[ -x "$RELAY" ] || { echo "Bail out! $RELAY not built"; exit 1; }
cd "$T_DIR" || exit 1

# --- certificates: the upstream's test CA, a good leaf, an expired one -------------------------
test_ca upca "upstream test CA"
test_leaf up upca 1 DNS:upstream.test
test_leaf expired upca -1 DNS:upstream.test up
check_cmd "mcpwarden ca init" "$BUILD/mcpwarden" ca init --dir "$T_DIR/ca"
"$BUILD/mcpwarden" ca show --dir "$T_DIR/ca" >mwca.pem 2>show.err
check_cmd "ca show prints the CA certificate" cmp -s mwca.pem "$T_DIR/ca/ca.crt"
check_match "ca show prints the SHA-256 fingerprint on stderr" \
	"^SHA-256 fingerprint: ([0-9A-F]{2}:){31}[0-9A-F]{2}$" "$(cat show.err)"
check_eq "the CA key is 0600" "$(stat -c %a "$T_DIR/ca/ca.key")" "600"

# --- peers: upstreams (good, expired) and relays (trusting the test CA, or the system store) --
spawn_in "$T_CG/other" s_server.log openssl s_server -accept 127.0.0.1:9443 -cert up.crt \
	-key up.key -www -naccept 100
spawn_in "$T_CG/other" s_server_expired.log openssl s_server -accept 127.0.0.1:9444 \
	-cert expired.crt -key up.key -www
spawn_in "$T_CG/other" relay.log "$RELAY" --listen 8443 --upstream 127.0.0.1:9443 \
	--ca-dir "$T_DIR/ca" --ca-file "$T_DIR/upca.crt"
spawn_in "$T_CG/other" relay_system.log "$RELAY" --listen 8444 --upstream 127.0.0.1:9443 \
	--ca-dir "$T_DIR/ca"
spawn_in "$T_CG/other" relay_expired.log "$RELAY" --listen 8445 --upstream 127.0.0.1:9444 \
	--ca-dir "$T_DIR/ca" --ca-file "$T_DIR/upca.crt"
for p in 9443 9444 8443 8444 8445; do
	wait_port $p || { not_ok "port $p listens"; exit 1; }
done

client() { # PORT SNI [s_client options...]
	local port=$1 sni=$2
	shift 2
	printf 'GET / HTTP/1.0\r\n\r\n' | run_in "$T_CG/other" timeout 10 openssl s_client \
		-connect "127.0.0.1:$port" -servername "$sni" -CAfile "$T_DIR/ca/ca.crt" \
		-verify_hostname "$sni" -verify_return_error -showcerts -ign_eof "$@" 2>&1
}

out=$(client 8443 upstream.test -sess_out sess.pem)
check_match "s_client verifies the minted leaf" "Verify return code: 0 \(ok\)" "$out"
check_match "the leaf is for the SNI" "^ 0 s:CN = upstream.test$" "$out"
check_match "the leaf is issued by mcpwarden's CA" "^   i:CN = mcpwarden local CA, O = mcpwarden$" \
	"$(printf '%s\n' "$out" | grep -A1 '^ 0 s:')"
check_match "the CA is sent in the chain" "^ 1 s:CN = mcpwarden local CA" "$out"
check_match "the upstream's reply comes through" "HTTP/1.0 200 ok" "$out"
upfp=$(openssl x509 -in up.crt -noout -fingerprint -sha256 | cut -d= -f2)
sleep 0.3
check_match "the relay recorded the upstream's subject and fingerprint" \
	"intercepted upstream.test upstream=TLSv1.3 resumed=0 subject=/CN=upstream.test fingerprint=$upfp" \
	"$(cat relay.log)"

out=$(client 8443 upstream.test -sess_in sess.pem)
check_match "the gateway leg resumes" "^Reused, TLSv1.3" "$out"
sleep 0.3
check_match "the upstream leg resumes" "intercepted upstream.test .*resumed=1" "$(tail -n 1 relay.log)"

out=$(client 8443 other.test)
sleep 0.3
check_match "a wrong host name is refused" \
	"refused other.test: upstream certificate: hostname mismatch" "$(tail -n 1 relay.log)"
if printf '%s' "$out" | grep -q "HTTP/1.0 200 ok"; then not_ok "the gateway gets no reply"; else
	ok "the gateway gets no reply"; fi
client 8444 upstream.test >/dev/null
sleep 0.3
check_match "an unknown CA is refused" \
	"refused upstream.test: upstream certificate: unable to get local issuer certificate" \
	"$(tail -n 1 relay_system.log)"
client 8445 upstream.test >/dev/null
sleep 0.3
check_match "an expired certificate is refused" \
	"refused upstream.test: upstream certificate: certificate has expired" \
	"$(tail -n 1 relay_expired.log)"
