# tests/lib.sh: what the BPF and end-to-end tests share.  Source it, then call t_begin.
#
# Each test gets its own temp dir, network namespace, cgroup subtree and BPF pin dir,
# prints TAP ("ok N - what" / "not ok N - what"), and on exit kills only the processes it
# started (by PID) and removes everything it made.
#
# The helpers, each documented where it is defined:
#   TAP          ok, not_ok, check_eq, check_match, check_cmd, skip_all, t_note
#   the test     t_begin, t_on_end, run_in, spawn_in, wait_port, wait_grep, check_listens_only,
#                ip_octets, test_ca, test_leaf, journal_raw
#   the agent    agent_config, gw_agent_config, idp_identity, start_agent, agent_wait_up, mw,
#                start_journald, start_private_journald, start_agent_journald, journal_ctl
#   peers        peers_install, start_idp, need_idp, idp_token, jwt_claims, start_everything,
#                start_sdk_upstream, spawn_gw_civic
#   PostgreSQL   need_postgres, start_postgres, pg_shop_db, pgq, as_pg, pg_stop, start_dbhub,
#                dbhub_sql
set -u

T_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$T_ROOT/build}
T_NAME=$(basename "$0" .sh)
T_N=0
T_FAILED=0
T_PIDS=()
T_DIR=""
T_NS=""
T_CG=""
T_PIN=""
T_ON_END=()

t_note() { printf '# %s\n' "$*"; }

ok() { T_N=$((T_N + 1)); printf 'ok %d - %s\n' "$T_N" "$1"; }

not_ok() {
	T_N=$((T_N + 1))
	T_FAILED=$((T_FAILED + 1))
	printf 'not ok %d - %s\n' "$T_N" "$1"
	shift
	for l in "$@"; do printf '#   %s\n' "$l"; done
}

# check DESC EXPECTED ACTUAL
check_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "expected: '$2'" "actual:   '$3'"; fi
}

# check_match DESC REGEX TEXT
check_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then ok "$1"; else
		not_ok "$1" "expected to match: $2" "actual: $(printf '%s' "$3" | head -c 600)"
	fi
}

# check_cmd DESC CMD...: the command succeeds
check_cmd() {
	local desc=$1 out
	shift
	if out=$("$@" 2>&1); then ok "$desc"; else not_ok "$desc" "command: $*" "output: ${out:0:600}"; fi
}

skip_all() {
	printf '1..0 # SKIP %s\n' "$1"
	echo "#" >&2
	echo "# SKIPPED $T_NAME: $1" >&2
	echo "#" >&2
	exit 0
}

t_cgroup2() {
	awk '{ for (i = 1; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
		/proc/self/mountinfo | head -n 1
}

t_begin() {
	[ "$(id -u)" = 0 ] || skip_all "needs root (BPF, cgroups, network namespaces)"
	CG2=$(t_cgroup2)
	[ -n "$CG2" ] || skip_all "no cgroup2 mount"
	if ! grep -q ' /sys/fs/bpf bpf ' /proc/mounts; then
		mount -t bpf bpf /sys/fs/bpf 2>/dev/null || skip_all "cannot mount bpffs"
	fi
	[ -x "$BUILD/mcpwardend" ] || { echo "Bail out! $BUILD/mcpwardend not built"; exit 1; }
	T_DIR=$(mktemp -d "/tmp/mw-$T_NAME.XXXXXX")
	chmod 755 "$T_DIR"
	T_NS="mw-$T_NAME-$$"
	T_NS=${T_NS:0:30}
	ip netns add "$T_NS" || { echo "Bail out! ip netns add failed"; exit 1; }
	ip -n "$T_NS" link set lo up
	T_CG="$CG2/mwtest-$T_NAME-$$"
	mkdir -p "$T_CG/agent" "$T_CG/gw" "$T_CG/other"
	T_PIN="/sys/fs/bpf/mwtest-$T_NAME-$$"
	trap t_end EXIT
	trap 'exit 130' INT TERM
}

