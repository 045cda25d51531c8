#!/usr/bin/env bash
# Do TLS handshakes stall other flows?  The worst latency of a plain relayed flow (mwbench
# ping-pong, 1 byte, through the agent) measured three times: alone; while a client opens
# intercepted TLS connections each with a new SNI (the agent mints a leaf for every one,
# then runs both handshakes: the worst case for the event loop); and while the same client
# reuses one SNI (handshakes without minting, tickets off: full handshakes).  The third run
# separates the cost of minting from that of handshakes and of sharing the CPUs.
# With perf, each run also times every flow_io() dispatch of the agent (uprobes on its entry
# and return: the time the event loop spends on one flow's event, handshakes and minting
# included, wall time, so preemption on a busy machine counts too).
# Also prints build/bench/tlsmint (ca_mint and tls_intercept_new wall times).
# Usage: tests/bench/tlsstall.sh (COUNT=20000 round trips per run)
T_NAME=tlsstall
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
COUNT=${COUNT:-20000}
MWB="$BUILD/bench/mwbench"
cd "$T_DIR" || exit 1
test_ca upca "stall CA"
test_leaf up upca 1 "DNS:*.mint.test"
mkdir -p state && "$BUILD/mcpwarden" ca init --dir "$T_DIR/state/ca" >/dev/null 2>&1
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000, 9443]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}], "journal": {"mode": "off"},
  "upstreams": [{"match": {"host": "*.mint.test"}, "tls": "intercept", "ca_file": "'"$T_DIR/upca.crt"'"}]')
start_agent "$cfg" || exit 1
spawn_in "$T_CG/other" up.log node "$PEERS/https-server.mjs" 9443 up.crt up.key
spawn_in "$T_CG/other" srv.log "$MWB" serve 127.0.0.1:9000
wait_port 9443 && wait_port 9000 || { not_ok "servers start"; exit 1; }
# the TLS client: handshakes as fast as it can, one connection at a time, until killed;
# "new": a new SNI each (a leaf minted each), "same": one SNI; the count in a file
cat >hs.py <<'PY'
import socket, ssl, sys, os
mode, out = sys.argv[1], sys.argv[2]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.options |= ssl.OP_NO_TICKET
tag, n = os.urandom(4).hex(), 0
while True:
    name = f"n{n}-{tag}.mint.test" if mode == "new" else "same.mint.test"
    try:
        with socket.create_connection(("127.0.0.1", 9443)) as s:
            with ctx.wrap_socket(s, server_hostname=name) as t:
                t.sendall(b"GET / HTTP/1.0\r\n\r\n")
                t.recv(1)
    except OSError:
        pass
    n += 1
    if n % 20 == 0:
        open(out, "w").write(str(n))
PY
PERF=""
if command -v perf >/dev/null && perf probe -q -x "$BUILD/mcpwardend" --add 'mwtlsstall:fin=flow_io' \
	--add 'mwtlsstall:fout=flow_io%return' >/dev/null 2>&1; then
	PERF=1
	trap 'perf probe -q -d "mwtlsstall:*" >/dev/null 2>&1' EXIT
fi
loop_stats() { # perf.data: flow_io durations: count, p50, p99, max (us), over 1 ms
	perf script -i "$1" -F tid,time,event 2>/dev/null | awk '
		{ t = $2; sub(":", "", t); t *= 1e6 }
		$3 ~ /fin/ { start[$1] = t; next }
		$3 ~ /fout/ && ($1 in start) { printf "%.1f\n", t - start[$1]; delete start[$1] }' |
		sort -n | awk '{ d[++n] = $1; if ($1 > 1000) over++ }
		END {
			if (!n) { print "no samples"; exit }
			printf "flow_io: %d dispatches, p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us, %d over 1 ms\n",
				n, d[int(n * 0.5) + 1], d[int(n * 0.99) + 1], d[int(n * 0.999) + 1], d[n], over + 0
		}'
}
pp() { run_in "$T_CG/gw" "$MWB" pingpong 127.0.0.1:9000 --size 1 --count "$COUNT" --json; }
run() { # LABEL [new|same]
	local label=$1 mode=${2:-} pid="" t0 t1 n=0 j
	if [ -n "$mode" ]; then
		rm -f "hs.$mode"
		spawn_in "$T_CG/gw" "hs.$mode.log" python3 hs.py "$mode" "hs.$mode"
		pid=$SPAWNED
		sleep 1
	fi
	n0=$(cat "hs.$mode" 2>/dev/null || echo 0)
	if [ -n "$PERF" ]; then
		perf record -q -e 'mwtlsstall:fin' -e 'mwtlsstall:fout__return' -p "$AGENT_PID" \
			-o "perf.${mode:-alone}.data" >/dev/null 2>&1 &
		ppid=$!
		sleep 0.5
	fi
	t0=$(date +%s.%N)
	j=$(pp)
	t1=$(date +%s.%N)
	if [ -n "$PERF" ]; then
		kill -INT "$ppid"
		wait "$ppid" 2>/dev/null
	fi
	if [ -n "$pid" ]; then
		n=$(( $(cat "hs.$mode" 2>/dev/null || echo 0) - n0 ))
		t_kill "$pid"
	fi
	printf '%-34s p50 %7.1f us  p99 %7.1f us  p99.9 %8.1f us  max %8.1f us  (%s handshakes/s)\n' "$label" \
		"$(jq .p50_us <<<"$j")" "$(jq .p99_us <<<"$j")" "$(jq .p999_us <<<"$j")" "$(jq .max_us <<<"$j")" \
		"$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
	[ -n "$PERF" ] && echo "#   agent $(loop_stats "perf.${mode:-alone}.data")"
	echo "$label $j" >>results.log
}
echo "# $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $COUNT round trips per run"
run "plain flow alone"
run "while minting (a new SNI each)" new
run "while handshaking (one SNI)" same
run "plain flow alone, again"
"$BUILD/bench/tlsmint" 1000 | sed 's/^/# /'
echo "# agent: $(mw status 2>/dev/null | grep -i -m1 flows || true)"
ok "tls stall measured"
t_end
