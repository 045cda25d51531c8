#!/usr/bin/env bash
# Bad configurations and bad control messages get precise errors and leave the agent
# running; SIGHUP reloads atomically; every flow is a journald entry with the DESIGN.md
# fields, read back from a real systemd-journald with journalctl.
source "$(dirname "$0")/../lib.sh"
t_begin
SUM="$T_ROOT/tests/helpers/tcpsum.mjs"
D="$BUILD/mcpwardend"

# --check-config: file, line:column and key
printf '{\n  "listen": ["127.0.0.1:15001"],\n  "fail": "sometimes"\n}\n' >"$T_DIR/bad1.json"
out=$("$D" --check-config --config "$T_DIR/bad1.json" 2>&1); rc=$?
check_eq "a bad config exits 2" 2 "$rc"
check_match "a bad value is named with file:line:column and key" "bad1.json:3:[0-9]+: key 'fail'" "$out"
printf '{\n  "listen": ["127.0.0.1:15001",]\n}\n' >"$T_DIR/bad2.json"
out=$("$D" --check-config --config "$T_DIR/bad2.json" 2>&1)
check_match "a syntax error is named with file:line:column" "bad2.json:2:[0-9]+" "$out"
printf '{"capture": {"outbound": [{"ports": [70000]}]}}' >"$T_DIR/bad3.json"
out=$("$D" --check-config --config "$T_DIR/bad3.json" 2>&1)
check_match "an out-of-range port names its key" "capture.outbound\[0\].ports\[0\]" "$out"
printf '{"lisen": []}' >"$T_DIR/bad4.json"
out=$("$D" --check-config --config "$T_DIR/bad4.json" 2>&1)
check_match "an unknown key is an error" "lisen" "$out"
out=$("$D" --check-config --config "$T_DIR/missing.json" 2>&1); rc=$?
check_eq "a missing named config exits 2" 2 "$rc"
out=$("$D" --bogus 2>&1); rc=$?
check_eq "a bad option exits 2" 2 "$rc"
out=$("$D" --check-config --config "$T_ROOT/agent/mcpwarden.example.json" 2>&1)
check_match "the shipped example config is valid" "configuration OK" "$out"

# a running agent logging to a real journald
start_journald || skip_all "no systemd-journald to start"
cfg=$(agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": [9000]}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}]')
AGENT_ARGS="" start_agent "$cfg" || { not_ok "agent starts"; exit 1; }
spawn_in "$T_CG/other" "$T_DIR/srv.log" node "$SUM" serve 127.0.0.1 9000
spawn_in "$T_CG/other" "$T_DIR/srv2.log" node "$SUM" serve 127.0.0.1 9002
wait_port 9000 && wait_port 9002
out=$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 1000)
pid=$(jq -r .pid <<<"$out")
flow=$(mw flows --all --json | jq -r '.flows[0].id')
sleep 0.5
j=$(journalctl -t mcpwarden MCPW_FLOW="$flow" MESSAGE_ID=773ab805631c4b0aae0f054612d698cf -o json --no-pager 2>&1 | tail -n 1)
check_eq "journald: the flow's close entry has MCPW_PID" "$pid" "$(jq -r .MCPW_PID <<<"$j")"
check_eq "journald: ... MCPW_TARGET" 127.0.0.1:9000 "$(jq -r .MCPW_TARGET <<<"$j")"
check_eq "journald: ... MCPW_CGROUP" "$T_CG/gw" "$(jq -r .MCPW_CGROUP <<<"$j")"
check_eq "journald: ... MCPW_BYTES_UP" 1000 "$(jq -r .MCPW_BYTES_UP <<<"$j")"
check_eq "journald: ... MCPW_SESSION" "$flow" "$(jq -r .MCPW_SESSION <<<"$j")"
n=$(journalctl -t mcpwarden MESSAGE_ID=7f79e34d0d8e46ac9e3a1ead548a0516 MCPW_PID="$pid" -o json --no-pager | wc -l)
check_eq "journald: one open entry for the flow, found by MCPW_PID" 1 "$n"

# bad control messages
ctl() { node -e '
const s = require("net").connect(process.argv[1]);
let out = ""; s.on("data", d => out += d); s.on("end", () => { process.stdout.write(out); });
s.on("error", e => { console.log(JSON.stringify({ok: false, error: e.code})); });
s.end(process.argv[2]);' "$(MW_SOCK)" "$1"; }
check_match "malformed JSON is answered precisely" '"malformed request: .*line 1' "$(ctl '{"command": ')"
check_match "a missing command is a usage error" '"usage": ?true' "$(ctl '{"cmd": "status"}')"
check_match "an unknown command is named" "unknown command 'frobnicate'" "$(ctl '{"command": "frobnicate"}')"
check_match "an oversized request is refused" "too large" "$(ctl "$(head -c 70000 /dev/zero | tr '\0' 'x')")"
check_match "a bad selector is a usage error" "exactly one of" "$(ctl '{"command": "enroll", "cgroup": "/a", "pid": 1}')"
out=$(mw flows --bogus 2>&1); rc=$?
check_eq "the CLI exits 2 on a bad option" 2 "$rc"
check_eq "the agent survived the bad messages" true "$(mw status --json | jq .ok)"
check_eq "the control socket is root-only" 600 "$(stat -c %a "$(MW_SOCK)")"

# SIGHUP: a bad config keeps the old one; a good one applies atomically
cp "$cfg" "$T_DIR/good.json"
printf '{"fail": "sometimes"}' >"$cfg"
kill -HUP "$AGENT_PID"
sleep 0.5
kill -0 "$AGENT_PID" && ok "a bad config on SIGHUP leaves the agent running"
check_eq "and the old rules still capture" true "$(run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9000 10 | jq -r .match)"
j=$(journalctl -t mcpwarden MESSAGE_ID=ea45d643f9f7489b807eff34936c6d39 -o json --no-pager | tail -n 1)
check_match "the failed reload is a journald entry naming file:line:column and key" \
	"Reload failed.*mcpwarden.json:1:[0-9]+: key 'fail'" "$(jq -r .MESSAGE <<<"$j")"
sed 's/"ports": \[9000\]/"ports": [9000, 9002]/' "$T_DIR/good.json" >"$cfg"
n=$(mw status --json | jq .counters.flows_total)
kill -HUP "$AGENT_PID"
sleep 0.5
run_in "$T_CG/gw" node "$SUM" send 127.0.0.1 9002 10 >/dev/null
check_eq "a good config on SIGHUP applies (port 9002 now captured)" "$((n + 1))" "$(mw status --json | jq .counters.flows_total)"
check_match "the status shows the new rule" "9002" "$(mw status --json | jq -c .capture)"
