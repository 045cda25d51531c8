#!/usr/bin/env bash
# What a local process outside the enrolled cgroup must not be able to do: squat a moved
# gateway listener's backend port and receive the requests (and tokens) meant for the
# gateway; claim a stale origin by binding a dead gateway connection's source port.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"

cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000]}],
              "inbound": [{"port": 8080, "backend_port": 18080}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
start_agent "$cfg" || { not_ok "agent starts"; exit 1; }

# 1. a squatter on the backend port, outside the cgroup, as nobody
spawn_in "$T_CG/other" "$T_DIR/squat.log" setpriv --reuid=65534 --regid=65534 --clear-groups \
	node "$SUM" serve 127.0.0.1 18080
wait_port 18080
sleep 0.2
squat0=$(grep -c '^conn' "$T_DIR/squat.log") # wait_port's own probe
# the gateway tries to bind 8080 (moved to 18080: taken, so its bind fails)
out=$(run_in "$T_CG/gw" node -e 'require("net").createServer().listen(8080, "127.0.0.1")
	.on("error", e => { console.log(e.code); process.exit(0); })
	.on("listening", () => { console.log("listening"); process.exit(0); });')
check_eq "the gateway's moved bind fails: the squatter holds the backend port" EADDRINUSE "$out"
out=$(run_in "$T_CG/other" node "$SUM" send 127.0.0.1 8080 100)
check_eq "a client of the public port is not relayed to the squatter" ECONNRESET "$(jq -r .error <<<"$out")"
check_eq "the squatter received nothing" "$squat0" "$(grep -c '^conn' "$T_DIR/squat.log")"
check_match "the refusal says why" "no gateway listener behind this port" \
	"$(mw flows --all --json | jq -r '.flows[].closed_reason')"

# 2. a stale origin: the agent stops while a gateway connection waits in its backlog
spawn_in "$T_CG/other" "$T_DIR/srv.log" node "$SUM" serve 127.0.0.1 9000
wait_port 9000
sleep 0.2
srv0=$(grep -c '^conn' "$T_DIR/srv.log")
kill -STOP "$AGENT_PID"
run_in "$T_CG/gw" node "$SUM" hold 127.0.0.1 9000 1.5 >"$T_DIR/held.json"
sport=$(jq -r .local_port "$T_DIR/held.json")
kill -9 "$AGENT_PID"
kill -CONT "$AGENT_PID" 2>/dev/null
wait "$AGENT_PID" 2>/dev/null
start_agent "$cfg" || not_ok "agent restarts"
before=$(mw status --json | jq .counters.origin_missing)
out=$(MW_SRC_PORT=$sport run_in "$T_CG/other" setpriv --reuid=65534 --regid=65534 --clear-groups \
	node "$SUM" send 127.0.0.1 15001 100)
check_eq "a process outside the cgroup cannot claim a stale origin (source port $sport)" ECONNRESET \
	"$(jq -r .error <<<"$out")"
check_eq "the server never saw it" "$srv0" "$(grep -c '^conn' "$T_DIR/srv.log")"
check_eq "it is counted as a flow without origin" "$((before + 1))" "$(mw status --json | jq .counters.origin_missing)"
check_eq "the gateway itself is still served" true "$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 100 | jq -r .match)"
