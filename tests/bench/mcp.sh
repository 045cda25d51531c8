#!/usr/bin/env bash
# tests/bench/mcp.sh: the checkpoint benchmark (`make bench`, after run.sh).  MCP tools/call over
# HTTP/1.1 keep-alive, a 1 KiB request with a Bearer token and a 4 KiB reply (build/bench/mcpload
# against build/bench/mcpstub), in one run, for three paths:
#   direct     the client outside any enrolled cgroup, straight to the stub
#   nginx      Debian's nginx as a plain reverse proxy (upstream keep-alive, access_log off,
#              one worker pinned to the agent's core)
#   mcpwarden  the client in an enrolled cgroup: connect4 -> mcpwardend (checkpoint: RS256 JWT
#              from a jwks_file, cached after its first check; policy allows the tool for the
#              token's group) -> stub; the agent pinned to one core
# Open loop at RATES (calls/s, DURATION s each, latency from the intended send time) and a
# closed loop for DURATION_MAX s (throughput).  The agent's own CPU time is read from /proc,
# so "inspected calls/s per core" is the closed-loop rate divided by the cores it used.  Every
# call through the agent must show as an allow decision in its log, or the run fails.
# JOURNALD=1 has the agent log to a private systemd-journald (its own mount namespace, rate
# limit off, pinned beside the client and stub) instead of stderr; decisions are then counted
# in that journal, and journald's CPU per call is shown.
# The agent's token cache must show one miss and a hit for every other call (mcpwarden status).
# PERF=1 records the agent during its closed loop (perf record, DWARF call graphs) and prints
# its syscalls per call, CPU by library, the hottest symbols and the inclusive call tree.
# Results also go to build/bench/mcp.json.
set -u
source "$(dirname "$0")/../lib.sh"
RATES=${RATES:-1000 5000}
DURATION=${DURATION:-8}
DURATION_MAX=${DURATION_MAX:-5}
WARMUP=${WARMUP:-1}
CONNS=${CONNS:-8}         # open loop
CONNS_MAX=${CONNS_MAX:-32} # closed loop: enough requests in flight to keep a proxy busy
PERF=${PERF:-0}
NICE=${NICE:-0}     # e.g. -10: the stub, nginx, the agent and the client at that niceness
JOURNALD=${JOURNALD:-0}
BYPASS=${BYPASS:-0} # 1: a fourth path, the agent with "bypass": true (sockmap), run after the others
SYSCALLS=syscalls:sys_enter_read,syscalls:sys_enter_recvfrom,syscalls:sys_enter_write,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg,syscalls:sys_enter_writev,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_epoll_ctl
AGENT_CPU=${AGENT_CPU:-1} # the agent and nginx's worker; client and stub on the other CPUs
LOAD="$BUILD/bench/mcpload"
STUB="$BUILD/bench/mcpstub"
NGINX=${NGINX:-/usr/sbin/nginx}
ISS=https://idp.bench.example
AUD=urn:mcp:gateway
[ -x "$NGINX" ] || skip_all "no $NGINX (tests/deps.sh installs Debian's nginx)"
t_begin >/dev/null
exec 3>&1 1>"$T_DIR/tap.log"
fail() { echo "mcp bench: $*" >&3; exit 1; }
OTHER_CPUS=${OTHER_CPUS:-$(seq 0 $(($(nproc) - 1)) | grep -vx "$AGENT_CPU" | paste -sd,)}
[ -n "$OTHER_CPUS" ] || OTHER_CPUS=$AGENT_CPU

