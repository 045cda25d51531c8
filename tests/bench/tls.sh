#!/usr/bin/env bash
# TLS interception cost, one run: handshakes per second through the intercepting agent vs
# straight to the upstream (openssl s_time without SNI: the rule for 127.0.0.1 intercepts;
# new sessions and resumed ones), and the latency
# of an HTTPS JSON-RPC tools/call (curl, a new connection each) intercepted vs direct.
# mitmproxy is not compared: Debian has it (8.1.1) but it is not in tests/deps.sh.
T_NAME=tlsbench
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
N=${N:-200}
SECS=${SECS:-5}
cd "$T_DIR" || exit 1
ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
openssl req -x509 "${ec[@]}" -keyout upca.key -out upca.crt -subj "/CN=bench CA" -days 2 >openssl.log 2>&1
printf 'subjectAltName=DNS:mcp.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >leaf.ext
openssl req "${ec[@]}" -keyout up.key -out up.csr -subj /CN=mcp.test >>openssl.log 2>&1
openssl x509 -req -in up.csr -CA upca.crt -CAkey upca.key -CAcreateserial -days 1 -extfile leaf.ext -out up.crt >>openssl.log 2>&1
printf 'benchtoken\n' >token
mkdir -p state && "$BUILD/mcpwarden" ca init --dir "$T_DIR/state/ca" >/dev/null 2>&1
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9443]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}], "journal": {"mode": "off"},
  "identity": {"require_token": false}, "policy": {"rules": [{"name": "all", "action": "allow"}]},
  "upstreams": [{"match": {"host": "mcp.test"}, "tls": "intercept", "ca_file": "'"$T_DIR/upca.crt"'",
                 "credential": {"bearer_file": "'"$T_DIR/token"'"}},
                {"match": {"host": "127.0.0.1"}, "tls": "intercept", "ca_file": "'"$T_DIR/upca.crt"'"}]')
start_agent "$cfg" || exit 1
spawn_in "$T_CG/other" up.log env UPSTREAM_TOKEN=benchtoken node "$PEERS/https-server.mjs" 9443 up.crt up.key
wait_port 9443
"$BUILD/mcpwarden" ca show --dir state/ca >mwca.pem 2>/dev/null

stime() { # CGROUP new|reuse
	run_in "$1" openssl s_time -connect 127.0.0.1:9443 -time "$SECS" -"$2" 2>&1 |
		awk '/connections in .* real seconds/ { print $1 / $4 }' | tail -1
}
lat() { # CGROUP CAFILE: mean ms of N tools/call, a new connection each
	local total=0
	for _ in $(seq "$N"); do
		t=$(run_in "$1" curl -s -o /dev/null -w '%{time_total}' --cacert "$2" \
			--resolve mcp.test:9443:127.0.0.1 -H 'content-type: application/json' \
			-H "authorization: Bearer benchtoken" -H 'accept: application/json, text/event-stream' \
			-d '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{}}}' \
			https://mcp.test:9443/mcp)
		total=$(awk -v a="$total" -v b="$t" 'BEGIN { print a + b }')
	done
	awk -v a="$total" -v n="$N" 'BEGIN { printf "%.2f", a * 1000 / n }'
}
d_new=$(stime "$T_CG/other" new); d_reuse=$(stime "$T_CG/other" reuse)
i_new=$(stime "$T_CG/gw" new); i_reuse=$(stime "$T_CG/gw" reuse)
d_lat=$(lat "$T_CG/other" upca.crt); i_lat=$(lat "$T_CG/gw" mwca.pem)
echo "# handshakes/s direct: new $d_new, resumed $d_reuse"
echo "# handshakes/s intercepted: new $i_new, resumed $i_reuse"
echo "# tools/call mean latency (new connection each, $N calls): direct $d_lat ms, intercepted $i_lat ms"
ok "tls bench: direct new=$d_new reuse=$d_reuse hs/s; intercepted new=$i_new reuse=$i_reuse hs/s; call direct=${d_lat}ms intercepted=${i_lat}ms"
t_end
