#!/usr/bin/env bash
# tests/bench/journal.sh: the session journal, one run.
#   1. writer throughput (records/s, MB/s, CPU per record) best-effort and strict
#      (build/bench/journal_bench on real files in the test's temp dir)
#   2. strict mode's added latency per durable record (append -> fdatasync -> signalled)
#   3. the request path through the agent (mwbench 1 KiB ping-pong, raw flows recorded):
#      agent CPU per round trip and p50/p99 with the journal off, best-effort and strict;
#      the journal's share of the agent's CPU
#   4. compression ratio on real MCP traffic (SDK client -> server-everything, recorded)
#   5. `mcpwarden-replay list` and a filtered query over 10,000 sessions / 1,000,000 records
# Results: build/bench/journal.json.  QUICK=1 (as `make bench` runs it): a tenth of the work
# (the archive: 1,000 sessions / 100,000 records); the issue's figures need the full run.
set -u
source "$(dirname "$0")/../lib.sh"
Q=1
[ -n "${QUICK:-}" ] && Q=10
PP=${PP:-$((20000 / Q))}
PP_STRICT=${PP_STRICT:-$((2000 / Q))} # every round trip waits for two fdatasyncs
SESSIONS=${SESSIONS:-$((10000 / Q))}
RECORDS=${RECORDS:-$((1000000 / Q))}
APPENDS=${APPENDS:-$((200000 / Q))}
JB="$BUILD/bench/journal_bench"
MWB="$BUILD/bench/mwbench"
R="$BUILD/mcpwarden-replay"
t_begin >/dev/null
exec 3>&1 1>"$T_DIR/tap.log"
OUT="$T_DIR/results.jsonl"
: >"$OUT"
say() { echo "$*" >&3; }

