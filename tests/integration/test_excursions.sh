#!/usr/bin/env bash
# Excursions end to end: the simulator's reefer failure yields exactly one excursion on the
# product probe, starting and ending within one reading interval of where the data crosses
# the profile's limit; door openings at load/unload and defrost cycles raise none; each state
# change is published once on coldtrace/v1/alerts/{shipment}; figures (MKT, coverage, life)
# are recorded; and the same trip delivered in a random order, in random batches, gives the
# same excursions as the trip delivered in order.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin excursions

coldtrace site add 6970000000017 --name "Guiyang packhouse" --kind packhouse --lat 26.5965 --lon 106.7085 >/dev/null
coldtrace site add 6970000000024 --name "Guangzhou DC" --kind dc --lat 23.1729 --lon 113.3538 --radius-m 2000 >/dev/null
since=$(date -u -d '-2 days' +%Y-%m-%dT%H:%M:%SZ)
for s in A B B2 B3 C D; do
	coldtrace shipment add "SHP-$s" --origin 6970000000017 --destination 6970000000024 --commodity PEA_SHOOTS >/dev/null
done
register_device truck-a || true
coldtrace shipment assign SHP-A --device truck-a --from "$since" >/dev/null
sql "INSERT INTO coldtrace.devices (id, password_hash) VALUES ('truck-b', 'x'), ('truck-b2', 'x'), ('truck-b3', 'x'), ('truck-c', 'x')" >/dev/null
coldtrace shipment assign SHP-B --device truck-b --from "$since" >/dev/null
coldtrace shipment assign SHP-B2 --device truck-b2 --from "$since" >/dev/null
coldtrace shipment assign SHP-B3 --device truck-b3 --from "$since" >/dev/null
coldtrace shipment assign SHP-C --device truck-c --from "$since" >/dev/null
register_device truck-d || true
coldtrace shipment assign SHP-D --device truck-d --from "$since" >/dev/null

