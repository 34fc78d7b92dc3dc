#!/usr/bin/env bash
# contrib/bench/run.sh: the coldtrace benchmark (`make bench`; not part of `make check`).
#
# Starts its own PostgreSQL 15 + mosquitto (contrib/devstack in a temporary directory) and
# measures, in one run on this machine:
#   1. the database limit: build/bin/dblimit, COPY → staging → INSERT … ON CONFLICT into the
#      ingest's own schema, one transaction per 5000 rows;
#   2. the broker limit for our message shape: build/bin/brokerlimit, QoS 1;
#   3. coldtrace-ingest end to end with fleets of 1k, 10k and 50k devices (build/bin/loadgen,
#      10 records per message, publish → commit → retained ack), then the ack latency at half
#      the 10k fleet's maximum rate;
#   4. the Node.js peers on the same stream (contrib/bench/node: npm mqtt + pg, 1000-row
#      INSERTs; and one INSERT per reading), installed here with npm;
#   5. the ingest's CPU per reading and peak RSS (/proc/PID/stat, VmHWM), per scenario;
#   6. a 24-hour backlog of 500 devices replayed at once beside 10 live devices: with the
#      devices' 10 s stall resend (the protocol's device behaviour, the verdict), with resends
#      only after 120 s (absorption alone), and paced by the devices (100 records above the
#      ack at most).
# Then it prints a table with the targets of issue 3 and writes
# contrib/bench/results/YYYY-MM-DD-<host>-<n>cpu.json (kept in the repository).
#
# Each measurement is sized from the database limit to last >= BENCH_SECONDS (12) and has a
# time bound; the whole run takes 6–12 minutes on 2 cores. Between scenarios the data tables
# are truncated and a CHECKPOINT taken, and every scenario uses device ids of its own (the
# broker keeps retained acks). Knobs (environment):
#   BENCH_SECONDS     target length of each measurement (12)
#   BENCH_RESULTS     results file (default contrib/bench/results/<date>-<host>-<n>cpu.json,
#                     <date>-<HHMM>-<host>-<n>cpu.json when that one exists)
#   BUILD             build directory whose bin/ is measured (default build; COLDTRACE_BIN_DIR
#                     overrides)
#   BENCH_MACHINE     machine name in the results file name (default: hostname)
#   BENCH_SKIP_NODE=1 skip the Node.js peers
#   INGEST_ARGS       extra flags for coldtrace-ingest (e.g. --batch-max-records=10000)
#   BENCH_KEEP=1      keep the work directory (logs, per-step JSON) after the run
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BENCH_DIR=$REPO/contrib/bench
# The programs of the build directory `make BUILD=…` used (make exports BUILD to the recipe).
BIN=${COLDTRACE_BIN_DIR:-$REPO/${BUILD:-build}/bin}
DEVSTACK=$REPO/contrib/devstack
SECONDS_PER=${BENCH_SECONDS:-12}
HZ=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/coldtrace-bench.XXXXXX)
chmod 755 "$WORK"
STACK=$WORK/stack
export COLDTRACE_STACK_DIR=$STACK
INGEST_PID=
NODE_PID=
STACK_STARTED=0

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

stop_pid() { # stop_pid PID [seconds]: SIGTERM, then SIGKILL after the grace period
	local pid=$1 grace=${2:-40} i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < grace * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid ignored SIGTERM for ${grace}s; SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_pid "$NODE_PID" 10
	stop_pid "$INGEST_PID" 40
	if [ "$STACK_STARTED" = 1 ]; then
		"$DEVSTACK" stop --purge >/dev/null 2>&1 || log "devstack stop failed; see $STACK"
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ] || [ $rc -ne 0 ]; then
		log "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in coldtrace coldtrace-ingest dblimit brokerlimit loadgen; do
	[ -x "$BIN/$p" ] || die "$BIN/$p is missing: run make (or make bench)"
done
command -v python3 >/dev/null || die "python3 is needed (devstack uses it too)"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed (apt-get install time)"

# ---------------------------------------------------------------------------------------
# the stack

log "starting a private stack in $STACK"
# `devstack start` is idempotent; a first start can stop half-way while broker accounts are
# created before the broker's directory exists, and the next start resumes from there.
for attempt in 1 2 3 4; do
	STACK_STARTED=1
	if "$DEVSTACK" start >>"$WORK/devstack.out" 2>&1; then
		break
	fi
	[ $attempt -lt 4 ] || {
		tail -n 20 "$WORK/devstack.out" >&2
		die "devstack did not start"
	}
	log "devstack start attempt $attempt failed; retrying (see $WORK/devstack.out)"
