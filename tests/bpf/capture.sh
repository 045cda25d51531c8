#!/usr/bin/env bash
# Capture on real cgroups: connect4/6 (and v4-mapped) rewritten to the agent, origin kept,
# SO_ORIGINAL_DST and getpeername answered, bytes intact, only the enrolled cgroup (and its
# children) captured, ports outside the rules untouched.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8", "::1/128"], "ports": [9000]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
start_agent "$cfg" || { not_ok "agent starts"; exit 1; }
ok "agent starts and enrolls the gateway cgroup from the config"

spawn_in "$T_CG/other" "$T_DIR/srv4.log" node "$SUM" serve 127.0.0.1 9000
spawn_in "$T_CG/other" "$T_DIR/srv6.log" node "$SUM" serve ::1 9000
spawn_in "$T_CG/other" "$T_DIR/srv9001.log" node "$SUM" serve 127.0.0.1 9001
wait_port 9000 && wait_port 9000 ::1 && wait_port 9001 || not_ok "servers up"

flows_total() { mw status --json | jq -r .counters.flows_total; }

# 1. IPv4 from the enrolled cgroup: captured, attributed, intact
out=$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 8388608)
check_eq "IPv4: 8 MiB of random data arrive intact (sha256)" true "$(jq -r .match <<<"$out")"
check_eq "IPv4: getpeername shows the original destination" "127.0.0.1:9000" "$(jq -r .peer <<<"$out")"
f=$(mw flows --all --json | jq -c '[.flows[] | select(.origin == "127.0.0.1:9000")][0]')
check_eq "IPv4: the flow names the original destination" "127.0.0.1:9000" "$(jq -r .origin <<<"$f")"
check_eq "IPv4: the flow names the client's comm" node "$(jq -r .comm <<<"$f")"
check_eq "IPv4: the flow names the client's uid" 0 "$(jq -r .uid <<<"$f")"
check_eq "IPv4: the flow names the client's cgroup" "$T_CG/gw" "$(jq -r .cgroup <<<"$f")"
check_eq "IPv4: all bytes counted upstream" 8388608 "$(jq -r .bytes_up <<<"$f")"
check_eq "IPv4: the flow names the client's pid" "$(jq -r .pid <<<"$out")" "$(jq -r .pid <<<"$f")"

o1=$(ip_octets)
run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 8388608 >/dev/null
d=$(($(ip_octets) - o1))
if [ "$d" -gt 16000000 ]; then ok "without the bypass IP carries 8 MiB twice ($d octets)"; else
	not_ok "relayed bytes crossed IP twice" "$d octets"
fi

# 2. IPv6 and v4-mapped
out=$(run_in "$T_CG/gw" node "$SUM" send ::1 9000 1048576)
check_eq "IPv6: 1 MiB intact" true "$(jq -r .match <<<"$out")"
check_eq "IPv6: getpeername shows the original destination" "::1:9000" "$(jq -r .peer <<<"$out")"
check_eq "IPv6: the flow is listed" 1 \
	"$(mw flows --all --json | jq '[.flows[] | select(.origin == "[::1]:9000")] | length')"
out=$(run_in "$T_CG/gw" node "$SUM" send ::ffff:127.0.0.1 9000 65536)
check_eq "v4-mapped IPv6 (connect6): intact" true "$(jq -r .match <<<"$out")"
check_eq "v4-mapped IPv6: getpeername shows the original destination" "::ffff:127.0.0.1:9000" \
	"$(jq -r .peer <<<"$out")"

# 3. what is not captured
n=$(flows_total)
out=$(run_in "$T_CG/other" node "$SUM" send 127.0.0.1 9000 65536)
check_eq "a process outside the cgroup reaches the server" true "$(jq -r .match <<<"$out")"
check_eq "a process outside the cgroup is not captured" "$n" "$(flows_total)"
out=$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9001 65536)
check_eq "a port outside the capture rules works" true "$(jq -r .match <<<"$out")"
check_eq "a port outside the capture rules is not captured" "$n" "$(flows_total)"

# 4. children: a child process, a child cgroup
out=$(run_in "$T_CG/gw" bash -c "node '$SUM' send 127.0.0.1 9000 4096; true")
check_eq "a child process of an enrolled process is captured" "$((n + 1))" "$(flows_total)"
mkdir "$T_CG/gw/child"
out=$(run_in "$T_CG/gw/child" node "$SUM" send 127.0.0.1 9000 4096)
check_eq "a child cgroup inherits capture" "$((n + 2))" "$(flows_total)"
check_eq "the child cgroup's flow is intact" true "$(jq -r .match <<<"$out")"

# 4b. a comm chosen to forge log fields (a quote, a field, a newline) stays one escaped value
run_in "$T_CG/gw" node -e 'process.title = "ev\" MCPW_X=1\n"; require("net").connect(9000, "127.0.0.1").end("x")' \
	>/dev/null 2>&1
sleep 0.3
line=$(grep 'flow .* opened' "$T_DIR/agent.log" | grep -F 'MCPW_COMM="ev\"' | tail -n 1)
check_match "a forged comm is escaped on the stderr line" 'MCPW_COMM="ev\\" MCPW_X=1\\x0a"' "$line"
check_eq "no log line starts with the forged field" 0 "$(grep -c '^ *MCPW_X' "$T_DIR/agent.log")"
n=$(mw status --json | jq .counters.flows_total)

# 5. the kernel side did its part
st=$(mw status --json)
v=$(jq -r .bpf.origdst_answered <<<"$st")
if [ "$v" -ge 6 ]; then ok "getsockopt answered SO_ORIGINAL_DST ($v times)"; else not_ok "SO_ORIGINAL_DST" "$st"; fi
v=$(jq -r .bpf.peername_rewritten <<<"$st")
if [ "$v" -ge 3 ]; then ok "getpeername rewritten ($v times)"; else not_ok "getpeername" "$st"; fi
check_eq "no flow lacked its origin" 0 "$(jq -r .counters.origin_missing <<<"$st")"
check_eq "no flow is left open" 0 "$(jq -r .counters.flows_active <<<"$st")"
