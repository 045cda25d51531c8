#!/usr/bin/env bash
# The relay's limits: backpressure (a slow server bounds the agent's memory), idle and
# connect timeouts, the connection limit, an unreachable upstream.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": ["9000-9010"]}]},
  "limits": {"max_flows": 3, "idle_timeout": "2s", "connect_timeout": "1s", "relay_buffer": "64KiB"},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
start_agent "$cfg" || { not_ok "agent starts"; exit 1; }
spawn_in "$T_CG/other" "$T_DIR/slow.log" node "$SUM" serve-slow 127.0.0.1 9000 1.2
spawn_in "$T_CG/other" "$T_DIR/deaf.log" node "$SUM" serve-slow 127.0.0.1 9003 60
spawn_in "$T_CG/other" "$T_DIR/srv.log" node "$SUM" serve 127.0.0.1 9001
spawn_in "$T_CG/other" "$T_DIR/stall.log" "$BUILD/tests/stall" 127.0.0.1 9002
wait_port 9000 && wait_port 9001 && wait_port 9003
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$AGENT_PID/status"; }

# backpressure: 128 MiB towards a server that reads nothing for 1.2 s
rss0=$(rss)
run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 134217728 >"$T_DIR/slow.json" &
sender=$!
sleep 0.9
rss1=$(rss)
wait "$sender"
check_eq "a slow server: 128 MiB still arrive intact" true "$(jq -r .match "$T_DIR/slow.json")"
grow=$((rss1 - rss0))
if [ "$grow" -lt 8192 ]; then ok "backpressure: the agent's memory grew ${grow} KiB while the server stalled"; else
	not_ok "backpressure: the agent buffered the stalled stream" "RSS grew ${grow} KiB"
fi

# idle timeout
out=$(run_in "$T_CG/gw" node "$SUM" hold 127.0.0.1 9001 5)
check_eq "an idle flow is closed by the idle timeout" eof "$(jq -r .ended <<<"$out")"
ms=$(jq -r .after_ms <<<"$out")
if [ "$ms" -ge 1900 ] && [ "$ms" -lt 6000 ]; then ok "... after about 2 s (${ms} ms)"; else not_ok "idle timeout timing" "$ms ms"; fi
check_match "the flow says why it closed" "idle timeout" "$(mw flows --all --json | jq -r '.flows[].closed_reason')"

# a server that stops reading: the flow is stalled, and after the idle timeout reset
out=$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9003 134217728)
check_eq "a server that never reads: the gateway's connection is reset" ECONNRESET "$(jq -r .error <<<"$out")"
check_match "... as stalled" "stalled: a peer stopped reading" "$(mw flows --all --json | jq -r '.flows[].closed_reason')"

# an upstream that never answers: connect timeout, the gateway sees a reset
out=$(run_in "$T_CG/gw" node "$SUM" hold 127.0.0.1 9002 5)
check_eq "an upstream that never answers: the gateway's connection is reset" ECONNRESET "$(jq -r .error <<<"$out")"
check_match "... after the connect timeout" "upstream connect timed out" "$(mw flows --all --json | jq -r '.flows[].closed_reason')"

# an upstream that refuses: reset too
out=$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9009 10)
check_eq "a refused upstream: the gateway sees a reset, not a clean close" ECONNRESET "$(jq -r .error <<<"$out")"

# the connection limit: 3 held, the 4th is refused
for i in 1 2 3; do
	spawn_in "$T_CG/gw" "$T_DIR/hold$i.log" node "$SUM" hold 127.0.0.1 9001 0.8
done
sleep 0.4
out=$(run_in "$T_CG/gw" node "$SUM" hold 127.0.0.1 9001 2)
check_eq "beyond max_flows a new flow is reset" ECONNRESET "$(jq -r .error <<<"$out")"
check_eq "and counted as refused" 1 "$(mw status --json | jq .counters.flows_refused)"
check_match "with the reason" "connection limit reached" "$(mw flows --all --json | jq -r '.flows[].closed_reason')"
check_eq "and still attributed to its process" node \
	"$(mw flows --all --json | jq -r '.flows[] | select(.closed_reason == "connection limit reached") | .comm')"
sleep 1
check_eq "once flows end, new ones are served" true "$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9001 1000 | jq -r .match)"
