#!/usr/bin/env bash
# tests/run.sh [PATTERN]: every test of the project, ending with one line
# "N passed, N failed, N skipped".  Each test program prints TAP; each "ok" / "not ok" line
# counts once.  Unit tests (cmocka), fuzz regressions (every corpus input and crash
# reproducer replayed under ASan/UBSan), BPF tests, end-to-end tests with real peers.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
PATTERN=${1:-}
TEST_TIMEOUT=${TEST_TIMEOUT:-600}
export BUILD

passed=0
failed=0
skipped=0
failed_names=()

count() { # name, file with TAP output, exit code
	local name=$1 out=$2 rc=$3 p f s
	p=$(grep -cE '^ok [0-9]+' "$out" | head -1)
	f=$(grep -cE '^not ok [0-9]+' "$out" | head -1)
	s=$(grep -cE '^(ok [0-9]+.*# SKIP|1\.\.0 # SKIP)' "$out" | head -1)
	p=$((p - $(grep -cE '^ok [0-9]+.*# SKIP' "$out")))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1 # crashed or bailed out before reporting
		echo "not ok - $name exited with status $rc"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	[ "$f" -gt 0 ] && failed_names+=("$name")
}

run() { # name cmd...
	local name=$1 out rc
	shift
	[ -n "$PATTERN" ] && [[ "$name" != *$PATTERN* ]] && return 0
	out=$(mktemp)
	echo "=== $name"
	timeout --kill-after=10 "$TEST_TIMEOUT" "$@" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 124 ] && echo "not ok - $name timed out after ${TEST_TIMEOUT}s"
	count "$name" "$out" "$rc"
	rm -f "$out"
}

fuzz_replay() { # target
	local t=$1 name=${1##*/fuzz_} dirs=()
	for d in "$ROOT/tests/fuzz/corpus/$name" "$ROOT/tests/fuzz/crashes"; do
		[ -d "$d" ] && dirs+=("$d")
	done
	if "$t" -runs=0 "${dirs[@]}" >/tmp/mw-fuzz-$name.log 2>&1; then
		echo "ok 1 - fuzz_$name replays its corpus clean under ASan/UBSan"
	else
		echo "not ok 1 - fuzz_$name replay"
		tail -n 30 "/tmp/mw-fuzz-$name.log" | sed 's/^/#   /'
	fi
	rm -f "/tmp/mw-fuzz-$name.log"
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$BUILD"/tests/test_*; do
	[ -x "$t" ] && [[ "$t" != *.* ]] && run "unit/${t##*/}" "$t"
done
for t in "$BUILD"/fuzz/fuzz_*; do
	[ -x "$t" ] && [[ "$t" != *.* ]] && run "fuzz/${t##*/}" bash -c "$(declare -f fuzz_replay); ROOT=$ROOT; fuzz_replay $t"
done
for t in "$ROOT"/tests/bpf/*.sh "$ROOT"/tests/e2e/*.sh; do
	[ -f "$t" ] || continue
	rel=${t#"$ROOT"/tests/}
	run "${rel%.sh}" bash "$t"
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
