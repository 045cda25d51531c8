#!/usr/bin/env bash
# tests/bench/tls.sh: the TLS interception benchmark (`make bench`, issue 7).  Every call is a
# new TCP connection, a TLS handshake and one MCP tools/call over HTTPS (build/bench/tlsload,
# OpenSSL) to build/bench/tlsstub (an OpenSSL HTTPS upstream that wants a bearer token and
# counts its handshakes and how many resumed), in one run, for three paths:
#   direct     the client outside any enrolled cgroup, straight to the upstream (it sends
#              the token itself)
#   mcpwarden  the client in an enrolled cgroup: connect4 -> mcpwardend, which intercepts
#              mcp.test (a leaf minted by its CA, the upstream verified against the bench CA
#              with SNI and host name), runs the checkpoint (a policy allowing tools/call
#              "echo", everything else denied) and injects the upstream's token
#   mitmproxy  Debian's mitmdump in reverse-proxy mode doing the same: TLS terminated with
#              its own CA (a leaf for the SNI), the upstream verified against the bench CA
#              (SNI and host name mcp.test, resolved through a private /etc/hosts), an addon
#              that parses the JSON-RPC body, denies any tool but "echo" and sets the token
# each with new sessions (no session offered) and resumed ones (each connection offers the
# session of the previous one).  Two measurements per path and mode: latency (one connection
# at a time, N calls: p50/p90/p99 of the handshake and of the whole call) and rate (CONNS
# concurrent closed loops for SECS s: calls, so handshakes on both legs, per second; the
# proxy's CPU).  The upstream's counters say how many upstream handshakes each proxy resumed.
# REPS repetitions interleave the paths; the table shows medians and the spread over REPS
# (max-min over median) of each path's latency p50 and rate: the machine is shared.
# The proxies (agent, mitmdump) run on AGENT_CPU, client and upstream on the other CPUs.
# Every call through the agent must show as an allow decision in its log, or the run fails.
# Results also go to build/bench/tls.json (medians) and build/bench/tls-runs.jsonl (every run).
set -u
T_NAME=tlsbench
source "$(dirname "$0")/../lib.sh"
N=${N:-200}
SECS=${SECS:-4}
CONNS=${CONNS:-16}
REPS=${REPS:-3}
NICE=${NICE:-0} # e.g. -10: upstream, proxies and client at that niceness
AGENT_CPU=${AGENT_CPU:-1}
MITM=${MITM:-mitmdump}
LOAD="$BUILD/bench/tlsload"
STUB="$BUILD/bench/tlsstub"
t_begin >/dev/null
exec 3>&1 1>"$T_DIR/tap.log"
fail() { echo "tls bench: $*" >&3; exit 1; }
command -v "$MITM" >/dev/null || fail "no $MITM (tests/deps.sh installs Debian's mitmproxy)"
OTHER_CPUS=${OTHER_CPUS:-$(seq 0 $(($(nproc) - 1)) | grep -vx "$AGENT_CPU" | paste -sd,)}
[ -n "$OTHER_CPUS" ] || OTHER_CPUS=$AGENT_CPU
cd "$T_DIR" || exit 1

# --- the bench CA, the upstream's leaf, the token, mcpwarden's CA ---------------------------
{ test_ca upca "bench CA" && test_leaf up upca 1 DNS:mcp.test; } || fail "openssl: $(tail -3 openssl.log)"
printf 'benchtoken\n' >token
chmod 644 token
mkdir -p state && "$BUILD/mcpwarden" ca init --dir "$T_DIR/state/ca" >/dev/null 2>&1 ||
	fail "mcpwarden ca init failed"
"$BUILD/mcpwarden" ca show --dir state/ca >mwca.pem 2>/dev/null

# --- the upstream, the agent, mitmdump ------------------------------------------------------
spawn_in "$T_CG/other" stub.log taskset -c "$OTHER_CPUS" "$STUB" 127.0.0.1:9443 --cert up.crt \
	--key up.key --token-file token
