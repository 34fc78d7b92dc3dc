#!/usr/bin/env bash
# Every payload fixture, through the real broker and ingest: each violation class of the
# protocol ends as a dead letter with its reason (whole message, or the failing record while
# its siblings are stored), every valid fixture is stored whole with no dead letter, and the
# two size limits (256 KiB, 1000 records) are enforced.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin protocol_violations

FX=$HARNESS_DIR/fx
python3 "$HARNESS_REPO/tests/lib/fixtures.py" "$HARNESS_REPO/tests/fixtures/payloads" "$FX" >"$FX.list"

# The two limits, generated: a 1001-record message and one just over 256 KiB.
python3 - "$FX" >>"$FX.list" <<'EOF'
import datetime, json, sys
out = sys.argv[1]
t = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
recs = [{"seq": i + 1, "t": t, "kind": "reading", "temp": {"product": 2.0}} for i in range(1001)]
open(out + "/fx-lim1.json", "w").write(json.dumps({"v": 1, "device": "fx-lim1", "records": recs}))
big = {"v": 1, "device": "fx-lim2", "records": [{"seq": 1, "t": t, "kind": "reading",
       "temp": {"product": 2.0}, "note": "x" * (270 * 1024)}]}
open(out + "/fx-lim2.json", "w").write(json.dumps(big))
print("fx-lim1|fx-lim1|too_many_records|1001|message too_many_records")
print("fx-lim2|fx-lim2|payload_too_large|1|message payload_too_large")
EOF
assert_ge "fixtures rendered" 100 "$(wc -l <"$FX.list")"

# Register every fixture device in one statement; they publish through the fleet account.
devices=$(cut -d'|' -f1,2 "$FX.list" | tr '|' '\n' | sort -u | paste -sd, -)
sql "INSERT INTO coldtrace.devices (id, password_hash)
     SELECT unnest(string_to_array('$devices', ',')), 'x' ON CONFLICT DO NOTHING" >/dev/null

start_ingest
while IFS='|' read -r dev tdev name n expect; do
	mqtt_pub "$COLDTRACE_FLEET_USERNAME" "$COLDTRACE_FLEET_PASSWORD_FILE" -q 1 \
		-t "coldtrace/v1/dev/$tdev/up" -f "$FX/$dev.json" ||
		fail "publish $name"
done <"$FX.list"

# What the database must end up holding: one dead letter per expected reason, and the
# stored records of every fixture.
expected_dead=0 expected_stored=0
while IFS='|' read -r dev tdev name n expect; do
	case $expect in
	valid) expected_stored=$((expected_stored + n)) ;;
	message*) expected_dead=$((expected_dead + 1)) ;;
	record*)
		k=$(tr ';' '\n' <<<"$expect" | grep -c .)
		expected_dead=$((expected_dead + k))
		expected_stored=$((expected_stored + n - k))
		;;
	esac
done <"$FX.list"
all_handled() {
	local got
	got=$(sql "SELECT (SELECT count(*) FROM coldtrace.dead_letters)
	              || '/' || (SELECT count(*) FROM coldtrace.record_keys)")
	echo "dead letters/records: $got"
	[ "$got" = "$expected_dead/$expected_stored" ]
}
wait_for "all fixtures handled ($expected_dead dead letters, $expected_stored records)" 120 all_handled

while IFS='|' read -r dev tdev name n expect; do
	got=$(sql "SELECT coalesce(string_agg(reason || ':' || scope, ',' ORDER BY reason, scope), '')
	             FROM coldtrace.dead_letters WHERE device_id = '$tdev'")
	stored=$(sql "SELECT count(*) FROM coldtrace.record_keys WHERE device_id = '$dev'")
	case $expect in
	valid)
		assert_eq "$name: no dead letter" "" "$got"
		assert_eq "$name: all $n records stored" "$n" "$stored"
		;;
	message*)
		assert_eq "$name: message dead-lettered" "${expect#message }:message" "$got"
		assert_eq "$name: nothing stored" 0 "$stored"
		;;
	record*)
		want=$(tr ';' '\n' <<<"$expect" | awk '{print $3 ":record"}' | sort | paste -sd, -)
		k=$(tr ';' '\n' <<<"$expect" | grep -c .)
		assert_eq "$name: failing records dead-lettered" "$want" "$got"
		assert_eq "$name: siblings stored" "$((n - k))" "$stored"
		;;
	esac
done <"$FX.list"

# A dead letter keeps the bytes: the record's own JSON for a record, the uplink for a message.
assert_match "record dead letter holds the record's JSON" '"temp"' \
	"$(sql "SELECT convert_from(payload, 'UTF8') FROM coldtrace.dead_letters
	         WHERE reason = 'temp_out_of_range' AND scope = 'record' LIMIT 1")"
assert_eq "message dead letter holds the whole uplink" \
	"$(wc -c <"$(grep -l '' "$FX"/fx-lim1.json)")" \
	"$(sql "SELECT octet_length(payload) FROM coldtrace.dead_letters WHERE device_id = 'fx-lim1'")"

harness_end
