#!/usr/bin/env bash
# The optional sockmap bypass: with "bypass": true the gateway<->agent hop skips loopback
# TCP (sk_msg redirect), bytes stay intact and counted, and the agent still relays them.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"

cfg=$(agent_config '"bypass": true,
  "capture": {"outbound": [{"cidrs": ["127.0.0.0/8", "::1/128"], "ports": [9000]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
start_agent "$cfg" || { not_ok "agent starts with the bypass"; exit 1; }
ok "agent starts with the bypass on"
spawn_in "$T_CG/other" "$T_DIR/srv.log" node "$SUM" serve 127.0.0.1 9000
spawn_in "$T_CG/other" "$T_DIR/srv6.log" node "$SUM" serve ::1 9000
wait_port 9000 && wait_port 9000 ::1

out=$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 16777216)
check_eq "bypass: 16 MiB intact (sha256)" true "$(jq -r .match <<<"$out")"
out=$(run_in "$T_CG/gw" node "$SUM" send ::1 9000 1048576)
check_eq "bypass: IPv6 intact" true "$(jq -r .match <<<"$out")"
st=$(mw status --json)
v=$(jq .bpf.spliced <<<"$st")
if [ "$v" -ge 2 ]; then ok "the gateway's sockets joined the bypass ($v)"; else not_ok "spliced" "$st"; fi
check_eq "the agent still counted every byte" true \
	"$(mw flows --all --json | jq '[.flows[] | select(.origin == "127.0.0.1:9000")][0].bytes_up == 16777216')"

# the bypass really carried the bytes: IP saw them once (agent->server), not twice
o1=$(ip_octets)
run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 16777216 >/dev/null
o2=$(ip_octets)
d=$((o2 - o1))
if [ "$d" -lt 25000000 ]; then ok "IP carried 16 MiB about once, not twice ($d octets)"; else
	not_ok "IP carried the bytes twice: the bypass did not carry them" "$d octets"
fi
