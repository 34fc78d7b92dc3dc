# shellcheck shell=bash
# harness.sh: the library of the integration tests (tests/integration/test_*.sh). Sourced.
#
# A test file looks like:
#
#   #!/usr/bin/env bash
#   set -uo pipefail            # not -e: a failed assertion is counted, the test goes on
#   . "$(dirname "$0")/../lib/harness.sh"
#   harness_begin stack_basics  # private temp dir, own PostgreSQL + mosquitto, env set
#   assert_eq "select 1" 1 "$(sql 'SELECT 1')"
#   register_device dev-1
#   start_ingest
#   wait_for "ack of dev-1" 30 mqtt_retained dev-1 ...
#   harness_end                 # prints "N passed, N failed" and RESULT passed=N failed=M
#
# DESIGN. Everything a test starts is registered (harness_spawn) and ended by the EXIT trap,
# which also stops the test's stack, whatever way the script ends (end of file, error, set -e,
# SIGINT, SIGTERM from tests/run's timeout). Waiting is always polling with a deadline
# (wait_for), never a fixed sleep. The machine-readable line `RESULT passed=N failed=M` is
# printed exactly once, by harness_end or, when the script ends without it, by the trap
# (counting one more failure: the test was aborted).
#
# Knobs: HARNESS_KEEP=1 keeps the temp dir, =0 always removes it; unset: kept only on failure.
# HARNESS_TIMEOUT_SCALE multiplies every wait_for deadline (slow sanitizer builds).
# INGEST_READY_PATTERN: the log line start_ingest waits for. COLDTRACE_BIN_DIR: programs.

HARNESS_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HARNESS_DEVSTACK=$HARNESS_REPO/contrib/devstack
: "${INGEST_READY_PATTERN:=ingest: ready}"
: "${HARNESS_TIMEOUT_SCALE:=1}"

HARNESS_NAME=
HARNESS_DIR=
HARNESS_PASSED=0
HARNESS_FAILED=0
HARNESS_ENDED=0
HARNESS_CLEANED=0
HARNESS_SEQ=0
HARNESS_PIDS=()
SPAWNED_PID=
SPAWNED_LOG=
INGEST_PID=
INGEST_LOG=

# ---------------------------------------------------------------------------------------
# results

harness__say() { printf '%s\n' "$*"; }

pass() {
	HARNESS_PASSED=$((HARNESS_PASSED + 1))
	harness__say "ok $((HARNESS_PASSED + HARNESS_FAILED)) - $*"
}

fail() {
	HARNESS_FAILED=$((HARNESS_FAILED + 1))
	harness__say "not ok $((HARNESS_PASSED + HARNESS_FAILED)) - $*"
}

# Diagnostics, TAP style.
note() { printf '# %s\n' "$*"; }

assert_eq() {
	local desc=$1 expected=$2 actual=$3
	if [ "$expected" == "$actual" ]; then
		pass "$desc"
	else
		fail "$desc: expected '$expected', got '$actual'"
		return 1
	fi
}

# assert_ge DESC MIN ACTUAL: integers, ACTUAL >= MIN.
assert_ge() {
	local desc=$1 min=$2 actual=$3
	if [[ "$actual" =~ ^-?[0-9]+$ ]] && [[ "$min" =~ ^-?[0-9]+$ ]] && ((actual >= min)); then
		pass "$desc"
	else
		fail "$desc: expected >= $min, got '$actual'"
		return 1
	fi
}

# assert_match DESC ERE ACTUAL
assert_match() {
	local desc=$1 re=$2 actual=$3
	if [[ "$actual" =~ $re ]]; then
		pass "$desc"
	else
		fail "$desc: '$actual' does not match /$re/"
		return 1
	fi
}

# assert_ok DESC CMD…: the command succeeds. assert_fails DESC CMD…: it fails.
# Their output goes to logs/assert.log.
assert_ok() {
	local desc=$1
	shift
	if "$@" >>"$HARNESS_DIR/logs/assert.log" 2>&1; then
		pass "$desc"
	else
		fail "$desc: command failed: $*"
		return 1
	fi
}

assert_fails() {
	local desc=$1
	shift
	if "$@" >>"$HARNESS_DIR/logs/assert.log" 2>&1; then
		fail "$desc: command unexpectedly succeeded: $*"
		return 1
	else
		pass "$desc"
	fi
}

# ---------------------------------------------------------------------------------------
# time