done
eval "$("$DEVSTACK" env)"
PG_PID=$(head -n 1 "$STACK/pg/postmaster.pid")
MQ_PID=$(head -n 1 "$STACK/mosquitto/mosquitto.pid")

psql_q() { psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"; }

register() { # register PREFIX COUNT: devices PREFIX-00001 … in one statement
	psql_q "INSERT INTO coldtrace.devices (id, password_hash)
	        SELECT '$1-' || lpad(g::text, 5, '0'), 'x' FROM generate_series(1, $2) g
	        ON CONFLICT DO NOTHING" >/dev/null
}

reset_data() {
	psql_q "TRUNCATE coldtrace.record_keys, coldtrace.readings, coldtrace.events,
	        coldtrace.device_acks, coldtrace.dead_letters, coldtrace.data_gaps" >/dev/null
	psql_q "CREATE SCHEMA IF NOT EXISTS bench_peer" >/dev/null
	psql_q "DROP TABLE IF EXISTS bench_peer.readings" >/dev/null
	psql_q "CHECKPOINT" >/dev/null
}

# Drops the broker session of a client id (a clean-session connect replaces it).
clear_session() {
	mosquitto_sub -h "$COLDTRACE_MQTT_HOST" -p "$COLDTRACE_MQTT_PORT" -u "$COLDTRACE_MQTT_USERNAME" \
		-P "$(head -n 1 "$COLDTRACE_MQTT_PASSWORD_FILE")" -i "$1" -t 'coldtrace/v1/dev/bench-none/up' \
		-E -W 10 >/dev/null 2>&1 || log "could not clear the broker session of $1"
}

# ---------------------------------------------------------------------------------------
# CPU accounting: ticks of one process, of PostgreSQL as a whole, of the whole machine

ticks() { # utime+stime of PID (0 when gone)
	local s
	s=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	s=${s##*) }
	awk '{print $12 + $13}' <<<"$s"
}

pg_ticks() { # the postmaster, its reaped children (cutime/cstime) and its live children
	local s total c
	s=$(cat "/proc/$PG_PID/stat") && s=${s##*) }
	total=$(awk '{print $12 + $13 + $14 + $15}' <<<"$s")
	for c in $(pgrep -P "$PG_PID" || true); do
		total=$((total + $(ticks "$c")))
	done
	echo "$total"
}

machine_busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }

declare -A SNAP
snap() { # snap TAG [PID …]: remember the counters
	local tag=$1 p
	shift
	SNAP[$tag.pg]=$(pg_ticks)
	SNAP[$tag.mq]=$(ticks "$MQ_PID")
	SNAP[$tag.machine]=$(machine_busy)
	SNAP[$tag.t]=$(date +%s.%N)
	for p in "$@"; do
		SNAP[$tag.$p]=$(ticks "$p")
	done
}

# cpu_json NAME TARGET_PID LOADGEN_TIME_FILE: writes $WORK/NAME.cpu.json from snapshots a/b.
cpu_json() {
	local name=$1 pid=$2 timef=$3 rss=0 lg_user=0 lg_sys=0 lg_rss=0
	if [ -n "$pid" ] && [ -r "/proc/$pid/status" ]; then
		rss=$(awk '/^VmHWM:/{print $2}' "/proc/$pid/status")
	fi
	if [ -s "$timef" ]; then
		# The last line: /usr/bin/time puts "Command exited with non-zero status N" first.
		read -r _ lg_user lg_sys lg_rss < <(tail -n 1 "$timef") || true
	fi
	python3 - "$WORK/$name.cpu.json" <<EOF
import json, sys
hz = $HZ
d = lambda a, b: (b - a) / hz
target = d(${SNAP[a.$pid]:-0}, ${SNAP[b.$pid]:-0}) if "$pid" else 0.0
pg = d(${SNAP[a.pg]}, ${SNAP[b.pg]})
mq = d(${SNAP[a.mq]}, ${SNAP[b.mq]})
machine = d(${SNAP[a.machine]}, ${SNAP[b.machine]})
lg = float("$lg_user") + float("$lg_sys")
ours = target + pg + mq + lg
json.dump({
    "wall_s": round(${SNAP[b.t]} - ${SNAP[a.t]}, 3),
    "consumer_cpu_s": round(target, 2), "postgres_cpu_s": round(pg, 2),
    "mosquitto_cpu_s": round(mq, 2), "loadgen_cpu_s": round(lg, 2),
    "machine_busy_cpu_s": round(machine, 2),
    "other_processes_cpu_s": round(max(machine - ours, 0.0), 2),
    "consumer_peak_rss_kib": int("$rss" or 0), "loadgen_peak_rss_kib": int("$lg_rss" or 0),
}, open(sys.argv[1], "w"))
EOF
}

# ---------------------------------------------------------------------------------------
# the ingest

start_ingest() { # start_ingest NAME
	local name=$1 i
	# shellcheck disable=SC2086
	"$BIN/coldtrace-ingest" ${INGEST_ARGS:-} 2>"$WORK/$name.ingest.log" &
	INGEST_PID=$!
	for ((i = 0; i < 300; i++)); do
		grep -q 'ingest: ready' "$WORK/$name.ingest.log" 2>/dev/null && return 0
		kill -0 "$INGEST_PID" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$WORK/$name.ingest.log" >&2
	die "coldtrace-ingest did not become ready"
}

stop_ingest() {
	stop_pid "$INGEST_PID" 40
	INGEST_PID=
}

# stored_json NAME BACKLOG_PREFIX LIVE_PREFIX: rows in the ledger and dead letters of both
stored_json() {
	psql_q "SELECT json_build_object(
	          'stored', (SELECT count(*) FROM coldtrace.record_keys WHERE device_id LIKE '$2-%'),
	          'stored_live', (SELECT count(*) FROM coldtrace.record_keys WHERE device_id LIKE '$3-%'),
	          'dead_letters', (SELECT count(*) FROM coldtrace.dead_letters
	                            WHERE device_id LIKE '$2-%' OR device_id LIKE '$3-%'))" \
		>"$WORK/$1.db.json"
}

# e2e NAME PREFIX DEVICES PER_DEVICE TIMEOUT [loadgen args…]: one ingest scenario
e2e() {
	local name=$1 prefix=$2 devices=$3 per=$4 tmo=$5
	shift 5
	reset_data
	start_ingest "$name"
	snap a "$INGEST_PID"
	/usr/bin/time -o "$WORK/$name.time" -f '%e %U %S %M' \
		timeout $((tmo + 60)) "$BIN/loadgen" --prefix "$prefix" --devices "$devices" \
		--per-device "$per" --timeout "$tmo" "$@" \
		>"$WORK/$name.json" 2>"$WORK/$name.log" || log "$name: loadgen exited non-zero (see $WORK/$name.log)"
	snap b "$INGEST_PID"
	cpu_json "$name" "$INGEST_PID" "$WORK/$name.time"
	stop_ingest
	[ -s "$WORK/$name.json" ] || echo '{"error":"loadgen printed nothing"}' >"$WORK/$name.json"
	log "$name: $(cat "$WORK/$name.json")"
}

per_device() { # per_device TOTAL DEVICES RECORDS_PER_MSG: whole messages, at least one
	python3 -c "import math,sys; t,d,r=map(float,sys.argv[1:]); print(max(int(r), int(math.ceil(t/d/r)*r)))" "$@"
}

json_get() { python3 -c "import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))" "$1" "$2"; }

# ---------------------------------------------------------------------------------------
# 1. the database limit

LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)
log "load average at start: $LOADAVG_START (other users' processes disturb the figures)"

