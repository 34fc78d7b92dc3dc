#!/usr/bin/env bash
# Delivery rules against the real broker and database, with a device's own credentials:
# resent duplicates change nothing; a conflicting duplicate is dead-lettered and the original
# kept; the retained ack follows commits; a gap holds the ack back until the gap timeout, then
# is recorded as a data gap of the device and its shipment and the ack moves past it; an
# unregistered device's records are dead-lettered and replayed once it is registered.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin duplicates_and_gaps

DEV=gz-reefer-0042
register_device "$DEV" || true
PW=$(device_password_file "$DEV")
coldtrace site add 6970000000017 --name "Guiyang packhouse" --kind packhouse >/dev/null
coldtrace site add 6970000000024 --name "Guangzhou DC" --kind dc >/dev/null
coldtrace shipment add SHP-1 --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM >/dev/null
coldtrace shipment assign SHP-1 --device "$DEV" --from "$(date -u -d '-1 day' +%Y-%m-%dT%H:%M:%SZ)" >/dev/null

# A gap timeout of 3 s keeps the test short; gaps are looked for every second.
start_ingest --gap-timeout-s=3 --gap-check-s=1

# Times are fixed once, so a resend built later is byte-for-byte the same record.
BASE=$(date -u +%s)
T() { date -u -d "@$((BASE + $(date -u -d "1970-01-01 00:00:00 UTC $1" +%s)))" +%Y-%m-%dT%H:%M:%SZ; }
reading() { printf '{"seq":%d,"t":"%s","kind":"reading","temp":{"product":%s}}' "$1" "$(T "$2")" "$3"; }
uplink() {
	local recs=$1
	printf '{"v":1,"device":"%s","records":[%s]}' "$DEV" "$recs"
}
publish() { mqtt_pub "$DEV" "$PW" -q 1 -t "coldtrace/v1/dev/$DEV/up" -m "$1"; }
acked() { # the retained ack the device would read after reconnecting
	mqtt_sub "$DEV" "$PW" -t "coldtrace/v1/dev/$DEV/ack" -C 1 -W 5 2>/dev/null |
		sed -n 's/.*"acked_seq":\([0-9]*\).*/\1/p'
}
ack_is() { [ "$(acked)" = "$1" ]; }
count() { sql "SELECT count(*) FROM coldtrace.$1 WHERE device_id = '${3:-$DEV}' ${2:-}"; }
count_is() { [ "$(count "$1" "$2" "${4:-$DEV}")" = "$3" ]; } # TABLE CONDITION N [DEVICE]

MSG1=$(uplink "$(reading 1 '-20 min' 2.1),$(reading 2 '-19 min' 2.2),$(reading 3 '-18 min' 2.3)")
publish "$MSG1"
wait_for "ack 3 after the first message" 30 ack_is 3 && pass "retained ack reaches 3 after commit"
assert_eq "three readings stored" 3 "$(count readings)"
assert_eq "shipment taken from the assignment" SHP-1 \
	"$(sql "SELECT DISTINCT shipment_id FROM coldtrace.readings WHERE device_id = '$DEV'")"

# Resending the same message, and the same records reformatted, changes nothing.
publish "$MSG1"
publish "$(uplink "$(reading 2 '-19 min' 2.20)")"
publish "$(uplink "$(reading 4 '-17 min' 2.4)")"
wait_for "ack 4" 30 ack_is 4
assert_eq "resends stored nothing twice" 4 "$(count readings)"
assert_eq "resends made no dead letter" 0 "$(count dead_letters)"

# Same seq, other content: dead-lettered, the original kept.
publish "$(uplink "$(reading 2 '-19 min' 9.9)")"
wait_for "conflict dead-lettered" 30 count_is dead_letters "AND reason = 'conflicting_duplicate'" 1 &&
	pass "conflicting duplicate is dead-lettered"
assert_eq "original kept" 2.2 "$(sql "SELECT t_product FROM coldtrace.readings WHERE device_id = '$DEV' AND seq = 2")"
assert_eq "conflict carries its seq" 2 "$(sql "SELECT seq FROM coldtrace.dead_letters WHERE device_id = '$DEV'")"
assert_eq "ack unchanged by the conflict" 4 "$(acked)"

