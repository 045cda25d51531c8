#!/usr/bin/env bash
# The journal under crashes and full disks.  kill -9 of the agent in the middle of real MCP
# traffic (strict mode), several times: every echo a client got back is in the journal, the
# journal verifies, and the sessions the crash cut off end with abandoned records.  A small
# tmpfs filling up: in strict mode new sessions are refused with a clear alert; in
# best-effort mode traffic goes on and the loss is written as a gap record.
source "$(dirname "$0")/../lib.sh"
t_begin
PEERS="$T_ROOT/tests/e2e/peers"
"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 || { not_ok "npm peers install"; exit 1; }
R="$BUILD/mcpwarden-replay"
J="$T_DIR/state/journal"
spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" 3021
wait_port 3021 || not_ok "server-everything listens"

POLICY='"policy": {"rules": [{"name": "all", "action": "allow"}]}'
mkcfg() { # journal object
	agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [3021]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}], '"$POLICY"', "journal": '"$1"
}

# ---- kill -9 in the middle of traffic ------------------------------------------------------
cfg=$(mkcfg '{"mode": "strict"}')
: >"$T_DIR/results"
clients() { # run clients one after another until told to stop
	while [ ! -e "$T_DIR/stop" ]; do
		run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 200 >>"$T_DIR/results" 2>/dev/null
	done
}
ROUNDS=4
for round in $(seq $ROUNDS); do
	start_agent "$cfg" || { not_ok "agent starts (round $round)"; break; }
	rm -f "$T_DIR/stop"
	before=$(grep -c '"ok":true' "$T_DIR/results")
	clients &
	CL=$!
	# and one long session, always in the middle of its calls when the agent dies
	run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 2000 --calls 100000 \
		>/dev/null 2>&1 &
	LONG=$!
	for _ in $(seq 100); do # at least one session done, then kill in the middle of the next
		[ "$(grep -c '"ok":true' "$T_DIR/results")" -gt "$before" ] && break
		sleep 0.1
	done
	sleep 0.$((RANDOM % 9 + 1))
	kill -9 "$AGENT_PID"
	wait "$AGENT_PID" 2>/dev/null
	cat "$T_DIR/agent.log" >>"$T_DIR/rounds.log"
	touch "$T_DIR/stop"
	wait "$CL" "$LONG" 2>/dev/null
done
start_agent "$cfg" || not_ok "agent starts after the last crash"
cat "$T_DIR/agent.log" >>"$T_DIR/rounds.log"
check_match "restarts report the recovery (abandoned sessions)" "session journal recovered: .* [1-9][0-9]* open sessions abandoned" \
	"$(cat "$T_DIR/rounds.log")"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
oks=$(grep -c '"ok":true' "$T_DIR/results")
[ "$oks" -ge $ROUNDS ] && ok "clients completed $oks sessions across $ROUNDS crashes" || not_ok "clients completed sessions" "$oks"
check_cmd "after $ROUNDS kill -9 the journal verifies" "$R" --dir "$J" verify
"$R" --dir "$J" export --format jsonl >"$T_DIR/export.jsonl"
abandoned=$(jq -r 'select(.type == "abandoned") | .session' "$T_DIR/export.jsonl" | sort -u | wc -l)
[ "$abandoned" -ge 1 ] && ok "sessions cut by the crashes end with abandoned records ($abandoned)" || not_ok "abandoned records" "$abandoned"
open_left=$("$R" --dir "$J" list --json | jq '[.[] | select(.state == "open")] | length')
check_eq "no session is left open" 0 "$open_left"
check_cmd "list shows every session" test "$("$R" --dir "$J" list --json | jq length)" -ge "$((oks * 3))"
# every echo a client received is in the journal
jq -r 'select(.type == "response") | .payload' "$T_DIR/export.jsonl" | grep -oE '"text":"Echo: [^"]*"' |
	sed -E 's/^"text":"Echo: //; s/"$//' | while read -r m; do printf '%s' "$m" | sha256sum | cut -d' ' -f1; done |
	sort -u >"$T_DIR/journal.sums"
grep '"ok":true' "$T_DIR/results" | jq -r .sha256_back | sort -u >"$T_DIR/client.sums"
missing=$(comm -23 "$T_DIR/client.sums" "$T_DIR/journal.sums" | wc -l)
check_eq "every echo a client received is in the journal ($(wc -l <"$T_DIR/client.sums") checked)" 0 "$missing"