# --- an RS256 key, its JWKS and an at+jwt access token for group "bench" -------------------
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
K="$T_DIR/keys"
mkdir -m 755 "$K" # the agent reads jwks.json as its unprivileged user
(umask 077 && openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$K/key.pem") \
	2>/dev/null || fail "openssl genpkey failed"
hex=$(openssl rsa -in "$K/key.pem" -noout -modulus | sed 's/^Modulus=//; s/../\\x&/g')
n=$(printf '%b' "$hex" | b64url)
printf '{"keys": [{"kty": "RSA", "kid": "bench-1", "use": "sig", "alg": "RS256", "n": "%s", "e": "AQAB"}]}\n' \
	"$n" >"$K/jwks.json"
now=$(date +%s)
h=$(printf '{"alg":"RS256","typ":"at+jwt","kid":"bench-1"}' | b64url)
p=$(printf '{"iss":"%s","aud":"%s","sub":"bench-gw","client_id":"bench-gw","groups":["bench"],"scope":"mcp","iat":%d,"exp":%d}' \
	"$ISS" "$AUD" "$now" "$((now + 3600))" | b64url)
s=$(printf '%s.%s' "$h" "$p" | openssl dgst -sha256 -sign "$K/key.pem" -binary | b64url)
printf '%s.%s.%s\n' "$h" "$p" "$s" >"$K/token"

# --- the stub, nginx, the agent ------------------------------------------------------------
spawn_in "$T_CG/other" "$T_DIR/stub.log" taskset -c "$OTHER_CPUS" "$STUB" 127.0.0.1:9000
STUB_PID=$SPAWNED
wait_port 9000 || fail "the stub did not start"

mkdir -p "$T_DIR/nginx"
cat >"$T_DIR/nginx/nginx.conf" <<CONF
daemon off;
user root;
worker_processes 1;
worker_cpu_affinity $(printf '1%0*d' "$AGENT_CPU" 0);
pid $T_DIR/nginx/nginx.pid;
error_log $T_DIR/nginx/error.log warn;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $T_DIR/nginx/body;
	proxy_temp_path $T_DIR/nginx/proxy;
	fastcgi_temp_path $T_DIR/nginx/fastcgi;
	uwsgi_temp_path $T_DIR/nginx/uwsgi;
	scgi_temp_path $T_DIR/nginx/scgi;
	keepalive_requests 10000000; # a benchmark's connections live through the run
	upstream mcp { server 127.0.0.1:9000; keepalive 64; keepalive_requests 10000000; }
	server {
		listen 127.0.0.1:9080;
		location / {
			proxy_pass http://mcp;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
spawn_in "$T_CG/other" "$T_DIR/nginx.log" "$NGINX" -p "$T_DIR/nginx" -c "$T_DIR/nginx/nginx.conf"
NGINX_PID=$SPAWNED
wait_port 9080 || fail "nginx did not start: $(tail -3 "$T_DIR/nginx.log" "$T_DIR/nginx/error.log")"
renice -n "$NICE" -p "$STUB_PID" "$NGINX_PID" $(pgrep -P "$NGINX_PID") >/dev/null

# the private journald: start_private_journald (tests/lib.sh), with a drop-in that turns the
# rate limit off (the agent logs every decision, far above journald's default burst)
if [ "$JOURNALD" = 1 ]; then
	[ -x /lib/systemd/systemd-journald ] || fail "JOURNALD=1 needs /lib/systemd/systemd-journald"
	unshare --mount --propagation private -- bash -c '
		for d in /run/systemd /run/log /var/log/journal; do
			[ -d "$d" ] || continue
			mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 1
		done
		mkdir -p /run/systemd/journald.conf.d &&
		printf "[Journal]\nRateLimitBurst=0\nStorage=volatile\nRuntimeMaxUse=1G\n" \
			>/run/systemd/journald.conf.d/bench.conf || exit 1
		exec /lib/systemd/systemd-journald' >"$T_DIR/journald.log" 2>&1 &
	T_JOURNALD_PID=$!
	T_PIDS=("$T_JOURNALD_PID" "${T_PIDS[@]}")
	for _ in $(seq 50); do
		nsenter --mount="/proc/$T_JOURNALD_PID/ns/mnt" -- test -S /run/systemd/journal/socket \
			2>/dev/null && break
		sleep 0.1
	done
	nsenter --mount="/proc/$T_JOURNALD_PID/ns/mnt" -- test -S /run/systemd/journal/socket ||
		fail "the private journald did not start: $(tail -3 "$T_DIR/journald.log")"
	taskset -a -p -c "$OTHER_CPUS" "$T_JOURNALD_PID" >/dev/null
	renice -n "$NICE" -p "$T_JOURNALD_PID" >/dev/null
fi

# start_mw BYPASS: (re)start the agent, "bypass": true|false, pinned to AGENT_CPU
start_mw() {
	[ -n "${AGENT_PID:-}" ] && t_kill "$AGENT_PID"
	rm -rf "$T_PIN"
	cfg=$(agent_config '"bypass": '"$1"',
  "capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  "identity": {"require_token": true, "oidc": [{"issuer": "'"$ISS"'", "audience": "'"$AUD"'",
    "typ": "at+jwt", "groups_claim": "groups", "jwks_file": "'"$K/jwks.json"'"}]},
  "policy": {"rules": [
    {"name": "bench may echo", "match": {"groups": ["bench"], "method": "tools/call", "tool": "echo"},
     "action": "allow"},
    {"name": "default", "action": "deny"}]}')
	: >"$T_DIR/agent.log"
	if [ "$JOURNALD" = 1 ]; then
		echo "$cfg" >"$T_DIR/mcpwarden.json"
		start_agent_journald "$T_DIR/mcpwarden.json" >/dev/null ||
			fail "the agent did not start: $(tail -5 "$T_DIR/agent.log")"
	else
		start_agent "$cfg" >/dev/null || fail "the agent did not start: $(tail -5 "$T_DIR/agent.log")"
	fi
	taskset -a -p -c "$AGENT_CPU" "$AGENT_PID" >/dev/null || fail "taskset on the agent failed"
	renice -n "$NICE" -p "$AGENT_PID" >/dev/null
}
start_mw false

# --- measurements --------------------------------------------------------------------------
if [ "$JOURNALD" = 1 ]; then
	decisions() { journal_ctl -q -o cat "MCPW_DECISION=$1" "_PID=$AGENT_PID" | wc -l; }
else
	decisions() { grep -c "MCPW_DECISION=$1" "$T_DIR/agent.log"; }
fi
# check_token_cache: the agent verified the token once and answered every other call from its
# cache (hits + misses = the calls it inspected since it started)
check_token_cache() {
	local st calls
	st=$(mw status --json) || fail "mcpwarden status failed"
	calls=$(decisions allow)
	[ "$(jq .counters.token_cache_misses <<<"$st")" = 1 ] &&
		[ "$(jq .counters.token_cache_entries <<<"$st")" = 1 ] &&
		[ "$(jq '.counters.token_cache_hits + .counters.token_cache_misses' <<<"$st")" = "$calls" ] ||
		fail "token cache: $(jq -c '.counters | with_entries(select(.key | startswith("token_cache")))' <<<"$st") for $calls calls"
	echo "  token cache: $(jq -r '"\(.counters.token_cache_hits) hits, \(.counters.token_cache_misses) miss, \(.counters.token_cache_entries) entry"' <<<"$st")" >&3
}
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

# run PATH TEST MODE mcpload-args...: one mcpload run, its JSON line tagged into raw.jsonl
run() {
	local path=$1 test=$2 mode=$3 cg=$T_CG/other port=9000 out rc a0 a1 t0 t1 c0 c1 s0 s1 j0 j1 extra='{}'
	shift 3
	case $path in
	nginx) port=9080 ;;
	mcpwarden | bypass) cg=$T_CG/gw ;;
	esac
	if [ "$cg" = "$T_CG/gw" ]; then
		a0=$(decisions allow)
		c0=$(cpu_ticks "$AGENT_PID")
		[ "$JOURNALD" = 1 ] && j0=$(cpu_ticks "$T_JOURNALD_PID")
	fi
	if [ "$path" = nginx ]; then c0=$(cpu_ticks "$(pgrep -P "$NGINX_PID" | head -1)"); fi
	s0=$(cpu_ticks "$STUB_PID")
	t0=$(date +%s%N)
	out=$(run_in "$cg" nice -n "$NICE" taskset -c "$OTHER_CPUS" "$LOAD" "$mode" "127.0.0.1:$port" \
		--conns "$CONNS" --token-file "$K/token" --warmup "$WARMUP" --json "$@" 2>>"$T_DIR/load.log")
	rc=$?
	t1=$(date +%s%N)
	s1=$(cpu_ticks "$STUB_PID")
	[ -n "$out" ] || fail "$path $test: no result (exit $rc): $(tail -3 "$T_DIR/load.log")"
	if [ "$cg" = "$T_CG/gw" ]; then
		c1=$(cpu_ticks "$AGENT_PID")
		sleep 0.2 # the last decisions reach the log
		[ "$JOURNALD" = 1 ] && j1=$(cpu_ticks "$T_JOURNALD_PID")
		a1=$(decisions allow)
		for _ in $(seq 100); do # journald may lag behind under load
			[ "$JOURNALD" = 1 ] && [ "$((a1 - a0))" -lt "$(jq -r .sent <<<"$out")" ] || break
			sleep 0.1
			a1=$(decisions allow)
		done
		extra=$(jq -nc --argjson d "$((a1 - a0))" --argjson c "$(((c1 - c0)))" \
			--argjson w "$(((t1 - t0) / 1000000))" --argjson tck "$TCK" \
			'{decisions: $d, cpu: ($c / $tck / ($w / 1000))}')
		[ "$JOURNALD" = 1 ] && extra=$(jq -c --argjson j "$((j1 - j0))" --argjson tck "$TCK" \
			--argjson w "$(((t1 - t0) / 1000000))" '. + {journald_cpu: ($j / $tck / ($w / 1000))}' <<<"$extra")
		[ "$(jq -r .sent <<<"$out")" = "$((a1 - a0))" ] ||
			fail "$test: $(jq -r .sent <<<"$out") calls sent but $((a1 - a0)) allow decisions logged"
	fi
	if [ "$path" = nginx ]; then
		c1=$(cpu_ticks "$(pgrep -P "$NGINX_PID" | head -1)")
		extra=$(jq -nc --argjson c "$((c1 - c0))" --argjson w "$(((t1 - t0) / 1000000))" \
			--argjson tck "$TCK" '{cpu: ($c / $tck / ($w / 1000))}')
	fi
	[ "$rc" = 0 ] || echo "  $path $test: mcpload exit $rc ($(jq -r .errors <<<"$out") errors)" >&3
	jq -c --arg p "$path" --arg t "$test" --argjson x "$extra" --argjson sc "$((s1 - s0))" \
		--argjson w "$(((t1 - t0) / 1000000))" --argjson tck "$TCK" \
		'. + $x + {path: $p, test: $t, stub_cpu: ($sc / $tck / ($w / 1000))}' \
		<<<"$out" >>"$T_DIR/raw.jsonl"
}
echo "mcpwarden checkpoint benchmark: tools/call, 1 KiB request + Bearer JWT, 4 KiB reply," \
	"keep-alive; open loop on $CONNS connections at $RATES calls/s for ${DURATION} s each," \
	"closed loop on $CONNS_MAX for ${DURATION_MAX} s (first ${WARMUP} s not counted); agent and nginx on CPU" \
	"$AGENT_CPU, client and stub on CPU $OTHER_CPUS; nice $NICE; $(nproc) CPUs, kernel $(uname -r)," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)" >&3
