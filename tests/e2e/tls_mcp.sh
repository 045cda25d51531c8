#!/usr/bin/env bash
# TLS interception in the daemon: an HTTPS JSON-RPC upstream (node https, certificate from a
# test CA made here) that requires a bearer token only the agent holds (value_file); a client
# in the enrolled cgroup trusting mcpwarden's CA sends none.  tools/call allowed and denied
# (-32010) as over plain HTTP; the token is in no log or journal; a passed TLS flow records SNI;
# an expired upstream certificate is refused with OpenSSL's reason (journald text and a 502);
# a call held for approval while the intercepted upstream closes its idle connection goes out,
# once approved, on a new upstream connection whose TLS session is resumed.
T_NAME=tlsmcp
source "$(dirname "$0")/../lib.sh"
t_begin
command -v openssl >/dev/null || skip_all "no openssl command"
PEERS="$T_ROOT/tests/e2e/peers"
cd "$T_DIR" || exit 1
test_ca upca "upstream test CA"
test_leaf up upca 1 DNS:mcp.test,IP:127.0.0.1
test_leaf expired upca -1 DNS:mcp.test,IP:127.0.0.1 up
TOKEN="tok-$(openssl rand -hex 16)"
printf '%s\n' "$TOKEN" >"$T_DIR/upstream.token"
mkdir -p "$T_DIR/state"
check_cmd "mcpwarden ca init" "$BUILD/mcpwarden" ca init --dir "$T_DIR/state/ca"
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9443, 9444, 9445, 9446]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": false},
  "control": {"group": "nogroup"},
  "policy": {"rules": [{"name": "echo ok", "match": {"method": "tools/call", "tool": "echo"}, "action": "allow"},
                       {"name": "held", "match": {"method": "tools/call", "tool": "held"}, "action": "review",
                        "approvers": {"users": ["nobody"]}},
                       {"name": "no other tool", "match": {"method": "tools/call"}, "action": "deny"},
                       {"name": "rest", "action": "allow"}]},
  "journal": {"mode": "strict"},
  "upstreams": [{"match": {"host": "mcp.test", "port": 9443}, "tls": "intercept", "ca_file": "'"$T_DIR/upca.crt"'",
                 "credential": {"name": "mcp-upstream", "bearer_file": "'"$T_DIR/upstream.token"'"}},
                {"match": {"host": "mcp.test", "port": 9445}, "tls": "intercept", "ca_file": "'"$T_DIR/upca.crt"'"},
                {"match": {"host": "mcp.test", "port": 9446}, "tls": "intercept", "ca_file": "'"$T_DIR/upca.crt"'",
                 "credential": {"name": "mcp-upstream", "bearer_file": "'"$T_DIR/upstream.token"'"}}]')
start_agent "$cfg" || { not_ok "agent starts with a CA, upstreams and a credential"; exit 1; }
ok "agent starts with a CA, upstreams and a credential"
spawn_in "$T_CG/other" up.log env UPSTREAM_TOKEN="$TOKEN" node "$PEERS/https-server.mjs" 9443 up.crt up.key
spawn_in "$T_CG/other" up2.log env UPSTREAM_TOKEN="$TOKEN" node "$PEERS/https-server.mjs" 9444 up.crt up.key
spawn_in "$T_CG/other" up3.log env UPSTREAM_TOKEN="$TOKEN" node "$PEERS/https-server.mjs" 9445 expired.crt up.key
spawn_in "$T_CG/other" up4.log env UPSTREAM_TOKEN="$TOKEN" KEEPALIVE_MS=500 node "$PEERS/https-server.mjs" 9446 up.crt up.key
for p in 9443 9444 9445 9446; do wait_port $p || not_ok "upstream $p listens"; done
"$BUILD/mcpwarden" ca show --dir "$T_DIR/state/ca" >mwca.pem 2>/dev/null

call() { # PORT TOOL
	run_in "$T_CG/gw" curl -s --max-time 10 --cacert "$T_DIR/mwca.pem" --resolve "mcp.test:$1:127.0.0.1" \
		-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
		-d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"'"$2"'","arguments":{}}}' \
		"https://mcp.test:$1/mcp"
}
out=$(call 9443 echo)
check_match "an allowed tools/call over intercepted HTTPS reaches the upstream with the agent's token" \
	"upstream got tools/call echo" "$out"