# ---- a small filesystem filling up ------------------------------------------------------------
FS="$T_DIR/fs"
mkdir -p "$FS"
mount -t tmpfs -o size=1m tmpfs "$FS" || { not_ok "mount a 1 MiB tmpfs"; exit 1; }
T_UMOUNT="$FS"
trap 'rc=$?; [ -z "$T_UMOUNT" ] || umount "$T_UMOUNT"; (exit $rc); t_end' EXIT
chown 65534 "$FS"
cfg=$(mkcfg '{"mode": "strict", "dir": "'"$FS/j"'"}')
start_agent "$cfg" || not_ok "agent starts with a strict journal on the small tmpfs"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 100)
check_eq "strict: a session while there is room" true "$(jq -r .ok <<<"$out")"
dd if=/dev/zero of="$FS/filler" bs=4k count=1000 2>/dev/null # fill what is left
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 20000 --calls 3)
check_eq "strict, disk full: the session is ended, not served unrecorded" false "$(jq -r .ok <<<"$out")"
sleep 0.3
check_match "strict, disk full: a clear alert" "session journal failed: .*No space left on device.*strict mode" \
	"$(cat "$T_DIR/agent.log")"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 10)
check_eq "strict, disk full: new sessions are refused" false "$(jq -r .ok <<<"$out")"
check_match "refused at accept, with the reason" "refused: the session journal is unavailable" "$(cat "$T_DIR/agent.log")"
kill -0 "$AGENT_PID" 2>/dev/null && ok "the agent stays up" || not_ok "the agent stays up"
# the filesystem grows: the writer's retry (every 10 s) makes a new segment and resumes
mount -o remount,size=8m "$FS"
for _ in $(seq 30); do grep -q "session journal recovered: writing to" "$T_DIR/agent.log" && break; sleep 0.5; done
check_match "strict: once there is room, a retry recovers the journal without a restart" \
	"session journal recovered: writing to '.*/j/00000002-.*' again" "$(cat "$T_DIR/agent.log")"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 10)
check_eq "strict, recovered: new sessions are served again" true "$(jq -r .match <<<"$out")"
t_kill "$AGENT_PID"
rm -f "$FS/filler"
check_cmd "strict: what was written verifies (across the failure and the new segment)" "$R" --dir "$FS/j" verify
check_match "the sessions the failure cut end with abandoned records naming it" \
	"abandoned.*the session journal failed" \
	"$(for s in $("$R" --dir "$FS/j" list --json | jq -r '.[] | select(.state == "abandoned") | .session'); do "$R" --dir "$FS/j" show "$s"; done)"
check_eq "no session is left open after the recovery" 0 \
	"$("$R" --dir "$FS/j" list --json | jq '[.[] | select(.state == "open")] | length')"

rm -rf "$FS/j"
mount -o remount,size=1m "$FS" # small again
cfg=$(mkcfg '{"mode": "best-effort", "dir": "'"$FS/j"'"}')
start_agent "$cfg" || not_ok "agent starts with a best-effort journal on the small tmpfs"
dd if=/dev/zero of="$FS/filler" bs=4k count=1000 2>/dev/null
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 20000 --calls 3)
check_eq "best-effort, disk full: traffic goes on" true "$(jq -r .match <<<"$out")"
rm -f "$FS/filler"
out=$(run_in "$T_CG/gw" node "$PEERS/client.mjs" http://127.0.0.1:3021/mcp --echo-bytes 10)
check_eq "best-effort: a session once there is room again" true "$(jq -r .ok <<<"$out")"
kill -TERM "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null
check_match "best-effort: the loss is a gap record" '"type":"gap"' "$("$R" --dir "$FS/j" export --format jsonl)"
check_match "and show tells the auditor" "GAP: [0-9]+ records" \
	"$(for s in $("$R" --dir "$FS/j" list --json | jq -r '.[].session'); do "$R" --dir "$FS/j" show "$s"; done)"
check_eq "best-effort: every session is listed (the index lost lines while the disk was full)" 0 \
	"$("$R" --dir "$FS/j" export --format jsonl | jq -r .session | grep -v '^0*$' | sort -u |
		comm -23 - <("$R" --dir "$FS/j" list --json | jq -r '.[].session' | sort -u) | wc -l)"
check_cmd "best-effort: the journal verifies (gaps explain the missing sequence numbers)" "$R" --dir "$FS/j" verify
umount "$FS" && T_UMOUNT="" && ok "tmpfs unmounted"