# A webhook receiver: every POST body on its own line.
WEBHOOK_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$HARNESS_DIR/webhook.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with open(sys.argv[2], "ab") as f:
            f.write(body.replace(b"\n", b" ") + b"\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
EOF
HARNESS_SPAWN_NAME=webhook harness_spawn python3 "$HARNESS_DIR/webhook.py" "$WEBHOOK_PORT" "$HARNESS_DIR/webhook.jsonl"

start_ingest
HARNESS_SPAWN_NAME=monitor harness_spawn "$COLDTRACE_BIN_DIR/coldtrace-monitor" --monitor-interval-ms=200 \
	--webhook-url="http://127.0.0.1:$WEBHOOK_PORT/alerts"
MON_PID=$SPAWNED_PID MON_LOG=$SPAWNED_LOG
wait_for_log "monitor ready" 30 "$MON_LOG" "monitor: ready" "$MON_PID"
HARNESS_SPAWN_NAME=alerts harness_spawn mosquitto_sub -h "$COLDTRACE_MQTT_HOST" -p "$COLDTRACE_MQTT_PORT" \
	-u "$COLDTRACE_MQTT_USERNAME" -P "$(cat "$COLDTRACE_MQTT_PASSWORD_FILE")" -t 'coldtrace/v1/alerts/#' -q 1
ALERTS_LOG=$SPAWNED_LOG

# Every uplink of trip A as sent, to replay it shuffled as trip B below.
HARNESS_SPAWN_NAME=uplinks-a harness_spawn mosquitto_sub -h "$COLDTRACE_MQTT_HOST" -p "$COLDTRACE_MQTT_PORT" \
	-u "$COLDTRACE_MQTT_USERNAME" -P "$(cat "$COLDTRACE_MQTT_PASSWORD_FILE")" -t 'coldtrace/v1/dev/truck-a/up' -q 1
UPLINKS_LOG=$SPAWNED_LOG
wait_for "uplink capture subscribed" 20 test -e "$UPLINKS_LOG"

# Trip A, in order, with a reefer failure (and door openings at load/unload, defrost cycles).
summary=$("$COLDTRACE_BIN_DIR/coldtrace-sim" trip --device truck-a --shipment SHP-A --dest guangzhou \
	--password-file "$(device_password_file truck-a)" --store "$HARNESS_DIR/store-a" --seed 11 \
	--fault reefer_failure --commodity PEA_SHOOTS --accel 0 2>"$HARNESS_DIR/logs/sim-a.log")
assert_eq "trip A delivered" 0 "$?"
last=$(sed -n 's/.*"last_seq":\([0-9]*\).*/\1/p' <<<"$summary")
evaluated() { [ "$(sql "SELECT count(*) FROM coldtrace.eval_queue")" = 0 ] &&
	[ -n "$(sql "SELECT 1 FROM coldtrace.shipment_figures WHERE shipment_id = '$1' AND lot_key = '' AND samples > 0")" ]; }
wait_for "trip A evaluated" 60 evaluated SHP-A

assert_eq "exactly one excursion, above, in transit" "1|above|transit" \
	"$(sql "SELECT count(*) OVER (), direction, phase FROM coldtrace.excursions WHERE shipment_id = 'SHP-A' LIMIT 1")"
# The compressor stops at the reefer alarm; the product then warms past the limit. The
# excursion must start at the first reading after the alarm that stays above the limit for
# the limit's 30 minutes (a probe hovering at the limit crosses it back and forth first) and
# end at the first reading back in range, each within one reading interval (30 s).
note "events of trip A: $(sql "SELECT string_agg(type || ':' || n, ' ') FROM (SELECT type, count(*) n FROM coldtrace.events WHERE device_id = 'truck-a' GROUP BY type) e")"
threshold=$(sql "SELECT threshold_c FROM coldtrace.excursions WHERE shipment_id = 'SHP-A'")
assert_eq "the threshold is pea shoots' warning limit (1 °C + 2)" 3 "$threshold"
assert_eq "severity: warning, as the peak never passed the major limit (1 °C + 5) for 30 min" "warning|t" \
	"$(sql "SELECT severity, peak_c <= 6 OR duration_s < 1800 FROM coldtrace.excursions WHERE shipment_id = 'SHP-A'")"
alarm=$(sql "SELECT extract(epoch FROM min(measured_at)) FROM coldtrace.events WHERE device_id = 'truck-a' AND type = 'reefer_alarm'")
assert_match "the reefer alarm was reported" '^[0-9.]+$' "$alarm"
first_above=$(sql "SELECT extract(epoch FROM min(r.measured_at)) FROM coldtrace.readings r
                   WHERE r.shipment_id = 'SHP-A' AND r.t_product > $threshold AND r.measured_at > to_timestamp(${alarm:-0})
                     AND NOT EXISTS (SELECT 1 FROM coldtrace.readings q WHERE q.shipment_id = 'SHP-A'
                          AND q.measured_at BETWEEN r.measured_at AND r.measured_at + interval '30 min'
                          AND q.t_product <= $threshold)")
back=$(sql "SELECT extract(epoch FROM min(measured_at)) FROM coldtrace.readings
            WHERE shipment_id = 'SHP-A' AND t_product <= $threshold AND measured_at > to_timestamp(${first_above:-0})")
start=$(sql "SELECT extract(epoch FROM started_at) FROM coldtrace.excursions WHERE shipment_id = 'SHP-A'")
end=$(sql "SELECT extract(epoch FROM ended_at) FROM coldtrace.excursions WHERE shipment_id = 'SHP-A'")
within() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; print (d < 0 ? -d : d) <= 30 }'; }
assert_eq "starts where the product stays above the limit after the alarm (±30 s)" 1 "$(within "$start" "$first_above")"
arrival=$(sql "SELECT extract(epoch FROM actual_arrival) FROM coldtrace.shipments WHERE id = 'SHP-A'")
if [ -n "$back" ] && awk -v b="$back" -v a="${arrival:-0}" 'BEGIN { exit !(b < a) }'; then
	assert_eq "ends at the first reading back in range (±30 s)" 1 "$(within "$end" "$back")"
else
	# The pulp had not cooled back when the truck arrived, and the warning limit is judged in
	# transit only: the excursion ends at the arrival (readings inside the unloading door's
	# grace neither end nor extend it).
	assert_eq "still above at the destination: ends at the arrival (±30 s)" 1 "$(within "$end" "${arrival:-0}")"
fi
assert_eq "no excursion at the doors of load and unload" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.excursions x WHERE shipment_id = 'SHP-A' AND phase <> 'transit'")"
assert_ge "the trip had door openings at load and unload to suppress" 2 \
	"$(sql "SELECT count(*) FROM coldtrace.events WHERE device_id = 'truck-a' AND type = 'door_open'")"
assert_match "figures recorded: full coverage, MKT, remaining life" '^1\|t\|t$' \
	"$(sql "SELECT coverage, mkt_c > min_c, remaining_life_days < 5 FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-A' AND lot_key = ''")"
assert_eq "departure and arrival set from the geofences, shipment delivered" "t|t|delivered" \
	"$(sql "SELECT actual_departure IS NOT NULL, actual_arrival > actual_departure, status FROM coldtrace.shipments WHERE id = 'SHP-A'")"
assert_eq "a figure row per lot on the load" 1 \
	"$(sql "SELECT count(*) FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-A' AND lot_key LIKE '06970000000123/%'")"

published() { [ "$(sql "SELECT count(*) FROM coldtrace.alerts WHERE shipment_id = '$1' AND published_at IS NULL")" = 0 ] &&
	[ "$(grep -c "\"shipment\": \"$1\"" "$ALERTS_LOG")" -ge "$2" ]; }
n_alerts=$(sql "SELECT count(*) FROM coldtrace.alerts WHERE shipment_id = 'SHP-A'")
wait_for "alerts of trip A published" 30 published SHP-A "$n_alerts" && pass "every alert of trip A reached a subscriber"
assert_eq "one alert per state change: opened first, closed only if it closed" \
	"$(sql "SELECT CASE state WHEN 'open' THEN 'opened' ELSE 'opened,closed' END FROM coldtrace.excursions WHERE shipment_id = 'SHP-A'")" \
	"$(sql "SELECT string_agg(change, ',' ORDER BY id) FROM coldtrace.alerts WHERE shipment_id = 'SHP-A' AND change <> 'escalated'")"

# Trip B: the same records (same seed) for another device and shipment, delivered shuffled in
# random batches by the fleet account. The excursions must be the same.
# Trips B, B2, B3: the same records for other devices and shipments, each delivered in another
# random order and random batch sizes (seeds 7, 8, 9) through the fleet account. Every
# arrival order must give the excursions and figures of the in-order trip A.
shuffle() { # DEVICE SHIPMENT SEED > messages, one per line
	python3 - "$UPLINKS_LOG" "$1" "$2" "$3" <<'EOF'
import json, random, sys
log, device, shipment, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
recs = {}
for line in open(log, encoding="utf-8"):
    line = line.strip()
    if line.startswith("{"):
        for r in json.loads(line)["records"]:
            if "shipment" in r:
                r["shipment"] = shipment
            recs[r["seq"]] = r  # resends carry the same record
recs = list(recs.values())
random.seed(seed)
random.shuffle(recs)
i = 0
while i < len(recs):
    n = random.randint(1, 60)
    print(json.dumps({"v": 1, "device": device, "records": recs[i:i + n]}))
    i += n
EOF
}
cmp_cols="direction, severity, state, started_at, ended_at, peak_c, duration_s, round(degree_minutes::numeric, 3), phase"
n=0
for b in B B2 B3; do
	n=$((n + 1))
	dev=truck-$(tr 'A-Z' 'a-z' <<<"$b")
	shuffle "$dev" "SHP-$b" $((6 + n)) >"$HARNESS_DIR/shuffled-$b.txt"
	assert_eq "$b: the capture held the whole trip" "$last" \
		"$(python3 -c "import json, sys; print(sum(len(json.loads(l)['records']) for l in open(sys.argv[1])))" "$HARNESS_DIR/shuffled-$b.txt")"
	while read -r msg; do
		mqtt_pub "$COLDTRACE_FLEET_USERNAME" "$COLDTRACE_FLEET_PASSWORD_FILE" -q 1 -t "coldtrace/v1/dev/$dev/up" -m "$msg"
	done <"$HARNESS_DIR/shuffled-$b.txt"
	all_in() { [ "$(sql "SELECT count(*) FROM coldtrace.record_keys WHERE device_id = '$1'")" = "$last" ]; }
	wait_for "trip $b stored" 60 all_in "$dev"
	wait_for "trip $b evaluated" 60 evaluated "SHP-$b"
	assert_eq "$b: random order and batching give the same excursions" \
		"$(sql "SELECT $cmp_cols FROM coldtrace.excursions WHERE shipment_id = 'SHP-A' ORDER BY started_at")" \
		"$(sql "SELECT $cmp_cols FROM coldtrace.excursions WHERE shipment_id = 'SHP-$b' ORDER BY started_at")"
	assert_eq "$b: and the same figures" \
		"$(sql "SELECT samples, min_c, max_c, mean_c, mkt_c, coverage FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-A' AND lot_key = ''")" \
		"$(sql "SELECT samples, min_c, max_c, mean_c, mkt_c, coverage FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-$b' AND lot_key = ''")"
	assert_eq "$b: late data re-evaluated without repeating alerts: one 'opened'" 1 \
		"$(sql "SELECT count(*) FROM coldtrace.alerts WHERE shipment_id = 'SHP-$b' AND change = 'opened'")"
done

posted() { [ "$(sql "SELECT count(*) FROM coldtrace.alerts WHERE webhook_at IS NULL")" = 0 ]; }
wait_for "webhook received every alert" 30 posted && pass "every alert was POSTed to the webhook"
assert_eq "webhook bodies are the alerts" "$(sql "SELECT count(*) FROM coldtrace.alerts")" \
	"$(grep -c '"change"' "$HARNESS_DIR/webhook.jsonl" 2>/dev/null || echo 0)"

# A backlog closes a gap: trip C gets trip A's records without a 90-minute window first (as a
# dead zone would leave it), is evaluated with that gap listed, then gets the window.
python3 - "$UPLINKS_LOG" truck-c SHP-C "$HARNESS_DIR" <<'EOF'
import json, sys
log, device, shipment, out = sys.argv[1:5]
recs = {}
for line in open(log, encoding="utf-8"):
    if line.strip().startswith("{"):
        for r in json.loads(line)["records"]:
            if "shipment" in r:
                r["shipment"] = shipment
            recs[r["seq"]] = r
recs = [recs[k] for k in sorted(recs)]
mid = len(recs) // 3
hole = recs[mid:mid + 180]  # 180 readings at 30 s: 90 minutes
rest = recs[:mid] + recs[mid + 180:]
for name, part in (("c-first", rest), ("c-backlog", hole)):
    with open(out + "/" + name + ".txt", "w") as f:
        for i in range(0, len(part), 50):
            f.write(json.dumps({"v": 1, "device": device, "records": part[i:i + 50]}) + "\n")
EOF
publish_file() { while read -r msg; do
	mqtt_pub "$COLDTRACE_FLEET_USERNAME" "$COLDTRACE_FLEET_PASSWORD_FILE" -q 1 -t coldtrace/v1/dev/truck-c/up -m "$msg"
done <"$1"; }
publish_file "$HARNESS_DIR/c-first.txt"
gap_seen() { [ "$(sql "SELECT jsonb_array_length(gaps) FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-C' AND lot_key = ''")" = 1 ]; }
wait_for "the hole is listed as a gap" 60 gap_seen && pass "a dead-zone hole is a listed gap, not in range"
assert_eq "coverage below 100 % while the hole is open" t \
	"$(sql "SELECT coverage < 0.9 FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-C' AND lot_key = ''")"
publish_file "$HARNESS_DIR/c-backlog.txt"
gap_closed() { [ "$(sql "SELECT jsonb_array_length(gaps) || '/' || coverage FROM coldtrace.shipment_figures WHERE shipment_id = 'SHP-C' AND lot_key = ''")" = "0/1" ]; }
wait_for "the backlog closes the gap" 60 gap_closed && pass "the backlog closes the gap and the shipment is re-evaluated"
wait_for "trip C evaluated" 60 evaluated SHP-C
assert_eq "and trip C ends with trip A's excursions" \
	"$(sql "SELECT $cmp_cols FROM coldtrace.excursions WHERE shipment_id = 'SHP-A' ORDER BY started_at")" \
	"$(sql "SELECT $cmp_cols FROM coldtrace.excursions WHERE shipment_id = 'SHP-C' ORDER BY started_at")"

# Trip D: a normal trip with defrost cycles and door openings raises no excursion.
"$COLDTRACE_BIN_DIR/coldtrace-sim" trip --device truck-d --shipment SHP-D --dest guangzhou \
	--password-file "$(device_password_file truck-d)" --store "$HARNESS_DIR/store-d" --seed 5 \
	--commodity PEA_SHOOTS --accel 0 >/dev/null 2>"$HARNESS_DIR/logs/sim-d.log"
assert_eq "trip D delivered" 0 "$?"
wait_for "trip D evaluated" 60 evaluated SHP-D
assert_ge "trip D had defrost cycles" 1 "$(sql "SELECT count(*) FROM coldtrace.events WHERE device_id = 'truck-d' AND type = 'defrost_start'")"
assert_eq "defrost and doors raise no excursion" 0 "$(sql "SELECT count(*) FROM coldtrace.excursions WHERE shipment_id = 'SHP-D'")"
assert_eq "but the raw return air did go above the limit during defrost" t \
	"$(sql "SELECT max(r.t_return) > 3 FROM coldtrace.readings r JOIN coldtrace.events e ON e.device_id = r.device_id
	         AND e.type = 'defrost_start' AND r.measured_at BETWEEN e.measured_at AND e.measured_at + interval '30 min'
	        WHERE r.shipment_id = 'SHP-D'")"

stop_pid "$MON_PID"
assert_eq "monitor exits 0 on SIGTERM" 0 "$?"
harness_end