log "1. database limit (dblimit, ${SECONDS_PER}s)"
reset_data
snap a
/usr/bin/time -o "$WORK/dblimit.time" -f '%e %U %S %M' \
	timeout $((SECONDS_PER + 120)) "$BIN/dblimit" --seconds "$SECONDS_PER" >"$WORK/dblimit.json" ||
	log "dblimit exited non-zero"
sleep 1 # let the postmaster reap dblimit's backend, so its CPU shows in cutime
snap b
cpu_json dblimit "" "$WORK/dblimit.time"
log "dblimit: $(cat "$WORK/dblimit.json")"
DB_RATE=$(json_get "$WORK/dblimit.json" rows_per_s)
# Every end-to-end stream holds what the database limit writes in SECONDS_PER seconds.
TOTAL=$(python3 -c "print(int($DB_RATE * $SECONDS_PER))")

# ---------------------------------------------------------------------------------------
# 2. the broker limit

log "2. broker limit (brokerlimit, $((SECONDS_PER + 2))s)"
snap a
/usr/bin/time -o "$WORK/brokerlimit.time" -f '%e %U %S %M' \
	timeout $((SECONDS_PER + 60)) "$BIN/brokerlimit" --publishers 2 --seconds $((SECONDS_PER + 2)) \
	--warmup 2 >"$WORK/brokerlimit.json" 2>"$WORK/brokerlimit.log" ||
	log "brokerlimit exited non-zero: $(cat "$WORK/brokerlimit.log")"