# Microseconds since the epoch; seconds (possibly fractional) to microseconds.
harness__now_us() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((10#$t))
}

harness__secs_to_us() {
	local s=$1 int frac
	int=${s%%.*}
	frac=
	[[ "$s" == *.* ]] && frac=${s#*.}
	frac=${frac}000000
	frac=${frac:0:6}
	echo $(((10#${int:-0}) * 1000000 + 10#$frac))
}

# wait_for DESC TIMEOUT_S CMD…: runs CMD every 0.2 s until it succeeds. On timeout records a
# failure naming DESC, shows the last attempt's output, and returns 1; on success returns 0
# silently (follow with `&& pass …` when the wait itself is the assertion).
wait_for() {
	local desc=$1 timeout=$2
	shift 2
	local out=$HARNESS_DIR/logs/wait_for.last deadline
	deadline=$(($(harness__now_us) + $(harness__secs_to_us "$timeout") * HARNESS_TIMEOUT_SCALE))
	while :; do
		if "$@" >"$out" 2>&1; then
			return 0
		fi
		if (($(harness__now_us) >= deadline)); then
			fail "$desc (not within ${timeout}s: $*)"
			if [ -s "$out" ]; then
				sed 's/^/#   /' "$out" | tail -n 20
			fi
			return 1
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------
# processes

harness__alive() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[ "${stat%% *}" != Z ]
}

harness__is_ours() {
	local p
	for p in "${HARNESS_PIDS[@]}"; do
		[ "$p" = "$1" ] && return 0
	done
	return 1
}

# harness_spawn CMD…: runs CMD in the background in its own session (so it and its children
# can be signalled as a group), stdout+stderr to logs/N-NAME.log. Sets SPAWNED_PID and
# SPAWNED_LOG. HARNESS_SPAWN_NAME=… overrides the name in the log file.
harness_spawn() {
	local name=${HARNESS_SPAWN_NAME:-$(basename "$1")}
	HARNESS_SEQ=$((HARNESS_SEQ + 1))
	SPAWNED_LOG=$HARNESS_DIR/logs/$HARNESS_SEQ-$name.log
	if [[ $- == *m* ]]; then
		# Job control on: the job already leads its own process group.
		"$@" </dev/null >"$SPAWNED_LOG" 2>&1 &
	else
		# Not a group leader, so setsid(1) calls setsid() itself and execs: same pid.
		setsid "$@" </dev/null >"$SPAWNED_LOG" 2>&1 &
	fi
	SPAWNED_PID=$!
	HARNESS_PIDS+=("$SPAWNED_PID")
	note "spawned $name (pid $SPAWNED_PID), log $SPAWNED_LOG"
}

# stop_pid PID [TIMEOUT_S=20]: SIGTERM (to its process group when harness_spawn started it),
# waits, SIGKILL after the deadline. Returns the process's exit status when it was spawned
# by this shell (so a test can assert a clean shutdown), else 0.
stop_pid() {
	local pid=$1 timeout=${2:-20} deadline rc=0
	[[ "$pid" =~ ^[0-9]+$ ]] || return 0
	deadline=$(($(harness__now_us) + $(harness__secs_to_us "$timeout")))
	if harness__alive "$pid"; then
		if harness__is_ours "$pid"; then
			kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
		else
			kill -TERM "$pid" 2>/dev/null || true
		fi
		while harness__alive "$pid"; do
			if (($(harness__now_us) >= deadline)); then
				note "pid $pid ignored SIGTERM for ${timeout}s: SIGKILL"
				kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
				break
			fi
			sleep 0.1
		done
	fi
	if harness__is_ours "$pid"; then
		wait "$pid" 2>/dev/null
		rc=$?
		local p keep=()
		for p in "${HARNESS_PIDS[@]}"; do
			[ "$p" = "$pid" ] || keep+=("$p")
		done
		HARNESS_PIDS=("${keep[@]}")
		# What else the group left behind.
		kill -KILL -- "-$pid" 2>/dev/null || true
	fi
	return $rc
}

# wait_for_log DESC TIMEOUT_S FILE STRING [PID]: until FILE contains STRING (fixed string);
# gives up at once, with the log's tail, when PID is given and exits.
wait_for_log() {
	local desc=$1 timeout=$2 file=$3 string=$4 pid=${5:-} deadline
	deadline=$(($(harness__now_us) + $(harness__secs_to_us "$timeout") * HARNESS_TIMEOUT_SCALE))
	while :; do
		if grep -qF -- "$string" "$file" 2>/dev/null; then
			return 0
		fi
		if [ -n "$pid" ] && ! harness__alive "$pid"; then
			fail "$desc (process $pid exited; log $file)"
			tail -n 20 "$file" 2>/dev/null | sed 's/^/#   /'
			return 1
		fi
		if (($(harness__now_us) >= deadline)); then
			fail "$desc (no '$string' in $file within ${timeout}s)"
			tail -n 20 "$file" 2>/dev/null | sed 's/^/#   /'
			return 1
		fi
		sleep 0.2
	done
}

# ---------------------------------------------------------------------------------------
# the product

# The CLI of the build under test.
coldtrace() { "$COLDTRACE_BIN_DIR/coldtrace" "$@"; }

# sql QUERY [psql args…]: one value per line, fields separated by |, errors are errors.
sql() {
	local q=$1
	shift
	psql -X -A -t -q -v ON_ERROR_STOP=1 -c "$q" "$@"
}

# register_device ID: a random password in $HARNESS_DIR/devices/ID.password, `coldtrace device
# add`, `coldtrace broker sync`, then waits until the broker (which rereads its files on the
# SIGHUP, asynchronously) accepts the device. Returns 1 after recording a failure.
register_device() {
	local id=$1 pwfile
	pwfile=$(device_password_file "$id")
	mkdir -p "$HARNESS_DIR/devices"
	(
		umask 077
		python3 -c 'import secrets; print(secrets.token_urlsafe(18))' >"$pwfile"
	)
	if ! coldtrace device add "$id" --password-file "$pwfile" >>"$HARNESS_DIR/logs/cli.log" 2>&1; then
		fail "coldtrace device add $id (log $HARNESS_DIR/logs/cli.log)"
		tail -n 5 "$HARNESS_DIR/logs/cli.log" | sed 's/^/#   /'
		return 1
	fi
	if ! coldtrace broker sync >>"$HARNESS_DIR/logs/cli.log" 2>&1; then
		fail "coldtrace broker sync after adding $id (log $HARNESS_DIR/logs/cli.log)"
		tail -n 5 "$HARNESS_DIR/logs/cli.log" | sed 's/^/#   /'
		return 1
	fi
	wait_for "broker accepts device $id" 20 mqtt_can_connect "$id" "$pwfile"
}

device_password_file() { echo "$HARNESS_DIR/devices/$1.password"; }

# mqtt_pub USER PASSWORD_FILE mosquitto_pub-args…; mqtt_sub USER PASSWORD_FILE args…
# (connected to this test's broker; add -q 1, -r, -t, -m … as needed).
mqtt_pub() {
	local user=$1 pwfile=$2
	shift 2
	mosquitto_pub -h "$COLDTRACE_MQTT_HOST" -p "$COLDTRACE_MQTT_PORT" -u "$user" \
		-P "$(head -n 1 "$pwfile")" "$@"
}

mqtt_sub() {
	local user=$1 pwfile=$2
	shift 2
	mosquitto_sub -h "$COLDTRACE_MQTT_HOST" -p "$COLDTRACE_MQTT_PORT" -u "$user" \
		-P "$(head -n 1 "$pwfile")" "$@"
}

# mqtt_can_connect USER PASSWORD_FILE: the broker accepts the login (connects, subscribes to
# the user's ack topic, exits).
mqtt_can_connect() {
	mqtt_sub "$1" "$2" -i "probe-$1-$$" -t "coldtrace/v1/dev/$1/ack" -E -W 5
}

# start_ingest [args…]: starts build/bin/coldtrace-ingest with this stack's environment and
# waits for its "$INGEST_READY_PATTERN" log line. Sets INGEST_PID and INGEST_LOG.
start_ingest() {
	HARNESS_SPAWN_NAME=coldtrace-ingest harness_spawn "$COLDTRACE_BIN_DIR/coldtrace-ingest" "$@"
	INGEST_PID=$SPAWNED_PID
	INGEST_LOG=$SPAWNED_LOG
	wait_for_log "coldtrace-ingest ready" 30 "$INGEST_LOG" "$INGEST_READY_PATTERN" "$INGEST_PID"
}

devstack() { "$HARNESS_DEVSTACK" "$@"; }

# ---------------------------------------------------------------------------------------
# lifecycle

harness_begin() {
	HARNESS_NAME=${1:?harness_begin NAME}
	local v
	# Nothing from the caller's environment may point the programs at another database or
	# broker (a developer's own devstack, say): only the knobs survive.
	for v in $(compgen -e); do
		case "$v" in
		COLDTRACE_BIN_DIR | COLDTRACE_PG_BINDIR) ;;
		PG* | COLDTRACE_*) unset "$v" ;;
		esac
	done
	export COLDTRACE_BIN_DIR=${COLDTRACE_BIN_DIR:-$HARNESS_REPO/build/bin}
	HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/coldtrace-$HARNESS_NAME.XXXXXX") || {
		echo "harness: cannot create a temp dir" >&2
		exit 1
	}
	# Searchable by others: as root, PostgreSQL runs as `postgres` and must reach its data.
	chmod 755 "$HARNESS_DIR"
	mkdir -p "$HARNESS_DIR/logs"
	export COLDTRACE_STACK_DIR=$HARNESS_DIR/stack
	trap 'harness__on_exit' EXIT
	trap 'harness__on_signal INT 130' INT
	trap 'harness__on_signal TERM 143' TERM
	note "$HARNESS_NAME: temp dir $HARNESS_DIR"
	if ! "$HARNESS_DEVSTACK" start >"$HARNESS_DIR/logs/devstack.log" 2>&1; then
		fail "devstack start (log $HARNESS_DIR/logs/devstack.log)"
		tail -n 30 "$HARNESS_DIR/logs/devstack.log" | sed 's/^/#   /'
		exit 1
	fi
	local envs
	envs=$("$HARNESS_DEVSTACK" env) || {
		fail "devstack env"
		exit 1
	}
	eval "$envs"
	note "stack: postgres 127.0.0.1:$PGPORT, mosquitto 127.0.0.1:$COLDTRACE_MQTT_PORT"
}

# Prints the counts and the RESULT line; returns 1 when anything failed.
harness_end() {
	HARNESS_ENDED=1
	harness__say "# $HARNESS_NAME: $HARNESS_PASSED passed, $HARNESS_FAILED failed"
	harness__say "RESULT passed=$HARNESS_PASSED failed=$HARNESS_FAILED"
	[ "$HARNESS_FAILED" -eq 0 ]
}

harness__on_signal() {
	note "$HARNESS_NAME: got SIG$1"
	trap - INT TERM
	exit "$2"
}

harness__cleanup() {
	local status=$1 i
	[ "$HARNESS_CLEANED" = 1 ] && return 0
	HARNESS_CLEANED=1
	[ -n "$HARNESS_DIR" ] || return 0
	for ((i = ${#HARNESS_PIDS[@]} - 1; i >= 0; i--)); do
		stop_pid "${HARNESS_PIDS[i]}" 10 || true
	done
	"$HARNESS_DEVSTACK" stop >>"$HARNESS_DIR/logs/devstack.log" 2>&1 ||
		note "devstack stop failed (log $HARNESS_DIR/logs/devstack.log)"
	local failed=0
	if [ "$HARNESS_FAILED" -gt 0 ] || [ "$status" -ne 0 ]; then
		failed=1
	fi
	if [ $failed = 1 ]; then
		local f
		for f in "$HARNESS_DIR"/logs/*.log "$COLDTRACE_STACK_DIR/devstack.log" \
			"$COLDTRACE_STACK_DIR/postgresql.log" "$COLDTRACE_STACK_DIR/mosquitto/mosquitto.log"; do
			[ -s "$f" ] || continue
			note "---- tail of $f"
			tail -n 15 "$f" | sed 's/^/#   /'
		done
	fi
	if [ "${HARNESS_KEEP:-}" = 1 ] || { [ $failed = 1 ] && [ "${HARNESS_KEEP:-}" != 0 ]; }; then
		note "$HARNESS_NAME: kept $HARNESS_DIR"
	else
		rm -rf -- "$HARNESS_DIR"
	fi
}

harness__on_exit() {
	local status=$?
	trap - EXIT INT TERM
	if [ "$HARNESS_ENDED" != 1 ]; then
		# An abort is a failure, counted once: if one is already on the books, it explains it.
		if [ "$HARNESS_FAILED" -eq 0 ]; then
			fail "$HARNESS_NAME: aborted before harness_end (exit status $status)"
		else
			note "$HARNESS_NAME: aborted before harness_end (exit status $status)"
		fi
		harness__say "RESULT passed=$HARNESS_PASSED failed=$HARNESS_FAILED"
		[ "$status" -ne 0 ] || status=1
	fi
	harness__cleanup "$status"
	exit "$status"
}
