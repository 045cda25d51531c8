#!/usr/bin/env bash
# The daemon as systemd runs it: sd_notify READY/STATUS/WATCHDOG, capabilities dropped
# after start-up (the privileged helper keeps only what enrolling needs), SIGTERM drains
# flows in progress.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"

"$BUILD/tests/notifyd" "$T_DIR/notify.sock" 30 >"$T_DIR/notify.log" 2>&1 &
T_PIDS+=("$!")
for _ in $(seq 50); do [ -S "$T_DIR/notify.sock" ] && break; sleep 0.1; done
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000]}]},
  "limits": {"drain_timeout": "20s"},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
NOTIFY_SOCKET="$T_DIR/notify.sock" WATCHDOG_USEC=400000 start_agent "$cfg" || { not_ok "agent starts"; exit 1; }
sleep 1
check_match "sd_notify: READY=1" "READY=1" "$(cat "$T_DIR/notify.log")"
check_match "sd_notify: STATUS" "STATUS=serving: 1 cgroups enrolled" "$(cat "$T_DIR/notify.log")"
n=$(grep -c "WATCHDOG=1" "$T_DIR/notify.log")
if [ "$n" -ge 2 ]; then ok "sd_notify: WATCHDOG=1 pings ($n in ~1 s)"; else not_ok "watchdog pings" "$(cat "$T_DIR/notify.log")"; fi

caps() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
check_eq "the daemon has no effective capability" 0000000000000000 "$(caps "$AGENT_PID" CapEff)"
check_eq "the daemon has no permitted capability" 0000000000000000 "$(caps "$AGENT_PID" CapPrm)"
check_eq "the daemon's bounding set is empty" 0000000000000000 "$(caps "$AGENT_PID" CapBnd)"
check_eq "the daemon runs as an unprivileged user" "65534 65534 65534 65534" \
	"$(awk '$1 == "Uid:" { print $2, $3, $4, $5 }' "/proc/$AGENT_PID/status")"
check_eq "the daemon has no_new_privs" 1 "$(awk '$1 == "NoNewPrivs:" { print $2 }' "/proc/$AGENT_PID/status")"
priv=$(pgrep -P "$AGENT_PID" | head -n 1)
# CAP_DAC_READ_SEARCH 2, CAP_NET_ADMIN 12, CAP_SYS_PTRACE 19, CAP_SYS_ADMIN 21, CAP_BPF 39
check_eq "the privileged helper keeps only BPF, NET_ADMIN, SYS_ADMIN, SYS_PTRACE, DAC_READ_SEARCH" \
	0000008000281004 "$(caps "$priv" CapEff)"
check_eq "the privileged helper's comm" mcpwardend-priv "$(cat "/proc/$priv/comm")"

# SIGTERM drains: a transfer in progress finishes intact, new connects are refused
spawn_in "$T_CG/other" "$T_DIR/slow.log" node "$SUM" serve-slow 127.0.0.1 9000 2
wait_port 9000
run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 33554432 >"$T_DIR/drain.json" &
sender=$!
sleep 0.7
kill -TERM "$AGENT_PID"
sleep 0.3
kill -0 "$AGENT_PID" && ok "SIGTERM with a flow in progress: the agent drains instead of exiting"
check_eq "while draining, new connects are refused" ECONNREFUSED \
	"$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 10 | jq -r .error)"
wait "$sender"
check_eq "the flow in progress finished intact" true "$(jq -r .match "$T_DIR/drain.json")"
for _ in $(seq 50); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$AGENT_PID" 2>/dev/null; then not_ok "the agent exits once drained"; else ok "the agent exits once drained"; fi
check_match "sd_notify: STOPPING=1" "STOPPING=1" "$(cat "$T_DIR/notify.log")"
if pgrep -P "$AGENT_PID" >/dev/null 2>&1 || kill -0 "$priv" 2>/dev/null; then
	not_ok "the privileged helper ends with the daemon"
else ok "the privileged helper ends with the daemon"; fi