snap b
cpu_json brokerlimit "" "$WORK/brokerlimit.time"
log "brokerlimit: $(cat "$WORK/brokerlimit.json")"

# ---------------------------------------------------------------------------------------
# 4. the Node.js peers (before the ingest ever connects, so no ingest session queues their
#    stream)

PER_10K=$(per_device "$TOTAL" 10000 10)
NODE_STATUS=skipped
if [ "${BENCH_SKIP_NODE:-0}" = 1 ]; then
	log "4. Node.js peers skipped (BENCH_SKIP_NODE=1)"
elif ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	log "4. Node.js peers skipped: node/npm not installed"
	NODE_STATUS="skipped: node or npm not installed"
elif ! (cd "$BENCH_DIR/node" && npm install --no-audit --no-fund >"$WORK/npm.log" 2>&1); then
	log "4. Node.js peers skipped: npm install failed (see $WORK/npm.log)"
	NODE_STATUS="skipped: npm install failed"
else
	NODE_STATUS=ran
	# node_peer NAME SCRIPT CLIENT_ID PREFIX PER_DEVICE EXPECT MAX_S
	node_peer() {
		local name=$1 script=$2 cid=$3 prefix=$4 per=$5 expect=$6 max_s=$7 i
		reset_data
		PEER_CLIENT_ID=$cid node "$BENCH_DIR/node/$script" 2>"$WORK/$name.peer.log" &
		NODE_PID=$!
		for ((i = 0; i < 300; i++)); do
			grep -q 'ready' "$WORK/$name.peer.log" 2>/dev/null && break
			kill -0 "$NODE_PID" 2>/dev/null || die "$script exited: $(tail -n 5 "$WORK/$name.peer.log")"
			sleep 0.1
		done
		snap a "$NODE_PID"
		/usr/bin/time -o "$WORK/$name.time" -f '%e %U %S %M' \
			timeout $((max_s + 60)) "$BIN/loadgen" --no-ack --prefix "$prefix" --devices 10000 \
			--per-device "$per" --count-sql "SELECT count(*) FROM bench_peer.readings" \
			--expect "$expect" --max-s "$max_s" >"$WORK/$name.json" 2>"$WORK/$name.log" ||
			log "$name: loadgen exited non-zero (see $WORK/$name.log)"
		snap b "$NODE_PID"
		cpu_json "$name" "$NODE_PID" "$WORK/$name.time"
		stop_pid "$NODE_PID" 10
		NODE_PID=
		clear_session "$cid" # what it had not read yet must not pile up in the broker
		log "$name: $(cat "$WORK/$name.json")"
	}
	log "4a. Node.js peer, 1000-row INSERTs, 10k devices × $PER_10K records"
	node_peer node_batch peer.js bench-node-peer nb "$PER_10K" $((10000 * PER_10K)) 240
	# One INSERT per reading is ~20x slower: measured over a window of the same stream shape.
	log "4b. Node.js naive peer, one INSERT per reading (a $((SECONDS_PER + 8))s window)"
	node_peer node_naive peer-naive.js bench-node-naive nn 20 200000 $((SECONDS_PER + 8))
fi

# ---------------------------------------------------------------------------------------
# 3 and 5. coldtrace-ingest end to end

register e1k 1000
register e10k 10000
register e50k 50000
register lat 10000
register bl 500
register live 10
register bq 500
register lq 10
register bp 500
register lp 10

PER_1K=$(per_device "$TOTAL" 1000 10)
PER_50K=$(per_device "$TOTAL" 50000 10)
log "3a. ingest, 1k devices × $PER_1K records"
e2e e1k e1k 1000 "$PER_1K" 300
log "3b. ingest, 10k devices × $PER_10K records"
e2e e10k e10k 10000 "$PER_10K" 300
log "3c. ingest, 50k devices × $PER_50K records"
e2e e50k e50k 50000 "$PER_50K" 300

# Ack latency at half the 10k fleet's maximum rate, over >= SECONDS_PER + 3 seconds.
MAX_10K=$(json_get "$WORK/e10k.json" committed_readings_per_s)
HALF_MSGS=$(python3 -c "print(max(1, round($MAX_10K / 2 / 10)))")
PER_LAT=$(per_device "$(python3 -c "print($HALF_MSGS * 10 * ($SECONDS_PER + 3))")" 10000 10)
log "3d. ack latency at half the maximum: 10k devices, $HALF_MSGS msgs/s, $PER_LAT records each"
e2e lat lat 10000 "$PER_LAT" 300 --rate "$HALF_MSGS"

