#!/usr/bin/env bash
# tests/bench/run.sh: `make bench`.  Round-trip latency (1 B and 1 KiB ping-pong) and bulk
# throughput over loopback, in one run, for three paths measured side by side:
#   direct    the client outside any enrolled cgroup, straight to the server
#   captured  the client in an enrolled cgroup: connect4 -> mcpwardend -> server
#   bypass    the same with "bypass": true (sk_msg on the gateway<->agent hop)
# Each path is measured REPS times, interleaved; medians are reported with ratios to direct.
# Results also go to build/bench/capture.json.
set -u
source "$(dirname "$0")/../lib.sh"
REPS=${REPS:-5}
PP_COUNT=${PP_COUNT:-20000}
BULK=${BULK:-1073741824}
MWB="$BUILD/bench/mwbench"
t_begin >/dev/null
exec 3>&1 1>"$T_DIR/tap.log" # keep the harness's TAP out of the report

spawn_in "$T_CG/other" "$T_DIR/srv.log" "$MWB" serve 127.0.0.1:9000
wait_port 9000 || { echo "server did not start" >&3; exit 1; }

agent() { # bypass: true|false
	[ -n "${AGENT_PID:-}" ] && t_kill "$AGENT_PID"
	rm -rf "$T_PIN"
	start_agent "$(agent_config '"bypass": '"$1"', "limits": {"relay_buffer": "1MiB"},
	  "capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000]}]},
	  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')" >/dev/null
}

measure() { # path cgroup
	local path=$1 cg=$2
	run_in "$cg" "$MWB" pingpong 127.0.0.1:9000 --size 1 --count "$PP_COUNT" --json |
		jq -c --arg p "$path" '. + {path: $p, test: "pp1"}' >>"$T_DIR/raw.jsonl"
	run_in "$cg" "$MWB" pingpong 127.0.0.1:9000 --size 1024 --count "$PP_COUNT" --json |
		jq -c --arg p "$path" '. + {path: $p, test: "pp1k"}' >>"$T_DIR/raw.jsonl"
	run_in "$cg" "$MWB" bulk 127.0.0.1:9000 --bytes "$BULK" --json |
		jq -c --arg p "$path" '. + {path: $p, test: "bulk"}' >>"$T_DIR/raw.jsonl"
}

echo "mcpwarden capture benchmark: $REPS interleaved runs per path, $PP_COUNT round trips," \
	"$((BULK / 1048576)) MiB bulk; $(nproc) CPUs, kernel $(uname -r)" >&3
for rep in $(seq "$REPS"); do
	measure direct "$T_CG/other"
	agent false && measure captured "$T_CG/gw"
	agent true && measure bypass "$T_CG/gw"
	echo "  run $rep/$REPS done" >&3
done
t_kill "$AGENT_PID"

mkdir -p "$BUILD/bench"
jq -s '
  def median: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  group_by(.path) | map({key: .[0].path, value: {
    pp1_p50: (map(select(.test == "pp1") | .p50_us) | median),
    pp1_p99: (map(select(.test == "pp1") | .p99_us) | median),
    pp1k_p50: (map(select(.test == "pp1k") | .p50_us) | median),
    pp1k_p99: (map(select(.test == "pp1k") | .p99_us) | median),
    bulk_mbps: (map(select(.test == "bulk") | .mbps) | median)}}) | from_entries' \
	"$T_DIR/raw.jsonl" >"$BUILD/bench/capture.json"

jq -r '
  . as $r | def f: . * 10 | round / 10;
  "",
  "                    1 B p50   1 B p99  1 KiB p50 1 KiB p99     bulk MB/s",
  (["direct", "captured", "bypass"][] as $p | $r[$p] |
    "\($p | . + "          " | .[0:10])  \(.pp1_p50 | f | tostring | " " * (9 - length) + .) \(.pp1_p99 | f | tostring | " " * (9 - length) + .)  \(.pp1k_p50 | f | tostring | " " * (9 - length) + .) \(.pp1k_p99 | f | tostring | " " * (9 - length) + .)  \(.bulk_mbps | round | tostring | " " * (12 - length) + .)"),
  "(latencies in microseconds, medians of the runs)",
  "",
  "captured vs direct: +\(($r.captured.pp1_p50 - $r.direct.pp1_p50) | f) us at p50 (1 B), +\(($r.captured.pp1k_p50 - $r.direct.pp1k_p50) | f) us (1 KiB); p99 x\(($r.captured.pp1_p99 / $r.direct.pp1_p99) * 100 | round / 100); bulk \(($r.captured.bulk_mbps / $r.direct.bulk_mbps) * 100 | round)% of direct   [aim: <= +30 us, >= 70%]",
  "bypass   vs direct: +\(($r.bypass.pp1_p50 - $r.direct.pp1_p50) | f) us at p50 (1 B), +\(($r.bypass.pp1k_p50 - $r.direct.pp1k_p50) | f) us (1 KiB); p99 x\(($r.bypass.pp1_p99 / $r.direct.pp1_p99) * 100 | round / 100); bulk \(($r.bypass.bulk_mbps / $r.direct.bulk_mbps) * 100 | round)% of direct   [aim: >= 95%]",
  "bypass vs captured: p50 \((($r.bypass.pp1_p50 / $r.captured.pp1_p50) - 1) * 100 | round)% (1 B), bulk \((($r.bypass.bulk_mbps / $r.captured.bulk_mbps) - 1) * 100 | round)%"
' "$BUILD/bench/capture.json" >&3
echo "results: $BUILD/bench/capture.json" >&3