STUB_PID=$SPAWNED
wait_port 9443 || fail "the upstream did not start: $(tail -3 stub.log)"

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9443]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}], "journal": {"mode": "off"},
  "identity": {"require_token": false},
  "policy": {"rules": [{"name": "echo", "match": {"method": "tools/call", "tool": "echo"}, "action": "allow"},
                       {"name": "default", "action": "deny"}]},
  "upstreams": [{"match": {"host": "mcp.test", "port": 9443}, "tls": "intercept",
                 "ca_file": "'"$T_DIR/upca.crt"'", "credential": {"bearer_file": "'"$T_DIR/token"'"}}]')
start_agent "$cfg" >/dev/null || fail "the agent did not start: $(tail -5 agent.log)"
taskset -a -p -c "$AGENT_CPU" "$AGENT_PID" >/dev/null || fail "taskset on the agent failed"

# mitmdump: the same policy and injection as an addon; mcp.test resolves to the upstream
# through a private /etc/hosts (its own mount namespace)
cat >mitm_addon.py <<'PY'
import json
from mitmproxy import http

def request(flow: http.HTTPFlow) -> None:
    try:
        m = json.loads(flow.request.content or b"{}")
    except ValueError:
        m = None
    if not isinstance(m, dict) or m.get("method") != "tools/call" or \
            (m.get("params") or {}).get("name") != "echo":
        flow.response = http.Response.make(403, b'{"error": "denied"}',
                                           {"content-type": "application/json"})
        return
    flow.request.headers["authorization"] = "Bearer benchtoken"
PY
printf '127.0.0.1 localhost\n127.0.0.1 mcp.test\n' >hosts
mkdir -p mitm
spawn_in "$T_CG/other" mitm.log unshare --mount --propagation private -- bash -c \
	'mount --bind "$0/hosts" /etc/hosts && exec "$@"' "$T_DIR" \
	taskset -c "$AGENT_CPU" "$MITM" -q --mode reverse:https://mcp.test:9443 \
	--listen-host 127.0.0.1 --listen-port 9444 --set confdir="$T_DIR/mitm" \
	--set ssl_verify_upstream_trusted_ca="$T_DIR/upca.crt" --set connection_strategy=lazy \
	--set http2=false --set termlog_verbosity=error -s "$T_DIR/mitm_addon.py"
MITM_PID=$SPAWNED
wait_port 9444 || fail "mitmdump did not start: $(tail -5 mitm.log)"
for _ in $(seq 50); do [ -s mitm/mitmproxy-ca-cert.pem ] && break; sleep 0.1; done
MITM_WORKER=$(pgrep -f -n -P "$MITM_PID" "$MITM" || echo "$MITM_PID") # unshare execs; bash execs
renice -n "$NICE" -p "$STUB_PID" "$AGENT_PID" "$MITM_PID" "$MITM_WORKER" >/dev/null