# ---------------------------------------------------------------------------------------
# 6. the backlog: 500 devices × 2880 readings at once, 10 live devices at one message/s

log "6a. backlog replay, devices resend above the ack after a 10 s stall (bounded at 150 s)"
e2e backlog bl 500 2880 150 --backlog --live 10 --live-prefix live --resend-after 10
stored_json backlog bl live
log "6b. backlog replay, resend only after a 120 s stall (absorption alone, bounded at 240 s)"
clear_session coldtrace-ingest # the storm of 6a may have left resends queued for the ingest
e2e backlog_noresend bq 500 2880 240 --backlog --live 10 --live-prefix lq --resend-after 120
stored_json backlog_noresend bq lq
# What device-side pacing buys: each device keeps at most 100 records (10 messages) above its
# ack while replaying, so the broker's single queue to the ingest stays short.
log "6c. backlog replay, 10 s resends, each device at most 100 records above its ack"
clear_session coldtrace-ingest
e2e backlog_paced bp 500 2880 240 --backlog --live 10 --live-prefix lp --resend-after 10 \
	--device-window 100
stored_json backlog_paced bp lp

# ---------------------------------------------------------------------------------------
# the machine, the versions, the report

machine_json() {
	python3 - "$WORK/machine.json" <<EOF
import json, os, platform, re, subprocess, sys
def sh(cmd):
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""
cpu = ""
for line in open("/proc/cpuinfo"):
    if line.startswith("model name"):
        cpu = line.split(":", 1)[1].strip(); break
mem_kib = int(re.search(r"MemTotal:\s+(\d+)", open("/proc/meminfo").read()).group(1))
def npm_version(pkg):
    try:
        return json.load(open("$BENCH_DIR/node/node_modules/%s/package.json" % pkg))["version"]
    except Exception:
        return None
json.dump({
    "hostname": platform.node(), "cpu_model": cpu, "nproc": os.cpu_count(),
    "memory_mib": mem_kib // 1024, "kernel": platform.release(),
    "mosquitto": sh("mosquitto -h 2>/dev/null | head -n 1"),
    "postgresql": sh("psql -X -A -t -c 'SHOW server_version'"),
    "libpq": sh("pkg-config --modversion libpq"),
    "libmosquitto": sh("pkg-config --modversion libmosquitto"),
    "node": sh("node --version 2>/dev/null"), "npm_mqtt": npm_version("mqtt"), "npm_pg": npm_version("pg"),
    "git_commit": sh("git -C $REPO rev-parse HEAD"),
    "ingest_sha256": sh("sha256sum $BIN/coldtrace-ingest | cut -c1-16"),
    "git_dirty": bool(sh("git -C $REPO status --porcelain")),
    "loadavg_at_start": "$LOADAVG_START",
    "ingest_args": "${INGEST_ARGS:-}" or "defaults (batch_max_records 5000, batch_max_ms 100)",
    "pg_settings": sh("psql -X -A -t -F= -c \"SELECT name, setting FROM pg_settings WHERE name IN ('fsync','synchronous_commit','shared_buffers','max_wal_size','wal_level') ORDER BY 1\"").split("\n"),
    "node_status": "$NODE_STATUS",
}, open(sys.argv[1], "w"))
EOF
}
machine_json
# Messages mosquitto PUBACKed and then dropped for a subscriber (see brokerlimit.c).
grep 'being dropped' "$STACK/mosquitto/mosquitto.log" >"$WORK/broker_drops.txt" 2>/dev/null || true

HOST=${BENCH_MACHINE:-$(hostname -s 2>/dev/null || hostname)}
HOST=$(printf '%s' "$HOST" | tr -c 'A-Za-z0-9._-' '-')
RESULTS=${BENCH_RESULTS:-$BENCH_DIR/results/$(date +%Y-%m-%d)-$HOST-$(nproc)cpu.json}
# A second run on the same day keeps the first one's file: the new one gets the time too.
if [ -z "${BENCH_RESULTS:-}" ] && [ -e "$RESULTS" ]; then
	RESULTS=$BENCH_DIR/results/$(date +%Y-%m-%d-%H%M)-$HOST-$(nproc)cpu.json
fi
mkdir -p "$(dirname "$RESULTS")"
python3 "$BENCH_DIR/report.py" "$WORK" "$RESULTS"
log "results written to ${RESULTS#"$REPO"/}"
