#!/usr/bin/env bash
# A whole simulated 8-hour trip (with a reefer failure and a dead zone) arrives complete:
# every seq stored exactly once, load and unload events with their lots, no dead letter, the
# device acked at its last seq. Then a second trip whose simulator is killed (kill -9) twice
# mid-trip and restarted from its store and its retained ack: still every seq exactly once.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin trip_and_resume

coldtrace site add 6970000000017 --name "Guiyang packhouse" --kind packhouse >/dev/null
coldtrace site add 6970000000024 --name "Guangzhou DC" --kind dc >/dev/null
coldtrace site add 6970000000031 --name "Shenzhen DC" --kind dc >/dev/null
since=$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)
for n in 1 2; do
	register_device "truck-$n" || true
	coldtrace shipment add "SHP-$n" --origin 6970000000017 --destination 6970000000031 \
		--commodity CHOY_SUM >/dev/null
	coldtrace shipment assign "SHP-$n" --device "truck-$n" --from "$since" >/dev/null
done
start_ingest

# every seq 1..N exactly once in the ledger, and each in readings or events exactly once
complete() { # DEVICE N
	[ "$(sql "SELECT count(*) || '/' || count(DISTINCT seq) || '/' || min(seq) || '/' || max(seq)
	            FROM coldtrace.record_keys WHERE device_id = '$1'")" = "$2/$2/1/$2" ] &&
		[ "$(sql "SELECT (SELECT count(*) FROM coldtrace.readings WHERE device_id = '$1')
	                 + (SELECT count(*) FROM coldtrace.events WHERE device_id = '$1')")" = "$2" ]
}
sim_trip() { # DEVICE STORE extra…
	local dev=$1 store=$2
	shift 2
	"$COLDTRACE_BIN_DIR/coldtrace-sim" trip --device "$dev" --shipment "SHP-${dev#truck-}" \
		--dest shenzhen --password-file "$(device_password_file "$dev")" --store "$store" \
		--seed 7 --accel 0 --ack-timeout 120 "$@"
}

# 1. A whole trip.
summary=$(sim_trip truck-1 "$HARNESS_DIR/store-1" --fault reefer_failure --fault dead_zone 2>"$HARNESS_DIR/logs/sim-1.log")
assert_eq "simulator exits 0 with everything acked" 0 "$?"
last=$(sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p' <<<"$summary")
assert_ge "an 8-hour trip at 30 s is hundreds of records" 900 "${last:-0}"
assert_match "simulator saw its ack at the last seq" "\"acked_seq\":$last[,}]" "$summary"
complete truck-1 "$last" && pass "every seq 1..$last stored exactly once" || fail "trip incomplete: $(sql "SELECT count(*), max(seq) FROM coldtrace.record_keys WHERE device_id = 'truck-1'")"
assert_eq "no dead letter" 0 "$(sql "SELECT count(*) FROM coldtrace.dead_letters WHERE device_id = 'truck-1'")"
assert_eq "no data gap" 0 "$(sql "SELECT count(*) FROM coldtrace.data_gaps WHERE device_id = 'truck-1'")"
assert_eq "ack at the last seq" "$last" "$(sql "SELECT acked_seq FROM coldtrace.device_acks WHERE device_id = 'truck-1'")"
assert_eq "load at the packhouse and unload at the DC" "load 6970000000017,unload 6970000000031" \
	"$(sql "SELECT string_agg(type || ' ' || site_gln, ',' ORDER BY seq) FROM coldtrace.events
	         WHERE device_id = 'truck-1' AND type IN ('load', 'unload')")"
assert_eq "lots travel with the load" 1 \
	"$(sql "SELECT count(*) FROM coldtrace.events WHERE device_id = 'truck-1' AND type = 'load'
	         AND jsonb_array_length(lots) >= 1 AND lots->0->>'gtin' ~ '^[0-9]{14}$'")"
assert_ge "reefer failure shows as an alarm event" 1 \
	"$(sql "SELECT count(*) FROM coldtrace.events WHERE device_id = 'truck-1' AND type = 'reefer_alarm'")"
assert_eq "every reading belongs to the shipment" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.readings WHERE device_id = 'truck-1' AND shipment_id IS DISTINCT FROM 'SHP-1'")"
assert_eq "positions stay in Guizhou–Guangdong" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.readings WHERE device_id = 'truck-1'
	         AND NOT (lat BETWEEN 21.5 AND 27.5 AND lon BETWEEN 105.5 AND 115)")"

# 2. Kill the simulator mid-trip (at a random point of its delivery), twice, then let it finish.
stored_more() { [ "$(sql "SELECT count(*) FROM coldtrace.record_keys WHERE device_id = 'truck-2'")" -gt "$1" ]; }
for round in 1 2; do
	HARNESS_SPAWN_NAME=sim-2-run-$round harness_spawn "$COLDTRACE_BIN_DIR/coldtrace-sim" trip \
		--device truck-2 --shipment SHP-2 --dest shenzhen --password-file "$(device_password_file truck-2)" \
		--store "$HARNESS_DIR/store-2" --seed 7 --accel 3000 --ack-timeout 120
	pid=$SPAWNED_PID
	before=$(sql "SELECT count(*) FROM coldtrace.record_keys WHERE device_id = 'truck-2'")
	wait_for "simulator run $round delivers" 60 stored_more $((before + 100))
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
done
summary=$(sim_trip truck-2 "$HARNESS_DIR/store-2" --accel 0 2>"$HARNESS_DIR/logs/sim-2-final.log")
assert_eq "restarted simulator finishes with everything acked" 0 "$?"
last=$(sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p' <<<"$summary")
assert_ge "the resumed trip is whole" 900 "${last:-0}"
complete truck-2 "$last" && pass "after two kill -9: every seq 1..$last stored exactly once" ||
	fail "resumed trip incomplete: $(sql "SELECT count(*), count(DISTINCT seq), max(seq) FROM coldtrace.record_keys WHERE device_id = 'truck-2'")"
assert_ge "defrost cycles reported (a reefer that runs defrosts every ~4 h)" 1 \
	"$(sql "SELECT count(*) FROM coldtrace.events WHERE device_id = 'truck-2' AND type = 'defrost_start'")"
assert_eq "no conflict from the resume" 0 "$(sql "SELECT count(*) FROM coldtrace.dead_letters WHERE device_id = 'truck-2'")"

harness_end