# warm PATH: one untimed half second at 100/s (connections, the agent's token cache)
warm() {
	local cg=$T_CG/other port=9000
	[ "$1" = nginx ] && port=9080
	[ "$1" = mcpwarden ] || [ "$1" = bypass ] && cg=$T_CG/gw
	run_in "$cg" "$LOAD" open "127.0.0.1:$port" --rate 100 --duration 0.5 --warmup 0 --conns 1 \
		--token-file "$K/token" >/dev/null 2>>"$T_DIR/load.log" ||
		fail "$1: warm-up calls failed: $(tail -3 "$T_DIR/load.log") $(tail -3 "$T_DIR/agent.log")"
}
# series PATH...: the open-loop rates, then the closed loop, for each path
series() {
	local rate path
	for path in "$@"; do warm "$path"; done
	for rate in $RATES; do
		for path in "$@"; do
			run "$path" "open$rate" open --rate "$rate" --duration "$DURATION"
		done
		echo "  $*: open loop at $rate/s done" >&3
	done
	for path in "$@"; do
		if [ "$path" = mcpwarden ] && [ "$PERF" = 1 ]; then
			perf record --call-graph dwarf,16384 -F 2000 -o "$T_DIR/perf.data" -p "$AGENT_PID" \
				-- sleep "$((DURATION_MAX - 1))" >"$T_DIR/perf.log" 2>&1 &
			perf_pid=$!
			perf stat -x, -o "$T_DIR/syscalls.csv" -e "$SYSCALLS" -p "$AGENT_PID" \
				-- sleep "$((DURATION_MAX - 1))" >/dev/null 2>&1 &
			stat_pid=$!
		fi
		run "$path" closed closed --duration "$DURATION_MAX" --conns "$CONNS_MAX"
		if [ -n "${perf_pid:-}" ]; then wait "$perf_pid" "$stat_pid"; perf_pid=""; fi
	done
	echo "  $*: closed loop done" >&3
	denied=$(($(decisions deny) + $(decisions unauthenticated) + $(decisions malformed)))
	[ "$denied" = 0 ] || fail "$denied calls not allowed: $(grep -m1 'MCPW_DECISION=[dum]' "$T_DIR/agent.log")"
}
series direct nginx mcpwarden
check_token_cache
if [ "$BYPASS" = 1 ]; then
	start_mw true
	series bypass
	check_token_cache