# --- measurements ---------------------------------------------------------------------------
decisions() { grep -c "MCPW_DECISION=$1" agent.log; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)
stub_stats() { run_in "$T_CG/other" curl -s --max-time 5 --cacert upca.crt \
	--resolve mcp.test:9443:127.0.0.1 https://mcp.test:9443/stats; }

# run PATH MODE KIND: one tlsload run tagged into raw.jsonl (KIND lat: N calls one at a time;
# rate: CONNS loops for SECS s)
# path_set PATH: how the client reaches it (cg, port, ca, tok: only direct sends the token) and
# the proxy's pid
path_set() {
	cg=$T_CG/other port=9443 ca=upca.crt tok=(--token-file token) pid=""
	case $1 in
	mcpwarden) cg=$T_CG/gw ca=mwca.pem tok=() pid=$AGENT_PID ;;
	mitmproxy) port=9444 ca=mitm/mitmproxy-ca-cert.pem tok=() pid=$MITM_WORKER ;;
	esac
}
run() {
	local path=$1 mode=$2 kind=$3 cg port ca tok pid
	local args=(--count "$N" --warmup 2) out rc s0 s1 a0 a1 c0 c1 u0 u1 t0 t1
	path_set "$path"
	[ "$kind" = rate ] && args=(--duration "$SECS" --conns "$CONNS" --warmup 2)
	[ "$mode" = resumed ] && args+=(--resume)
	s0=$(stub_stats) || fail "upstream stats: $(tail -3 stub.log)"
	a0=$(decisions allow)
	[ -n "$pid" ] && c0=$(cpu_ticks "$pid")
	u0=$(cpu_ticks "$STUB_PID")
	t0=$(date +%s%N)
	out=$(run_in "$cg" nice -n "$NICE" taskset -c "$OTHER_CPUS" "$LOAD" "127.0.0.1:$port" \
		--sni mcp.test --ca "$ca" "${tok[@]}" --json "${args[@]}" 2>>load.log)
	rc=$?
	t1=$(date +%s%N)
	[ -n "$pid" ] && c1=$(cpu_ticks "$pid")
	u1=$(cpu_ticks "$STUB_PID")
	s1=$(stub_stats) || fail "upstream stats: $(tail -3 stub.log)"
	[ -n "$out" ] || fail "$path $mode $kind: no result (exit $rc): $(tail -3 load.log)"
	[ "$rc" = 0 ] || fail "$path $mode $kind: $(jq -r .errors <<<"$out") calls failed" \
		"$(tail -3 load.log) $(tail -3 agent.log)"
	if [ "$path" = mcpwarden ]; then
		sleep 0.1 # the last decisions reach the log
		a1=$(decisions allow)
		# warm-up calls are not in .calls but were allowed too
		[ "$((a1 - a0))" -ge "$(jq -r .calls <<<"$out")" ] ||
			fail "$path $mode $kind: $(jq -r .calls <<<"$out") calls but $((a1 - a0)) allow decisions"
	fi
	jq -c --arg p "$path" --arg m "$mode" --arg k "$kind" --argjson s0 "$s0" --argjson s1 "$s1" \
		--argjson c "$((${c1:-0} - ${c0:-0}))" --argjson u "$((u1 - u0))" --argjson w "$(((t1 - t0) / 1000000))" --argjson tck "$TCK" \
		'. + {path: $p, mode: $m, kind: $k,
		      up_handshakes: ($s1.handshakes - $s0.handshakes - 1),
		      up_resumed: ($s1.resumed - $s0.resumed),
		      stub_cpu: ($u / $tck / ($w / 1000)),
		      proxy_cpu: (if $p == "direct" then null else ($c / $tck / ($w / 1000)) end)}' \
		<<<"$out" >>raw.jsonl 2>>load.log || fail "$path $mode $kind: bad result: $out"
}

echo "mcpwarden TLS interception benchmark: a new connection, handshake and tools/call each;" \
	"latency: $N calls one at a time; rate: $CONNS closed loops for $SECS s; $REPS repetitions" \
	"interleaved; proxies on CPU $AGENT_CPU, client and upstream on CPU $OTHER_CPUS; nice $NICE;" \
	"$(nproc) CPUs, kernel $(uname -r), $("$MITM" --version 2>/dev/null | head -1)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)" >&3
# warm-up: the agent's minted leaf and upstream session, mitmproxy's leaf, page cache
for p in direct mcpwarden mitmproxy; do
	path_set "$p"
	run_in "$cg" "$LOAD" "127.0.0.1:$port" --sni mcp.test --ca "$ca" "${tok[@]}" \
		--count 5 --warmup 0 >/dev/null 2>>load.log ||
		fail "$p: warm-up calls failed: $(tail -3 load.log) $(tail -3 agent.log) $(tail -3 mitm.log)"
done
: >raw.jsonl
for rep in $(seq "$REPS"); do
	for kind in lat rate; do
		for mode in new resumed; do
			for p in direct mcpwarden mitmproxy; do run "$p" "$mode" "$kind"; done
		done
	done
	echo "  repetition $rep of $REPS done" >&3
done
denied=$(($(decisions deny) + $(decisions malformed) + $(decisions unauthenticated)))
[ "$denied" = 0 ] || fail "$denied calls not allowed: $(grep -m1 'MCPW_DECISION=[dmu]' agent.log)"
[ "$(jq -r .unauthorized <<<"$(stub_stats)")" = 0 ] || fail "the upstream saw calls without the token"