say "mcpwarden journal benchmark: $(nproc) CPUs, kernel $(uname -r), $(df -T "$T_DIR" | awk 'NR==2{print $2}') under $T_DIR"
PAYLOADS=("$T_ROOT"/tests/fuzz/corpus/inspect/*)
"$JB" append "$T_DIR/w1" best-effort "$APPENDS" "${PAYLOADS[@]}" | jq -c '{test: "append"} + .' >>"$OUT"
"$JB" append "$T_DIR/w2" strict "$((APPENDS / 4))" "${PAYLOADS[@]}" | jq -c '{test: "append"} + .' >>"$OUT"
"$JB" latency "$T_DIR/w3" "$((2000 / Q))" | jq -c '{test: "strict_latency"} + .' >>"$OUT"
say "$(jq -r 'select(.test == "append") | "append \(.mode): \(.records_per_s) records/s, \(.mb_per_s) MB/s, \(.cpu_us_per_record) us CPU per record"' "$OUT")"
say "$(jq -r 'select(.test == "strict_latency") | "strict, one record at a time: durable after p50 \(.p50_us) us, p99 \(.p99_us) us"' "$OUT")"

# ---- the request path through the agent -------------------------------------------------------
spawn_in "$T_CG/other" "$T_DIR/srv.log" "$MWB" serve 127.0.0.1:9100
wait_port 9100 || { say "server did not start"; exit 1; }
agent_cpu() { awk '{print $14 + $15}' "/proc/$AGENT_PID/stat"; }
loop_cpu() { awk '{print $14 + $15}' "/proc/$AGENT_PID/task/$AGENT_PID/stat"; } # the event loop
for mode in off best-effort strict; do
	[ -n "${AGENT_PID:-}" ] && t_kill "$AGENT_PID"
	rm -rf "$T_PIN" "$T_DIR/state"
	start_agent "$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9100]}]},
	  "enroll": [{"cgroup": "'"$T_CG/gw"'"}], "journal": {"mode": "'"$mode"'"}')" >/dev/null ||
		{ say "agent did not start"; exit 1; }
	n=$PP
	[ "$mode" = strict ] && n=$PP_STRICT
	c0=$(agent_cpu) l0=$(loop_cpu)
	run_in "$T_CG/gw" "$MWB" pingpong 127.0.0.1:9100 --size 1024 --count "$n" --json >"$T_DIR/pp.json"
	c1=$(agent_cpu) l1=$(loop_cpu)
	jq -c --arg m "$mode" --argjson ticks "$((c1 - c0))" --argjson lt "$((l1 - l0))" \
		--argjson hz "$(getconf CLK_TCK)" --argjson n "$n" \
		'{test: "path", mode: $m, round_trips: $n, p50_us, p99_us, agent_cpu_us_per_rt: ($ticks / $hz * 1e6 / $n),
		  loop_cpu_us_per_rt: ($lt / $hz * 1e6 / $n)}' "$T_DIR/pp.json" >>"$OUT"
done
t_kill "$AGENT_PID"
say "$(jq -r 'select(.test == "path") | "request path (1 KiB ping-pong, \(.round_trips) round trips) journal \(.mode): p50 \(.p50_us) us, p99 \(.p99_us) us, CPU per round trip: event loop \(.loop_cpu_us_per_rt * 10 | round / 10) us, whole agent \(.agent_cpu_us_per_rt * 10 | round / 10) us"' "$OUT")"
say "$(jq -rs '(map(select(.test == "path")) | map({key: .mode, value: .}) | from_entries) as $p |
	"journal share of the request path (event loop) CPU: best-effort \((($p["best-effort"].loop_cpu_us_per_rt - $p.off.loop_cpu_us_per_rt) / $p["best-effort"].loop_cpu_us_per_rt * 100) | round)% [aim <= 10%]; of the whole agent (writer thread included): best-effort \((($p["best-effort"].agent_cpu_us_per_rt - $p.off.agent_cpu_us_per_rt) / $p["best-effort"].agent_cpu_us_per_rt * 100) | round)%, strict \((($p.strict.agent_cpu_us_per_rt - $p.off.agent_cpu_us_per_rt) / $p.strict.agent_cpu_us_per_rt * 100) | round)%; strict adds \($p.strict.p99_us - $p.off.p99_us) us at p99, \($p.strict.p50_us - $p.off.p50_us) us at p50"' "$OUT")"

# ---- compression on real MCP traffic ----------------------------------------------------------
PEERS="$T_ROOT/tests/e2e/peers"
if "$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1; then
	spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3031
	wait_port 3031
	rm -rf "$T_PIN" "$T_DIR/state"
	start_agent "$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [3031]}]},
	  "enroll": [{"cgroup": "'"$T_CG/gw"'"}], "policy": {"rules": [{"name": "all", "action": "allow"}]},
	  "journal": {"mode": "best-effort"}')" >/dev/null
	for i in $(seq $((10 / (Q > 1 ? 5 : 1)))); do
		run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3031/mcp --echo-bytes 500 --calls 10 >/dev/null
	done
	t_kill "$AGENT_PID"
	J="$T_DIR/state/journal"
	raw=$("$R" --dir "$J" export --format jsonl | jq -r 'select(.payload) | .payload' | wc -c)
	disk=$(cat "$J"/*.mwj | wc -c)
	jq -nc --argjson r "$raw" --argjson d "$disk" '{test: "mcp_ratio", payload_bytes: $r, disk_bytes: $d, ratio: ($r / $d)}' >>"$OUT"
	say "$(jq -r 'select(.test == "mcp_ratio") | "real MCP traffic (SDK sessions x 10 echo calls): \(.payload_bytes) payload bytes in \(.disk_bytes) bytes on disk (with records, metadata, hashes): ratio \(.ratio * 100 | round / 100)"' "$OUT")"
else
	say "npm peers unavailable: no MCP compression figure"
fi

# ---- queries over a large archive -------------------------------------------------------------
A="$T_DIR/archive"
t0=$(date +%s.%N)
"$JB" archive "$A" "$SESSIONS" "$RECORDS"
t1=$(date +%s.%N)
t_list() { local s e; s=$(date +%s.%N); "$@" >/dev/null; e=$(date +%s.%N); echo "$e - $s" | bc; }
tl=$(t_list "$R" --dir "$A" list --json)
tf=$(t_list "$R" --dir "$A" list --user carol --tool query --decision deny --since 1h)
n=$("$R" --dir "$A" list --user carol --tool query --decision deny --json | jq length)
jq -nc --argjson s "$SESSIONS" --argjson r "$RECORDS" --argjson g "$(echo "$t1 - $t0" | bc)" \
	--argjson l "$tl" --argjson f "$tf" --argjson n "$n" --argjson b "$(cat "$A"/*.mwj | wc -c)" \
	'{test: "query", sessions: $s, records: $r, generate_s: $g, list_s: $l, filtered_s: $f, filtered_hits: $n, archive_bytes: $b}' >>"$OUT"
say "$(jq -r 'select(.test == "query") | "archive of \(.sessions) sessions / \(.records) records (\(.archive_bytes / 1048576 | round) MiB, written in \(.generate_s * 10 | round / 10) s): list \(.list_s * 1000 | round) ms, filtered list (user+tool+decision+since) \(.filtered_s * 1000 | round) ms, \(.filtered_hits) hits [aim < 2 s]"' "$OUT")"

mkdir -p "$BUILD/bench"
jq -s . "$OUT" >"$BUILD/bench/journal.json"
say "results: $BUILD/bench/journal.json"