# start_journald: a real systemd-journald for this test, unless one already serves; stopped
# (by PID) and its sockets and volatile journal removed at the end.
T_JOURNALD_MADE=""
start_journald() {
	[ -S /run/systemd/journal/socket ] && journalctl -n 0 >/dev/null 2>&1 && return 0
	[ -x /lib/systemd/systemd-journald ] || return 1
	[ -d /run/systemd/journal ] || T_JOURNALD_MADE="/run/systemd/journal"
	[ -d /run/log/journal ] || T_JOURNALD_MADE="$T_JOURNALD_MADE /run/log/journal"
	/lib/systemd/systemd-journald >"$T_DIR/journald.log" 2>&1 &
	T_PIDS=("$!" "${T_PIDS[@]}") # stopped last
	for _ in $(seq 50); do [ -S /run/systemd/journal/socket ] && return 0; sleep 0.1; done
	return 1
}

t_kill() {
	local pid=$1
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

t_rmcg() {
	local cg=$1 d
	[ -d "$cg" ] || return 0
	for d in "$cg"/*/; do [ -d "$d" ] && t_rmcg "${d%/}"; done
	if [ -s "$cg/cgroup.procs" ]; then
		# stragglers we started: children of our processes
		while read -r p; do kill -9 "$p" 2>/dev/null; done < "$cg/cgroup.procs"
		sleep 0.2
	fi
	rmdir "$cg" 2>/dev/null
}

# t_on_end CMD...: run CMD at the end, before the test's processes are killed (the last
# registered runs first); its status does not change the test's.
t_on_end() { T_ON_END+=("$*"); }

t_end() {
	local rc=$?
	local i
	for ((i = ${#T_ON_END[@]} - 1; i >= 0; i--)); do eval "${T_ON_END[$i]}"; done
	for ((i = ${#T_PIDS[@]} - 1; i >= 0; i--)); do t_kill "${T_PIDS[$i]}"; done
	[ -n "$T_PIN" ] && [ -d "$T_PIN" ] && rm -rf "$T_PIN"
	# shellcheck disable=SC2086
	[ -n "$T_JOURNALD_MADE" ] && rm -rf $T_JOURNALD_MADE
	[ -n "$T_CG" ] && t_rmcg "$T_CG"
	[ -n "$T_NS" ] && ip netns del "$T_NS" 2>/dev/null
	if [ -n "$T_DIR" ] && [ -d "$T_DIR" ]; then
		if [ "$T_FAILED" -gt 0 ] || [ "$rc" -ne 0 ]; then
			for f in "$T_DIR"/*.log; do
				[ -f "$f" ] || continue
				echo "# --- $(basename "$f") (last 30 lines)"
				tail -n 30 "$f" | sed 's/^/#   /'
			done
		fi
		rm -rf "$T_DIR"
	fi
	[ -z "${T_QUIET:-}" ] && echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ] && [ "$rc" -eq 0 ]
	exit $?
}

# run_in CGROUP CMD...: run in the test's netns and the given cgroup (foreground).
run_in() {
	local cg=$1
	shift
	nsenter --net="/run/netns/$T_NS" -- bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$cg" "$@"
}

# spawn_in CGROUP LOG CMD...: the same in the background; the PID is in $SPAWNED.
spawn_in() {
	local cg=$1 log=$2
	shift 2
	nsenter --net="/run/netns/$T_NS" -- bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' \
		"$cg" "$@" >"$log" 2>&1 &
	SPAWNED=$!
	T_PIDS+=("$SPAWNED")
}

# test_ca NAME CN: a test CA in the current dir, NAME.key and NAME.crt (EC P-256, 2 days);
# openssl's output goes to openssl.log.  1 on failure.
test_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" \
		-out "$1.crt" -subj "/CN=$2" -days 2 >>openssl.log 2>&1
}

# test_leaf NAME CA DAYS SAN [KEY]: NAME.crt for subjectAltName SAN ("DNS:a.test,IP:127.0.0.1",
# CN the first name), serverAuth, signed by CA (test_ca) for DAYS (negative: expired); the key
# is KEY.key when given, else a new NAME.key.  1 on failure.
test_leaf() {
	local name=$1 ca=$2 days=$3 san=$4 key=${5:-$1} cn=${4%%,*}
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$san" >"$name.ext"
	if [ -e "$key.key" ]; then
		openssl req -new -key "$key.key" -out "$name.csr" -subj "/CN=${cn#*:}"
	else
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$key.key" \
			-out "$name.csr" -subj "/CN=${cn#*:}"
	fi >>openssl.log 2>&1 &&
		openssl x509 -req -in "$name.csr" -CA "$ca.crt" -CAkey "$ca.key" -CAcreateserial \
			-days "$days" -extfile "$name.ext" -out "$name.crt" >>openssl.log 2>&1
}

# journal_raw DIR: the records of the session journal in DIR, read by hand rather than by
# mcpwarden-replay (docs/journal.md: a 160-byte segment header, then frames "MWJF" C U CRC and
# C bytes of zstd), every frame decompressed, on stdout; for searching what is on disk.
journal_raw() {
	python3 - "$1" <<'PY' | zstd -qdc
import glob, struct, sys
for seg in sorted(glob.glob(sys.argv[1] + "/*.mwj")):
    b = open(seg, "rb").read()
    off = 160
    while off + 16 <= len(b) and b[off:off + 4] == b"MWJF":
        c = struct.unpack_from("<I", b, off + 4)[0]
        sys.stdout.buffer.write(b[off + 16:off + 16 + c])
        off += 16 + c
PY
}

# wait_grep PATTERN FILE [TENTHS]: until FILE has a line matching the extended regex PATTERN
# (default 10 s); 1 when it never does.
wait_grep() {
	for _ in $(seq "${3:-100}"); do
		grep -qE -- "$1" "$2" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_port PORT [HOST]: until something listens in the test's netns (10 s).
wait_port() {
	local port=$1 host=${2:-127.0.0.1}
	for _ in $(seq 100); do
		if nsenter --net="/run/netns/$T_NS" -- bash -c "exec 3<>/dev/tcp/$host/$port" 2>/dev/null; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# check_listens_only NAME PORT: a check that NAME listens on PORT in the test's netns on
# 127.0.0.1 only.
check_listens_only() {
	local lst
	lst=$(nsenter --net="/run/netns/$T_NS" ss -ltnH "sport = :$2" | awk '{print $4}' | sort -u | tr '\n' ' ')
	check_eq "$1 listens only on 127.0.0.1:$2" "127.0.0.1:$2 " "$lst"
}

# agent_config [JSON-FRAGMENT]: $T_DIR/mcpwarden.json with the test's dirs and the fragment's
# keys; prints its path.
agent_config() {
	local extra=${1:-}
	cat >"$T_DIR/mcpwarden.json" <<JSON
{
  "runtime_dir": "$T_DIR/run",
  "state_dir": "$T_DIR/state",
  "bpf_pin_dir": "$T_PIN"${extra:+,
  $extra}
}
JSON
	echo "$T_DIR/mcpwarden.json"
}

# idp_identity PORT: the "identity" key for tokens of start_idp's IdP on PORT (required;
# audience urn:mcp:gateway, at+jwt, groups from the "groups" claim).
idp_identity() {
	printf '%s' '"identity": {"require_token": true, "oidc": [{"issuer": "http://127.0.0.1:'"$1"'",
    "audience": "urn:mcp:gateway", "typ": "at+jwt", "groups_claim": "groups"}]}'
}

# gw_agent_config PORTS IDP [JSON-FRAGMENT]: agent_config capturing the "gw" cgroup's
# connections to 127.0.0.0/8 on PORTS (a JSON list's items: "3001, 3002"), tokens required
# from the IdP on port IDP (idp_identity), and the fragment's keys (policy, ...).
gw_agent_config() {
	agent_config '"capture": {"outbound": [{"cidrs": ["127.0.0.0/8"], "ports": ['"$1"']}]},
  "enroll": [{"cgroup": "'"$T_CG/gw"'"}],
  '"$(idp_identity "$2")${3:+,
  $3}"
}

# ip_octets: IP octets received so far in the test's netns (every loopback hop counts).
ip_octets() {
	nsenter --net="/run/netns/$T_NS" awk '/^IpExt:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 }
		else print $c["InOctets"] }' /proc/net/netstat
}

# start_idp PORT [TTL]: the real npm oidc-provider (tests/e2e/peers/idp.mjs) on
# 127.0.0.1:PORT in the "other" cgroup, tokens living TTL seconds (300); waits for it.
start_idp() {
	local port=$1 ttl=${2:-300}
	spawn_in "$T_CG/other" "$T_DIR/idp-$port.log" env IDP_TTL="$ttl" \
		node "$T_ROOT/tests/e2e/peers/idp.mjs" "$port"
	for _ in $(seq 100); do
		grep -qx ready "$T_DIR/idp-$port.log" && return 0
		kill -0 "$SPAWNED" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# need_idp PORT [TTL]: start_idp, or a failed check "IdP starts" and the end of the test.
need_idp() {
	start_idp "$@" || { not_ok "IdP starts" "$(tail -5 "$T_DIR/idp-$1.log")"; exit 1; }
}

# peers_install: PEERS is tests/e2e/peers, its pinned npm packages installed
# (peers/install.sh), or a failed check "npm peers install" and the end of the test.
peers_install() {
	PEERS="$T_ROOT/tests/e2e/peers"
	"$PEERS/install.sh" >"$T_DIR/npm.log" 2>&1 ||
		{ not_ok "npm peers install" "$(tail -5 "$T_DIR/npm.log")"; exit 1; }
}

# start_everything PORT: the MCP reference server-everything (streamable HTTP) on
# 127.0.0.1:PORT in the "other" cgroup, log $T_DIR/everything.log; a failed check when it
# does not listen.
start_everything() {
	spawn_in "$T_CG/other" "$T_DIR/everything.log" "$PEERS/everything.sh" "$1"
	wait_port "$1" || not_ok "server-everything listens"
}

# idp_token CLIENT PORT [RESOURCE]: a client_credentials access token ("" on failure).
idp_token() {
	run_in "$T_CG/other" curl -s --max-time 5 -u "$1:$1-secret" -d grant_type=client_credentials \
		-d scope=mcp -d "resource=${3:-urn:mcp:gateway}" "http://127.0.0.1:$2/token" |
		jq -r '.access_token // empty'
}

# jwt_claims TOKEN: the JSON claims of a JWT (its payload, base64url decoded); not verified.
jwt_claims() {
	local p
	p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
	while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done
	base64 -d <<<"$p"
}

# start_sdk_upstream LOG TOKEN_FILE [--https PORT:CERT:KEY]... [--http PORT]...: the MCP SDK
# server tests/e2e/peers/https-sdk-server.mjs in the "other" cgroup, answering only requests
# carrying the token in TOKEN_FILE; waits for its "ready" (10 s).  Its PID is UP_PID; when it
# does not come up, a failed check "the SDK upstream starts" and status 1.
start_sdk_upstream() {
	local log=$1
	shift
	spawn_in "$T_CG/other" "$log" node "$T_ROOT/tests/e2e/peers/https-sdk-server.mjs" "$@"
	UP_PID=$SPAWNED
	for _ in $(seq 100); do
		grep -qx ready "$log" && return 0
		kill -0 "$UP_PID" 2>/dev/null || break
		sleep 0.1
	done
	not_ok "the SDK upstream starts" "$(tail -5 "$log")"
	return 1
}

# spawn_gw_civic PORT TARGET_URL HOSTS CA_PEM [USER]: the npm civic passthrough gateway
# (peers/gateway-civic.sh) on 127.0.0.1:PORT in the enrolled "gw" cgroup, forwarding to
# TARGET_URL, resolving names through the file HOSTS (bind-mounted over /etc/hosts in a mount
# namespace of its own), trusting CA_PEM besides Node's roots (NODE_EXTRA_CA_CERTS), and run
# as USER when given (setpriv: that uid and primary gid, no other groups).  Log
# $T_DIR/gw-PORT.log; the PID (node's) in $SPAWNED.
spawn_gw_civic() {
	local port=$1 target=$2 hosts=$3 ca=$4 user=${5:-}
	local -a as=()
	[ -n "$user" ] && as=(setpriv --reuid="$(id -u "$user")" --regid="$(id -g "$user")" --clear-groups)
	spawn_in "$T_CG/gw" "$T_DIR/gw-$port.log" env NODE_EXTRA_CA_CERTS="$ca" \
		unshare --mount --propagation private -- sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' "$hosts" \
		"${as[@]}" "$T_ROOT/tests/e2e/peers/gateway-civic.sh" "$port" "$target"
}

MW_SOCK() { echo "$T_DIR/run/control.sock"; }

# agent_wait_up: until the agent AGENT_PID answers on its control socket (10 s); status 1
# and its log as TAP comments when it does not (or exits).
agent_wait_up() {
	for _ in $(seq 100); do
		if "$BUILD/mcpwarden" --socket "$(MW_SOCK)" status >/dev/null 2>&1; then return 0; fi
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "# agent did not come up:"
	sed 's/^/#   /' "$T_DIR/agent.log"
	return 1
}

# start_agent [CONFIG]: mcpwardend in the agent cgroup and the netns; waits until served.
start_agent() {
	local cfg=${1:-$T_DIR/mcpwarden.json}
	spawn_in "$T_CG/agent" "$T_DIR/agent.log" "$BUILD/mcpwardend" --config "$cfg" ${AGENT_ARGS---stderr}
	AGENT_PID=$SPAWNED
	agent_wait_up
}

mw() { "$BUILD/mcpwarden" --socket "$(MW_SOCK)" "$@"; }

# jq is used for JSON checks.
jqr() { jq -r "$@"; }

# start_private_journald: a systemd-journald of this test's own in a private mount namespace
# (tmpfs over /run/systemd, /run/log and, when it exists, /var/log/journal), so tests running
# side by side never share, stop or read each other's journald and the host's journal is left
# alone. Its PID is T_JOURNALD_PID; run the agent in its namespace with start_agent_journald
# and read the journal with journal_ctl. Stopped by PID at the end; the tmpfs mounts vanish
# with the namespace.
T_JOURNALD_PID=""
start_private_journald() {
	local d
	[ -x /lib/systemd/systemd-journald ] || return 1
	for d in /run/systemd /run/log; do [ -d "$d" ] || return 1; done
	unshare --mount --propagation private -- bash -c '
		for d in /run/systemd /run/log /var/log/journal; do
			[ -d "$d" ] || continue
			mount -t tmpfs -o mode=0755 tmpfs "$d" || exit 1
		done
		exec /lib/systemd/systemd-journald' >"$T_DIR/journald.log" 2>&1 &
	T_JOURNALD_PID=$!
	T_PIDS=("$T_JOURNALD_PID" "${T_PIDS[@]}") # stopped last
	for _ in $(seq 50); do
		nsenter --mount="/proc/$T_JOURNALD_PID/ns/mnt" -- test -S /run/systemd/journal/socket 2>/dev/null &&
			return 0
		kill -0 "$T_JOURNALD_PID" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# journal_ctl ARGS...: journalctl reading the test's private journal.
journal_ctl() { nsenter --mount="/proc/$T_JOURNALD_PID/ns/mnt" -- journalctl "$@"; }

# start_agent_journald [CONFIG]: start_agent, but the agent logs to the private journald
# (it runs in that mount namespace, the test's netns and the agent cgroup).
start_agent_journald() {
	local cfg=${1:-$T_DIR/mcpwarden.json}
	nsenter --net="/run/netns/$T_NS" --mount="/proc/$T_JOURNALD_PID/ns/mnt" -- \
		bash -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$T_CG/agent" \
		"$BUILD/mcpwardend" --config "$cfg" >"$T_DIR/agent.log" 2>&1 &
	AGENT_PID=$!
	T_PIDS+=("$AGENT_PID")
	agent_wait_up
}

# --- PostgreSQL 15 and dbhub: the SQL tests' database and MCP server -----------------------
PGBIN=/usr/lib/postgresql/15/bin
PGSTARTED=""

# need_postgres: skip the test unless Debian's PostgreSQL 15 server and the postgres user exist.
need_postgres() {
	if ! [ -x "$PGBIN/initdb" ] || ! [ -x "$PGBIN/pg_ctl" ] || ! [ -x "$PGBIN/psql" ]; then
		skip_all "PostgreSQL 15 server not installed (apt-get install postgresql postgresql-client)"
	fi
	id postgres >/dev/null 2>&1 || skip_all "no postgres user (apt-get install postgresql)"
}

# as_pg CMD...: CMD as user postgres in the test's netns ("other" cgroup).
as_pg() { run_in "$T_CG/other" runuser -u postgres -- "$@"; }

# pgq SQL: psql as the superuser over the Unix socket, database $PGDB (shop): the agent
# captures TCP only, so this is the database's own view, outside the checkpoint.
pgq() {
	as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U postgres -d "${PGDB:-shop}" -XAtq \
		-v ON_ERROR_STOP=1 -c "$1"
}

# pg_stop: stop the server (fast) if it runs; PGSTARTED is "" afterwards.
pg_stop() {
	[ -n "$PGSTARTED" ] || return 0
	as_pg "$PGBIN/pg_ctl" stop -D "$PGDATA" -m fast -w -t 20 >>"$T_DIR/postgres.log" 2>&1
	PGSTARTED=""
}

# start_postgres PORT [SERVER-OPTION...]: a new cluster (initdb, user postgres, trust on the
# socket, SCRAM over TCP) served on 127.0.0.1:PORT and the private socket dir PGSOCK, in the
# test's netns ("other" cgroup), fsync off, stopped by pg_stop at the latest at the end (the
# postmaster's PID is also the test's).  Sets PGPORT, PGDATA, PGSOCK, PGSTARTED and PG_UP_MS
# (initdb and start, in ms).  On failure: a failed check ("initdb", "PostgreSQL starts"),
# status 1.  The cwd must be one user postgres may enter (cd "$T_DIR").
start_postgres() {
	local t0
	PGPORT=$1
	shift
	PGDATA="$T_DIR/pg"
	PGSOCK="$T_DIR/pgsock"
	mkdir -p "$PGDATA" "$PGSOCK"
	: >"$T_DIR/postgres.log" # the server's log, written by the server (user postgres)
	chown postgres: "$PGDATA" "$PGSOCK" "$T_DIR/postgres.log"
	chmod 700 "$PGDATA"
	t_on_end pg_stop
	t0=$(date +%s%3N)
	if ! as_pg "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 --no-locale -E UTF8 --no-sync >"$T_DIR/initdb.log" 2>&1; then
		not_ok "initdb" "$(tail -5 "$T_DIR/initdb.log")"
		return 1
	fi
	if ! as_pg "$PGBIN/pg_ctl" start -D "$PGDATA" -w -t 30 -l "$T_DIR/postgres.log" \
		-o "-k $PGSOCK -h 127.0.0.1 -p $PGPORT -c fsync=off $*" >"$T_DIR/pg_ctl.log" 2>&1; then
		not_ok "PostgreSQL starts" "$(cat "$T_DIR/pg_ctl.log")" "$(tail -5 "$T_DIR/postgres.log")"
		return 1
	fi
	PGSTARTED=1
	T_PIDS+=("$(head -n 1 "$PGDATA/postmaster.pid")")
	PG_UP_MS=$(($(date +%s%3N) - t0))
}

# pg_shop_db SQL: the role shop (password shop-secret, dbhub's login over TCP) owning a new
# database shop, where SQL runs as shop; psql's output in $T_DIR/psql.log.
pg_shop_db() {
	PGDB=postgres pgq "CREATE ROLE shop LOGIN PASSWORD 'shop-secret'" &&
		PGDB=postgres pgq "CREATE DATABASE shop OWNER shop" &&
		as_pg "$PGBIN/psql" -h "$PGSOCK" -p "$PGPORT" -U shop -d shop -XAtq -v ON_ERROR_STOP=1 \
			-c "$1" >"$T_DIR/psql.log" 2>&1
}

# start_dbhub PORT: @bytebase/dbhub, the MCP SQL server (streamable HTTP), on
# 127.0.0.1:PORT for the database shop (pg_shop_db), in the "other" cgroup (not enrolled: its
# own database connections are not captured); waits for /healthz (20 s).  Sets DBHUB and
# DBHUB_PID.  A check either way: "dbhub VERSION serves URL" or "dbhub starts" (status 1).
start_dbhub() {
	local up=""
	DBHUB=$1
	spawn_in "$T_CG/other" "$T_DIR/dbhub.log" "$PEERS/dbhub.sh" "$DBHUB" \
		"postgres://shop:shop-secret@127.0.0.1:$PGPORT/shop?sslmode=disable"
	DBHUB_PID=$SPAWNED
	for _ in $(seq 200); do
		[ "$(run_in "$T_CG/other" curl -s --max-time 1 "http://127.0.0.1:$DBHUB/healthz" 2>/dev/null)" = OK ] &&
			{ up=1; break; }
		kill -0 "$DBHUB_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$up" ]; then
		not_ok "dbhub starts" "$(tail -5 "$T_DIR/dbhub.log")"
		return 1
	fi
	ok "dbhub $(jq -r .version "$PEERS/node_modules/@bytebase/dbhub/package.json") serves http://127.0.0.1:$DBHUB/mcp"
}

# dbhub_sql: the SQL texts dbhub ran, from its own request log (GET /api/requests; not
# captured: cgroup other).
dbhub_sql() {
	run_in "$T_CG/other" curl -s --max-time 5 "http://127.0.0.1:$DBHUB/api/requests" |
		jq -r '.requests[].sql'
}
