#!/usr/bin/env bash
# Nothing lost, nothing duplicated while the neighbours fail under load:
#  1. a flood of 100 000 records (20 devices × 5 000) while the ingest is killed with
#     SIGKILL three times and restarted — every device ends acked at its last seq;
#  2. a second flood while PostgreSQL is stopped for 10 s and started again;
#  3. a third while the broker is restarted (persistence keeps the ingest's session);
#  4. a fourth with a poison message in it (the database refuses it, here by a trigger): the
#     batch holding it is written message by message, the poison is dead-lettered whole and
#     every other message of the batch is stored.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin failures_under_flood

DEVICES=20
PER_DEVICE=5000
sql "INSERT INTO coldtrace.devices (id, password_hash)
     SELECT p || lpad(g::text, 5, '0'), 'x'
       FROM unnest(ARRAY['k-', 'p-', 'b-', 'x-']) p, generate_series(1, $DEVICES) g" >/dev/null

flood() { # PREFIX RATE: publishes through the fleet account, waits for every ack
	HARNESS_SPAWN_NAME=flood-$1 harness_spawn "$COLDTRACE_BIN_DIR/coldtrace-sim" flood \
		--devices $DEVICES --device-prefix "$1" --records $PER_DEVICE --batch 10 --rate "$2" \
		--username "$COLDTRACE_FLEET_USERNAME" --password-file "$COLDTRACE_FLEET_PASSWORD_FILE" \
		--resend-after 5 --ack-timeout 180 --progress
	FLOOD_PID=$SPAWNED_PID
	FLOOD_LOG=$SPAWNED_LOG
}
stored() { sql "SELECT count(*) FROM coldtrace.record_keys WHERE device_id LIKE '$1%'"; }
stored_at_least() { [ "$(stored "$1")" -ge "$2" ]; }
flood_done() { ! kill -0 "$FLOOD_PID" 2>/dev/null || grep -q '"acked_all"' "$FLOOD_LOG"; }
check_flood() { # PREFIX WHAT
	local total=$((DEVICES * PER_DEVICE))
	wait_for "$2: flood finishes" 300 flood_done
	wait "$FLOOD_PID"
	assert_eq "$2: the flood saw every device acked" 0 "$?"
	assert_match "$2: flood summary" '"acked_all":true' "$(grep '"acked_all"' "$FLOOD_LOG")"
	note "$2: $(grep '"acked_all"' "$FLOOD_LOG")"
	assert_eq "$2: $total records, each (device, seq) once" "$total/$total" \
		"$(sql "SELECT count(*) || '/' || count(DISTINCT (device_id, seq)) FROM coldtrace.record_keys WHERE device_id LIKE '$1%'")"
	assert_eq "$2: every reading stored once" "$total" \
		"$(sql "SELECT count(*) FROM coldtrace.readings WHERE device_id LIKE '$1%'")"
	assert_eq "$2: every device has seqs 1..$PER_DEVICE" "$DEVICES" \
		"$(sql "SELECT count(*) FROM (SELECT device_id FROM coldtrace.record_keys WHERE device_id LIKE '$1%'
		         GROUP BY device_id HAVING min(seq) = 1 AND max(seq) = $PER_DEVICE AND count(*) = $PER_DEVICE) d")"
	assert_eq "$2: every device acked at its last seq" "$DEVICES" \
		"$(sql "SELECT count(*) FROM coldtrace.device_acks WHERE device_id LIKE '$1%' AND acked_seq = $PER_DEVICE")"
	assert_eq "$2: no dead letter" 0 "$(sql "SELECT count(*) FROM coldtrace.dead_letters WHERE device_id LIKE '$1%'")"
}

# 1. kill -9 the ingest three times during the flood.
start_ingest
flood k- 1000
for n in 1 2 3; do
	wait_for "flood progresses before kill $n" 120 stored_at_least k- $((n * 20000))
	kill -KILL "$INGEST_PID"
	wait "$INGEST_PID" 2>/dev/null
	note "killed the ingest (kill -9) with $(stored k-) records committed"
	start_ingest
done
check_flood k- "kill -9 ×3"

# 2. PostgreSQL away for 10 s in the middle of a flood.
flood p- 1000
wait_for "flood progresses before the outage" 120 stored_at_least p- 20000
devstack pg-stop >>"$HARNESS_DIR/logs/devstack.log" 2>&1
note "PostgreSQL stopped with $(stored p- 2>/dev/null || echo "?") records committed; the outage lasts 10 s by design"
outage_end=$(($(date +%s) + 10))
while [ "$(date +%s)" -lt "$outage_end" ]; do
	kill -0 "$INGEST_PID" 2>/dev/null || fail "ingest died while PostgreSQL was down"
	sleep 1
done
devstack pg-start >>"$HARNESS_DIR/logs/devstack.log" 2>&1
grep -q 'database connected' "$INGEST_LOG" || true
check_flood p- "PostgreSQL down 10 s"
kill -0 "$INGEST_PID" 2>/dev/null && pass "the ingest rode out the outage without restarting"

# 3. The broker restarts in the middle of a flood.
flood b- 1000
wait_for "flood progresses before the broker restart" 120 stored_at_least b- 20000
devstack broker-stop >>"$HARNESS_DIR/logs/devstack.log" 2>&1
devstack broker-start >>"$HARNESS_DIR/logs/devstack.log" 2>&1
check_flood b- "broker restart"

# 4. A message the database refuses, in the middle of a flood.
POISON=z-poison
register_device "$POISON" || true
sql "CREATE OR REPLACE FUNCTION coldtrace.test_refuse_poison() RETURNS trigger LANGUAGE plpgsql AS
     \$\$ BEGIN RAISE EXCEPTION 'test: device % refused', NEW.device_id; END \$\$;
     CREATE TRIGGER test_refuse_poison BEFORE INSERT ON coldtrace.record_keys FOR EACH ROW
     WHEN (NEW.device_id = '$POISON') EXECUTE FUNCTION coldtrace.test_refuse_poison()" >/dev/null
flood x- 1000
wait_for "flood progresses before the poison" 120 stored_at_least x- 20000
mqtt_pub "$POISON" "$(device_password_file "$POISON")" -q 1 -t "coldtrace/v1/dev/$POISON/up" \
	-m "{\"v\":1,\"device\":\"$POISON\",\"records\":[{\"seq\":1,\"t\":\"$(date -u -d '-1 min' +%Y-%m-%dT%H:%M:%SZ)\",\"kind\":\"reading\",\"temp\":{\"product\":2.5}}]}"
check_flood x- "poison message"
poison_dead() { [ "$(sql "SELECT count(*) FROM coldtrace.dead_letters WHERE device_id = '$POISON'")" = 1 ]; }
wait_for "poison message dead-lettered" 30 poison_dead && pass "the poison message is dead-lettered"
assert_eq "… whole, as store_failed, with the database's reason" "message|store_failed|t" \
	"$(sql "SELECT scope, reason, detail LIKE '%refused%' FROM coldtrace.dead_letters WHERE device_id = '$POISON'")"
assert_eq "… and nothing of it stored" 0 "$(stored "$POISON")"
grep -q "message refused by the database; dead-lettered whole" "$INGEST_LOG" &&
	pass "the ingest logged the poison message" || fail "the ingest did not log the poison message"
sql "DROP TRIGGER test_refuse_poison ON coldtrace.record_keys" >/dev/null

stop_pid "$INGEST_PID"
assert_eq "ingest exits 0 after all that" 0 "$?"
harness_end