out=$(call 9443 rm)
check_match "a denied tools/call is answered -32010 by the agent" "-32010" "$out"
out=$(run_in "$T_CG/other" curl -s --max-time 5 --cacert upca.crt --resolve mcp.test:9443:127.0.0.1 -d '{}' https://mcp.test:9443/mcp)
check_match "without the agent the upstream refuses (it needs the token)" "no or wrong token" "$out"
chain=$(printf 'Q\n' | run_in "$T_CG/gw" timeout 10 openssl s_client -connect 127.0.0.1:9443 -servername mcp.test \
	-CAfile "$T_DIR/mwca.pem" -showcerts 2>&1)
check_match "s_client against the intercepting side sees the minted leaf" "^ 0 s:CN = mcp.test" "$chain"
check_match "issued by mcpwarden's CA, which is in the chain" "^ 1 s:CN = mcpwarden local CA" "$chain"
check_match "and verifies it" "Verify return code: 0 \(ok\)" "$chain"
out=$(run_in "$T_CG/gw" curl -s --max-time 10 --cacert upca.crt --resolve mcp.test:9444:127.0.0.1 -d '{}' https://mcp.test:9444/mcp)
check_match "an unlisted host passes: end-to-end TLS with the upstream's own certificate, no token added" \
	"no or wrong token" "$out"
# the same host over TLS 1.2: its certificate is in the clear handshake
out=$(run_in "$T_CG/gw" curl -s --max-time 10 --tlsv1.2 --tls-max 1.2 --cacert upca.crt \
	--resolve mcp.test:9444:127.0.0.1 -d '{}' https://mcp.test:9444/mcp)
check_match "an unlisted host over TLS 1.2 passes too" "no or wrong token" "$out"
out=$(call 9445 echo)
check_match "an expired upstream certificate: the gateway gets 502 with the reason" \
	"refused the upstream: upstream certificate: certificate has expired" "$out"
wait_grep "refused: upstream certificate: certificate has expired" "$T_DIR/agent.log"
check_match "journald text names the reason" "refused: upstream certificate: certificate has expired" "$(cat "$T_DIR/agent.log")"

# upstream closed during a hold: one curl, one connection: an allowed call, then one held for
# review; the upstream closes the idle connection (0.5 s) during the hold; approved, the held
# call goes out on a new upstream connection (a new handshake, resumed) and its answer comes
# back on the gateway's unchanged connection
body() { printf '{"jsonrpc":"2.0","id":%s,"method":"tools/call","params":{"name":"%s","arguments":{}}}' "$1" "$2"; }
hdrs=(-H 'content-type: application/json' -H 'accept: application/json, text/event-stream')
spawn_in "$T_CG/gw" held.out curl -s --max-time 30 --cacert "$T_DIR/mwca.pem" --resolve mcp.test:9446:127.0.0.1 \
	-w '\nconnections=%{num_connects}\n' "${hdrs[@]}" -d "$(body 8 echo)" https://mcp.test:9446/mcp \
	--next --cacert "$T_DIR/mwca.pem" --resolve mcp.test:9446:127.0.0.1 -w '\nconnections=%{num_connects}\n' \
	"${hdrs[@]}" -d "$(body 9 held)" https://mcp.test:9446/mcp
HELD_PID=$SPAWNED
hid=""
for _ in $(seq 100); do
	hid=$(mw pending --json | jq -r '.approvals[0].id // empty')
	[ -n "$hid" ] && break
	sleep 0.1
done
check_match "a call after an allowed one on the same connection is held for review" '^[0-9A-Z]{8}$' "$hid"
wait_grep "tls connection 1 closed" up4.log
sleep 0.2 # the agent reads the upstream's close on its event loop
check_match "  ... the upstream closed its idle connection during the hold" "tls connection 1 closed" "$(cat up4.log)"
out=$(runuser -u nobody -- "$BUILD/mcpwarden" --socket "$(MW_SOCK)" approve "$hid" 2>&1)
check_match "  ... approved" "$hid +approved" "$out"
for _ in $(seq 100); do kill -0 "$HELD_PID" 2>/dev/null || break; sleep 0.1; done
check_match "  ... the released call reached the upstream with the agent's token, on a new connection" \
	"upstream got tools/call held" "$(cat held.out)"
check_eq "  ... the gateway's side stayed one connection (curl connected once)" "connections=1 connections=0" \
	"$(grep -o 'connections=[0-9]*' held.out | tr '\n' ' ' | sed 's/ $//')"
check_match "  ... the new upstream handshake resumed the cached session" "tls connection 2 resumed=true" "$(cat up4.log)"
flows=$(mw flows --all --json)
check_eq "the pass flow records its SNI" true "$(jq '[.flows[] | select(.tls.mode == "pass" and .tls.sni == "mcp.test")] | length >= 1' <<<"$flows")"
upfp=$(openssl x509 -in up.crt -noout -fingerprint -sha256 | cut -d= -f2)
pass13=$(jq -c '[.flows[] | select(.tls.mode == "pass" and .tls.version == "TLSv1.3")][0].tls' <<<"$flows")
check_eq "a TLS 1.3 pass flow: the upstream's fingerprint (openssl x509 -fingerprint -sha256), probed" \
	"$upfp probe" "$(jq -r '"\(.fingerprint) \(.cert_source)"' <<<"$pass13")"
check_eq "  ... its subject, and that it does not verify against the system store (test CA)" \
	"/CN=mcp.test unable to get local issuer certificate" "$(jq -r '"\(.subject) \(.cert_verify)"' <<<"$pass13")"
pass12=$(jq -c '[.flows[] | select(.tls.mode == "pass" and .tls.version == "TLSv1.2")][0].tls' <<<"$flows")
check_eq "a TLS 1.2 pass flow: the same fingerprint, read from its own handshake" \
	"$upfp handshake" "$(jq -r '"\(.fingerprint) \(.cert_source)"' <<<"$pass12")"
check_match "the TLS 1.3 pass flow's close event carries the probed fingerprint" \
	"MCPW_TLS_FINGERPRINT=$upfp.*MCPW_TLS_CERT_SOURCE=probe|MCPW_TLS_CERT_SOURCE=probe.*MCPW_TLS_FINGERPRINT=$upfp" \
	"$(grep -F 'MCPW_TLS_CERT_SOURCE=probe' "$T_DIR/agent.log" | head -1)"
check_eq "the upstream saw one probe connection besides the flows" 3 "$(grep -c '^tls connection [0-9]* resumed' up2.log)"
check_eq "the pass flow records the server's version" true "$(jq '[.flows[] | select(.tls.mode == "pass" and (.tls.version | startswith("TLSv")))] | length >= 1' <<<"$flows")"
check_eq "intercepted flows name the credential, by name" true "$(jq '[.flows[] | select(.tls.mode == "intercept" and .tls.credential == "mcp-upstream" and (.tls.fingerprint | length) > 60)] | length >= 1' <<<"$flows")"
check_eq "intercepted flows record the upstream leg's suite (TLS 1.3: 0x13xx)" true "$(jq '[.flows[] | select(.tls.mode == "intercept" and (.tls.cipher | test("^0x13[0-9a-f]{2}$")))] | length >= 1' <<<"$flows")"
check_match "the close event names the credential" "MCPW_CREDENTIAL=mcp-upstream|credential injected" "$(cat "$T_DIR/agent.log")"
"$BUILD/mcpwarden-replay" --dir "$T_DIR/state/journal" export --format jsonl >export.jsonl 2>&1
if [ -s export.jsonl ]; then ok "the session journal exports"; else not_ok "journal export" "$(head -3 export.jsonl)"; fi
check_eq "the session journal's close record of the TLS 1.3 pass flow: the probed fingerprint" "$upfp" \
	"$(jq -r 'select(.type == "close" and .meta.tls.cert_source == "probe") | .meta.tls.fingerprint' export.jsonl | head -1)"
if grep -rqF "$TOKEN" "$T_DIR/agent.log" export.jsonl "$T_DIR/state/journal" "$T_DIR/run" 2>/dev/null; then
	not_ok "the token appears in no log, journal file or export"
else ok "the token appears in no log, journal file or export"; fi
t_end