# --- report ---------------------------------------------------------------------------------
mkdir -p "$BUILD/bench"
jq -s '
  def med: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def spread: if length < 2 or med == 0 then null else (max - min) / med end;
  group_by(.path) | map({key: .[0].path, value: (group_by(.mode) | map({key: .[0].mode, value: {
    lat: (map(select(.kind == "lat")) | {p50_us: (map(.p50_us) | med), p90_us: (map(.p90_us) | med),
          p99_us: (map(.p99_us) | med), hs_p50_us: (map(.hs_p50_us) | med),
          hs_p99_us: (map(.hs_p99_us) | med), spread: (map(.p50_us) | spread),
          client_resumed: (map(.resumed) | add), calls: (map(.calls) | add),
          up_resumed: (map(.up_resumed) | add), up_handshakes: (map(.up_handshakes) | add)}),
    rate: (map(select(.kind == "rate")) | {rate: (map(.rate) | med), spread: (map(.rate) | spread),
          p50_us: (map(.p50_us) | med), p99_us: (map(.p99_us) | med),
          proxy_cpu: (map(.proxy_cpu) | med), peers_cpu: (map(.cpu + .stub_cpu) | med),
          client_resumed: (map(.resumed) | add), calls: (map(.calls) | add),
          up_resumed: (map(.up_resumed) | add), up_handshakes: (map(.up_handshakes) | add)})
  }}) | from_entries)}) | from_entries' raw.jsonl >"$BUILD/bench/tls.json" ||
	fail "report: jq failed"
cp raw.jsonl "$BUILD/bench/tls-runs.jsonl" # every run, for the spread behind the medians
jq -r --arg cpus "$OTHER_CPUS" '
  . as $r | def f: . * 10 | round / 10 | tostring; def i: round | tostring;
  def w(n): " " * (n - length) + .; def pc: if . == null then "-" else . * 100 | round | tostring + "%" end;
  def x(a; b): if b == 0 or b == null then "-" else (a / b * 100 | round / 100 | tostring) + "x" end;
  def legs(e): "\(e.client_resumed)/\(e.calls) client, \(e.up_resumed)/\(e.up_handshakes) upstream";
  "",
  "latency, one call at a time (us)   hs p50  call p50     p90     p99  spread  added p50  x direct  x mitm  resumed legs",
  (("new", "resumed") as $m | ($m + " sessions"), (["direct", "mcpwarden", "mitmproxy"][] as $p | $r[$p][$m].lat as $e |
    "  \($p + "            " | .[0:12])                \($e.hs_p50_us | i | w(7)) \($e.p50_us | i | w(9)) \($e.p90_us | i | w(7)) \($e.p99_us | i | w(7)) \($e.spread | pc | w(7))" +
    (if $p == "direct" then "" + (" " * 37) else "  \($e.p50_us - $r.direct[$m].lat.p50_us | i | w(9))  \(x($e.p50_us; $r.direct[$m].lat.p50_us) | w(8))  \(if $p == "mcpwarden" then x($e.p50_us; $r.mitmproxy[$m].lat.p50_us) else "" end | w(6))" end) +
    "  \(legs($e))")),
  "",
  "rate, closed loops           calls/s  spread  call p50  call p99  client+upstream CPU  proxy CPU  per proxy core  x direct  x mitm  resumed legs",
  (("new", "resumed") as $m | ($m + " sessions"), (["direct", "mcpwarden", "mitmproxy"][] as $p | $r[$p][$m].rate as $e |
    "  \($p + "            " | .[0:12])         \($e.rate | i | w(8)) \($e.spread | pc | w(7)) \($e.p50_us | i | w(9)) \($e.p99_us | i | w(9))  \($e.peers_cpu | pc | w(19))" +
    (if $p == "direct" then " " * 45 else "  \($e.proxy_cpu | pc | w(9))  \($e.rate / $e.proxy_cpu | i | w(14))  \(x($e.rate; $r.direct[$m].rate.rate) | w(8))  \(if $p == "mcpwarden" then x($e.rate; $r.mitmproxy[$m].rate.rate) else "" end | w(6))" end) + "  \(legs($e))")),
  "",
  "(calls/s = handshakes/s on each leg; spread = (max - min) / median over the repetitions; added = path minus direct;",
  " client+upstream CPU: tlsload and tlsstub, which share CPU(s) \($cpus); proxy CPU: the agent or mitmdump, one core = 100%;",
  " resumed legs: client = handshakes the proxy (or upstream) resumed for the client, upstream = upstream handshakes resumed)"
' "$BUILD/bench/tls.json" >&3 || fail "report: jq failed"
echo "results: $BUILD/bench/tls.json (medians), $BUILD/bench/tls-runs.jsonl (every run)" >&3