fi

# --- report --------------------------------------------------------------------------------
mkdir -p "$BUILD/bench"
jq -s 'group_by(.path) | map({key: .[0].path, value: (map({key: .test, value: del(.path, .test)}) |
  from_entries)}) | from_entries' "$T_DIR/raw.jsonl" >"$BUILD/bench/mcp.json"
jq -r --arg rates "$RATES" '
  . as $r | def f: . * 10 | round / 10 | tostring; def w(n): " " * (n - length) + .;
  def add(p; t; k): ($r[p][t][k] - $r.direct[t][k]) | f | (if startswith("-") then . else "+" + . end);
  ($rates | split(" ")) as $rs | (["direct", "nginx", "mcpwarden", "bypass"] | map(select($r[.]))) as $paths |
  "",
  ($rs[] as $rate | ("open" + $rate) as $t |
    "open loop \($rate)/s     achieved     p50     p99   p99.9     max  errors   added p50   added p99  p99 x",
    ($paths[] as $p | $r[$p][$t] |
      "  \($p | . + "          " | .[0:10])    \(.rate | f | w(9)) \(.p50_us | f | w(7)) \(.p99_us | f | w(7)) \(.p999_us | f | w(7)) \(.max_us | f | w(7)) \(.errors | tostring | w(7))" +
      (if $p == "direct" then "" else "  \(add($p; $t; "p50_us") | w(10))  \(add($p; $t; "p99_us") | w(10))  \(.p99_us / $r.direct[$t].p99_us * 100 | round / 100 | tostring | w(5))" end)),
    ""),
  "closed loop (max)     calls/s     p50     p99  client+stub CPU  proxy CPU  calls/s per proxy core",
  ($paths[] as $p | $r[$p].closed |
    "  \($p | . + "          " | .[0:10])  \(.rate | round | tostring | w(9)) \(.p50_us | f | w(7)) \(.p99_us | f | w(7))  \((.client_cpu + .stub_cpu) * 100 | round | tostring | w(14))%" +
    (if .cpu then "  \(.cpu * 100 | round | tostring | w(8))%  \(.rate / .cpu | round | tostring | w(22))" else "" end)),
  "(latencies in microseconds; added = path minus direct; proxy CPU = its CPU time over the run)",
  "",
  ($r.mcpwarden.open1000 // empty | "aim at 1000/s: mcpwarden adds \(add("mcpwarden"; "open1000"; "p50_us")) us at p50 [<= 50], \(add("mcpwarden"; "open1000"; "p99_us")) us at p99 [<= 200]; nginx adds \(add("nginx"; "open1000"; "p50_us")) / \(add("nginx"; "open1000"; "p99_us"))"),
  "aim closed loop: \($r.mcpwarden.closed.rate / $r.mcpwarden.closed.cpu | round) inspected calls/s per agent core (\($r.mcpwarden.closed.rate | round)/s at \($r.mcpwarden.closed.cpu * 100 | round)% of one core) [>= 20000]; nginx \($r.nginx.closed.rate / $r.nginx.closed.cpu | round)/s per core",
  "inspected: \([$r.mcpwarden[], $r.bypass[]? | .decisions] | add) calls through the agent, each an allow decision in the agent log",
  ($r.mcpwarden.closed.journald_cpu // empty | "journald (private, pinned with client and stub): \(. * 100 | round)% of a core in the closed loop, \(. / $r.mcpwarden.closed.rate * 1e6 | round) us per call")
' "$BUILD/bench/mcp.json" >&3
if [ "$PERF" = 1 ] && [ -s "$T_DIR/perf.data" ]; then
	echo "" >&3
	calls=$(jq -r '.closed.ok' <<<"$(jq .mcpwarden "$BUILD/bench/mcp.json")")
	echo "agent syscalls during the closed loop (the agent's $((DURATION_MAX - 1)) s, per counted call):" >&3
	awk -F, -v n="$calls" -v d="$DURATION_MAX" -v w="$WARMUP" '$1 ~ /^[0-9]+$/ && $1 > 0 {
		sub("syscalls:sys_enter_", "", $3); printf "  %-12s %6.2f\n", $3, $1 / (n * (d - 1) / (d - w)) }' \
		"$T_DIR/syscalls.csv" >&3
	echo "agent profile (perf, closed loop): CPU by library" >&3
	perf report -i "$T_DIR/perf.data" --no-children --stdio --sort dso 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -7 >&3
	echo "hottest symbols (self)" >&3
	perf report -i "$T_DIR/perf.data" --no-children --stdio --sort dso,sym 2>/dev/null |
		grep -E '^ +[0-9.]+%' | head -12 >&3
	echo "user-space call tree (inclusive, >= 2%)" >&3
	perf report -i "$T_DIR/perf.data" --children --stdio --sort sym -g none --percent-limit 2 \
		2>/dev/null | grep -E '^ +[0-9.]+% +[0-9.]+% +\[\.\] [a-z_]' |
		grep -vE 'sd_event_(loop|run)|\] main$' | head -32 >&3
	cp "$T_DIR/perf.data" "$BUILD/bench/mcp-perf.data"
fi
echo "results: $BUILD/bench/mcp.json" >&3
