#!/usr/bin/env bash
# Two ingest workers share the uplinks through an MQTT shared subscription ($share/ingest/…).
# Both commit batches of the same devices, so per-device acks are computed under the ack-row
# lock and must still be exact. One worker is killed (kill -9, not restarted) in the middle of
# a 100 000-record flood: the devices resend what it had taken but not committed, the other
# worker stores it, nothing is lost and nothing duplicated.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin horizontal_workers

DEVICES=20 PER_DEVICE=5000
sql "INSERT INTO coldtrace.devices (id, password_hash)
     SELECT 'w-' || lpad(g::text, 5, '0'), 'x' FROM generate_series(1, $DEVICES) g" >/dev/null

start_ingest --mqtt-share-group=ingest --mqtt-client-id=ingest-a
A_PID=$INGEST_PID A_LOG=$INGEST_LOG
start_ingest --mqtt-share-group=ingest --mqtt-client-id=ingest-b
B_PID=$INGEST_PID B_LOG=$INGEST_LOG

HARNESS_SPAWN_NAME=flood harness_spawn "$COLDTRACE_BIN_DIR/coldtrace-sim" flood \
	--devices $DEVICES --device-prefix w- --records $PER_DEVICE --batch 10 --rate 1000 \
	--username "$COLDTRACE_FLEET_USERNAME" --password-file "$COLDTRACE_FLEET_PASSWORD_FILE" \
	--resend-after 5 --ack-timeout 180
FLOOD_PID=$SPAWNED_PID FLOOD_LOG=$SPAWNED_LOG

stored() { sql "SELECT count(*) FROM coldtrace.record_keys WHERE device_id LIKE 'w-%'"; }
stored_at_least() { [ "$(stored)" -ge "$1" ]; }
wait_for_log "worker a commits" 120 "$A_LOG" "first batch committed" "$A_PID" && pass "worker a takes a share"
wait_for_log "worker b commits" 120 "$B_LOG" "first batch committed" "$B_PID" && pass "worker b takes a share"
wait_for "flood under way" 120 stored_at_least 30000
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null
note "killed worker a with $(stored) records committed"

flood_done() { grep -q '"acked_all"' "$FLOOD_LOG" || ! kill -0 "$FLOOD_PID" 2>/dev/null; }
wait_for "flood finishes on one worker" 300 flood_done
wait "$FLOOD_PID"
assert_eq "every device acked at its last seq (as the flood saw it)" 0 "$?"
note "$(grep '"acked_all"' "$FLOOD_LOG")"
total=$((DEVICES * PER_DEVICE))
assert_eq "$total records, each (device, seq) once" "$total/$total" \
	"$(sql "SELECT count(*) || '/' || count(DISTINCT (device_id, seq)) FROM coldtrace.record_keys WHERE device_id LIKE 'w-%'")"
assert_eq "every reading stored once" "$total" "$(sql "SELECT count(*) FROM coldtrace.readings WHERE device_id LIKE 'w-%'")"
assert_eq "acks exact at the last seq" "$DEVICES" \
	"$(sql "SELECT count(*) FROM coldtrace.device_acks WHERE device_id LIKE 'w-%' AND acked_seq = $PER_DEVICE")"
assert_eq "no dead letter" 0 "$(sql "SELECT count(*) FROM coldtrace.dead_letters WHERE device_id LIKE 'w-%'")"
stop_pid "$B_PID"
assert_eq "the surviving worker exits 0" 0 "$?"
harness_end
