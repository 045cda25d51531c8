#!/usr/bin/env bash
# tests/bench/mask.sh: the masking engine's benchmark (build/bench/maskbench): throughput per
# core of mask_message() and mask_text() on MCP tool results of 1 KiB, 64 KiB and 1 MiB with
# every built-in detector on, p50/p99 latency of a 64 KiB reply, and the ratio to a baseline
# of one PCRE2 regex per detector run one at a time over the same text.  Aim (issue 5):
# >= 500 MB/s per core, <= 1 ms p99 for 64 KiB.  MIN_TIME=seconds per measurement (QUICK=1,
# as `make bench` runs it: 0.2).
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MIN_TIME=${MIN_TIME:-1}
[ -n "${QUICK:-}" ] && MIN_TIME=0.2 # `make bench`: shorter measurements
echo "mcpwarden masking benchmark: one thread, $(nproc) CPUs, $(uname -r)," \
	"load $(cut -d' ' -f1 /proc/loadavg)"
"$BUILD/bench/maskbench" --min-time "$MIN_TIME"
if [ -n "${MASK_BENCH_JSON:-}" ]; then
	"$BUILD/bench/maskbench" --min-time "$MIN_TIME" --json >"$MASK_BENCH_JSON"
fi
