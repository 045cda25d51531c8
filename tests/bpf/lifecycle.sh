#!/usr/bin/env bash
# Fail closed and fail open, pins that outlive the agent, enrollment at run time.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"

capture='"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000]}]}'
cfg=$(agent_config "$capture"', "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
start_agent "$cfg" || { not_ok "agent starts"; exit 1; }
spawn_in "$T_CG/other" "$T_DIR/srv.log" node "$SUM" serve 127.0.0.1 9000
wait_port 9000
send() { run_in "$1" node "$SUM" send 127.0.0.1 9000 4096 2>&1; }

check_eq "captured while the agent serves" true "$(send "$T_CG/gw" | jq -r .match)"

# kill -9: nothing gets through, the connect is refused
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
out=$(send "$T_CG/gw")
check_eq "agent killed: enrolled connects are refused (fail closed)" ECONNREFUSED "$(jq -r .error <<<"$out")"
check_eq "agent killed: other cgroups are unaffected" true "$(send "$T_CG/other" | jq -r .match)"
if [ -e "$T_PIN/links" ] && [ -n "$(ls "$T_PIN/links")" ]; then ok "the links stay pinned"; else
	not_ok "the links stay pinned" "$(ls -R "$T_PIN" 2>&1)"
fi

# a restarted agent adopts the pins (no enrollment in its config)
cfg=$(agent_config "$capture")
start_agent "$cfg" || not_ok "agent restarts"
check_eq "restarted agent serves the pinned cgroup without re-enrolling" true \
	"$(send "$T_CG/gw" | jq -r .match)"
check_eq "restarted agent lists the cgroup as pinned" pinned \
	"$(mw status --json | jq -r --arg cg "$T_CG/gw" '.enrolled[] | select(.cgroup == $cg) | .source')"

# SIGTERM drains: connects made while stopping are refused too
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
check_eq "agent stopped by SIGTERM: enrolled connects are refused" ECONNREFUSED \
	"$(send "$T_CG/gw" | jq -r .error)"

# fail open is the explicit alternative
cfg=$(agent_config "$capture"', "fail": "open"')
start_agent "$cfg" || not_ok "agent starts (fail open)"
check_eq "fail open: captured while serving" 1 "$(send "$T_CG/gw" >/dev/null; mw status --json | jq .counters.flows_total)"
kill -9 "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
check_eq "fail open: agent killed, connects go direct" true "$(send "$T_CG/gw" | jq -r .match)"

# enrollment at run time
cfg=$(agent_config "$capture")
start_agent "$cfg" || not_ok "agent starts"
out=$(mw unenroll --cgroup "$T_CG/gw" 2>&1)
check_match "unenroll at run time" "unenrolled" "$out"
if [ -z "$(ls "$T_PIN/links" 2>/dev/null)" ]; then ok "unenroll removes every link pin"; else
	not_ok "unenroll removes every link pin" "$(ls -R "$T_PIN/links")"
fi
n=$(mw status --json | jq .counters.flows_total)
check_eq "unenrolled: connects go direct" true "$(send "$T_CG/gw" | jq -r .match)"
check_eq "unenrolled: not captured" "$n" "$(mw status --json | jq .counters.flows_total)"

# a connection made before enrollment is reported as not captured
mkfifo "$T_DIR/hold"
spawn_in "$T_CG/gw" "$T_DIR/early.log" bash -c "exec 3<>/dev/tcp/127.0.0.1/9000; cat '$T_DIR/hold' >/dev/null"
early=$SPAWNED
sleep 0.5
out=$(mw enroll --cgroup "$T_CG/gw" 2>&1)
check_match "enroll at run time" "enrolled $T_CG/gw" "$out"
check_match "enroll reports the sockets opened before enrollment" "1 socket opened before enrollment is not captured" "$out"
check_eq "enrolled at run time: captured" "$((n + 1))" "$(send "$T_CG/gw" >/dev/null; mw status --json | jq .counters.flows_total)"
out=$(mw enroll --cgroup "$T_CG/gw" 2>&1)
check_match "enrolling twice is a clear error" "already enrolled" "$out"
out=$(mw enroll --cgroup "$T_CG/agent" 2>&1)
check_match "the agent's own cgroup cannot be enrolled" "contains the agent itself" "$out"
out=$(mw enroll --cgroup "$T_CG" 2>&1)
check_match "an ancestor of the agent cannot be enrolled" "contains the agent itself" "$out"
out=$(mw enroll --cgroup /nonexistent/x 2>&1)
check_match "a missing cgroup is a clear error" "no cgroup '/nonexistent/x'" "$out"
out=$(mw enroll --unit mcp-gateway.service 2>&1)
check_match "enroll by unit without systemd says so" "systemd is not running here" "$out"
out=$(mw enroll --pid "$early" --json)
check_match "enroll by pid resolves the process's cgroup" "'$T_CG/gw' is already enrolled" "$out"
echo >"$T_DIR/hold"
kill -0 "$AGENT_PID" && ok "the agent survived every bad request"

# uninstall path
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null
out=$("$BUILD/mcpwardend" --config "$cfg" --remove-pins 2>&1)
check_match "--remove-pins reports" "removed every pin" "$out"
if [ ! -e "$T_PIN" ]; then ok "--remove-pins removes every pin"; else not_ok "pins left" "$(ls -R "$T_PIN")"; fi
check_eq "no pins: the cgroup's connects go direct" true "$(send "$T_CG/gw" | jq -r .match)"