# A gap: seq 5 never comes. The ack stays at 4 until the gap timeout, then moves to 7.
publish "$(uplink "$(reading 6 '-15 min' 2.6),$(reading 7 '-14 min' 2.7)")"
wait_for "6 and 7 stored" 30 count_is record_keys "AND seq IN (6, 7)" 2
assert_eq "a gap holds the ack back" 4 "$(acked)"
wait_for "ack moves past the gap after the timeout" 60 ack_is 7 && pass "ack moved past the gap"
assert_eq "gap recorded with its seq range and shipment" "5|5|SHP-1|seq" \
	"$(sql "SELECT from_seq, to_seq, shipment_id, kind FROM coldtrace.data_gaps WHERE device_id = '$DEV'")"
assert_eq "gap bounded by the times around it" t \
	"$(sql "SELECT from_time < to_time FROM coldtrace.data_gaps WHERE device_id = '$DEV'")"
status=$(coldtrace device status "$DEV" --json)
assert_match "device status shows the ack" '"acked_seq" *: *7' "$status"
assert_match "device status shows the gap" '"gaps" *: *1' "$status"
assert_match "device status shows the dead letter" '"dead_letters" *: *1' "$status"

# A hole filled before the gap timeout: the ack jumps over the records held above it (the
# ingest's fast ack path must leave such devices to ct_advance_acks), and no gap is recorded.
publish "$(uplink "$(reading 9 '-12 min' 2.9),$(reading 10 '-11 min' 3.0)")"
wait_for "9 and 10 stored" 30 count_is record_keys "AND seq IN (9, 10)" 2
assert_eq "records above a hole do not move the ack" 7 "$(acked)"
publish "$(uplink "$(reading 8 '-13 min' 2.8)")"
wait_for "ack 10 once the hole is filled" 30 ack_is 10 && pass "a filled hole lets the ack jump to 10"
assert_eq "no gap recorded for a hole filled in time" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.data_gaps WHERE device_id = '$DEV' AND from_seq = 8")"
# A resend that overlaps the ack and brings one new record moves the ack to the new top.
publish "$(uplink "$(reading 10 '-11 min' 3.0),$(reading 11 '-10 min' 3.1)")"
wait_for "ack 11" 30 ack_is 11 && pass "a resend overlapping the ack moves it to 11"
assert_eq "seqs 1..11 stored once each, 5 missing" 10 "$(count record_keys)"

# A device nobody registered (published through the fleet account): its records are
# dead-lettered, acked, and stored by a replay once it is registered.
GHOST=gz-reefer-ghost
mqtt_pub "$COLDTRACE_FLEET_USERNAME" "$COLDTRACE_FLEET_PASSWORD_FILE" -q 1 -t "coldtrace/v1/dev/$GHOST/up" \
	-m "{\"v\":1,\"device\":\"$GHOST\",\"records\":[$(reading 1 '-5 min' 3.0),$(reading 2 '-4 min' 3.1)]}"
wait_for "unknown device dead-lettered" 30 count_is dead_letters "AND reason = 'unknown_device'" 2 "$GHOST" &&
	pass "records of an unregistered device are dead-lettered"
assert_eq "nothing stored for it" 0 "$(sql "SELECT count(*) FROM coldtrace.readings WHERE device_id = '$GHOST'")"
register_device "$GHOST" || true
assert_match "replay resolves both" '"resolved":2' "$(coldtrace deadletters replay --device "$GHOST" --json)"
assert_eq "replayed records stored" 2 "$(sql "SELECT count(*) FROM coldtrace.readings WHERE device_id = '$GHOST'")"
assert_eq "dead letters marked resolved" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.dead_letters WHERE device_id = '$GHOST' AND resolved_at IS NULL")"
assert_match "a second replay finds nothing to do" '"replayed":0' "$(coldtrace deadletters replay --device "$GHOST" --json)"

# SIGTERM: a clean exit.
stop_pid "$INGEST_PID"
assert_eq "ingest exits 0 on SIGTERM" 0 "$?"

harness_end
