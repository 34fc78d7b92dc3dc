#!/usr/bin/env bash
# demo: the whole spine in one command. A fresh local stack (in .devstack/demo), demo master
# data (a packhouse in Guiyang, DCs in Guangzhou and Shenzhen, a Hong Kong buyer, three trucks
# with their devices), the ingest, and three simulated 8-hour trips played in seconds: one
# normal, one with a reefer failure, one through a cellular dead zone. Prints per shipment what
# arrived, and leaves the stack running for a closer look.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
export COLDTRACE_STACK_DIR=${COLDTRACE_STACK_DIR:-$REPO/.devstack/demo}
BIN=$REPO/build/bin
ACCEL=${DEMO_ACCEL:-1200}
RUN=$COLDTRACE_STACK_DIR/run

say() { printf '\n== %s\n' "$*"; }

say "Starting a fresh local stack in ${COLDTRACE_STACK_DIR#$REPO/}"
contrib/devstack stop --purge >/dev/null 2>&1 || true
contrib/devstack start
eval "$(contrib/devstack env)"
mkdir -p "$RUN"

say "Registering master data"
ct() { "$BIN/coldtrace" "$@" >>"$RUN/cli.log"; }
ct org add "Qiannan Greens Cooperative" --kind grower
ct org add "Guizhou Fresh Logistics" --kind carrier
ct org add "Harbour Fresh Markets (HK)" --kind buyer
ct site add 6970000000055 --name "Weining highland farm" --kind farm --org "Qiannan Greens Cooperative" --lat 26.8730 --lon 104.2870 --city Weining --region Guizhou --country CN
ct site register 6970000000055 --scheme gba_supply_base --id GBA-GZ-0523
ct cert add 6970000000055 --scheme 圳品 --number SZP-2026-0117 --issuer "Shenzhen Standard Certification" --valid-from 2026-01-01 --valid-to 2027-12-31
ct site add 6970000000017 --name "Guiyang packhouse" --kind packhouse --org "Qiannan Greens Cooperative" --lat 26.5965 --lon 106.7085 --city Guiyang --region Guizhou --country CN
ct site add 6970000000024 --name "Guangzhou DC (Baiyun)" --kind dc --lat 23.1729 --lon 113.3538
ct site add 6970000000031 --name "Shenzhen DC (Pinghu)" --kind dc --lat 22.6291 --lon 114.0518
ct site add 6970000000048 --name "Hong Kong buyer store (Kwai Chung)" --kind store --org "Harbour Fresh Markets (HK)" --lat 22.3572 --lon 114.1294
for n in 1 2 3; do
	ct vehicle add "truck-$n" --label "TRK-$n" --org "Guizhou Fresh Logistics"
	head -c 24 /dev/urandom | base64 >"$RUN/dev-$n.password"
	ct device add "gz-reefer-000$n" --password-file "$RUN/dev-$n.password" --vehicle "truck-$n"
done
now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ct shipment add SHP-DEMO-NORMAL --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM
ct shipment add SHP-DEMO-REEFER --origin 6970000000017 --destination 6970000000031 --commodity PEA_SHOOTS
ct shipment add SHP-DEMO-DEADZONE --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM
# The trips are played in the past (they end now), so the assignments start well before.
since=$(date -u -d '-12 hours' +%Y-%m-%dT%H:%M:%SZ)
ct shipment assign SHP-DEMO-NORMAL --device gz-reefer-0001 --from "$since"
ct shipment assign SHP-DEMO-REEFER --device gz-reefer-0002 --from "$since"
ct shipment assign SHP-DEMO-DEADZONE --device gz-reefer-0003 --from "$since"
# The lots the trucks carry, from the field: harvest at the farm, forced-air cooling and
# packing into 5 kg cases at the packhouse (the packing assigns the traceability lot code).
ct product add 06970000000994 --description "Choy sum / pea shoots, field bins" --org "Qiannan Greens Cooperative"
ct product add 16970000000120 --description "Choy sum 菜心, 5 kg case" --commodity CHOY_SUM --org "Qiannan Greens Cooperative"
ct product add 16970000000298 --description "Pea shoots 豆苗, 2 kg case" --commodity PEA_SHOOTS --org "Qiannan Greens Cooperative"
day=$(date -u +%Y%m%d)
at() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
LOT_NORMAL=16970000000120/GZ-CXS-$day-A
LOT_REEFER=16970000000298/GZ-PEA-$day-B
LOT_DEADZONE=16970000000120/GZ-CXS-$day-C
for spec in "A $LOT_NORMAL 620 120" "B $LOT_REEFER 260 120" "C $LOT_DEADZONE 600 116"; do
	read -r x lot kg cases <<<"$spec"
	ct lot harvest "06970000000994/H-$day-$x" --farm 6970000000055 --field "F0$x" --at "$(at '-16 hours')" --qty "$kg" --uom KGM --country CN
	ct lot cool "06970000000994/H-$day-$x" --at 6970000000017 --start "$(at '-13 hours')" --method forced_air
	ct lot pack "$lot" --from "06970000000994/H-$day-$x:$kg" --at 6970000000017 --time "$(at '-12 hours')" --qty "$cases" --uom CS --best-before "$(date -u -d '+7 days' +%Y-%m-%d)"
	ct lot publish "$lot"
done
echo "3 organisations, 5 sites, 3 trucks, 3 devices, 3 shipments, 3 lots from the field (see $RUN/cli.log)"

say "Starting coldtrace-ingest and coldtrace-monitor"
"$BIN/coldtrace-ingest" >"$RUN/ingest.log" 2>&1 &
ingest_pid=$!
"$BIN/coldtrace-monitor" >"$RUN/monitor.log" 2>&1 &
monitor_pid=$!
trap 'kill -TERM $ingest_pid $monitor_pid 2>/dev/null || true' EXIT
# Every alert the monitor publishes, as a subscriber would see it.
mosquitto_sub -h "$COLDTRACE_MQTT_HOST" -p "$COLDTRACE_MQTT_PORT" -u "$COLDTRACE_MQTT_USERNAME" \
	-P "$(cat "$COLDTRACE_MQTT_PASSWORD_FILE")" -t 'coldtrace/v1/alerts/#' -v >"$RUN/alerts.log" 2>&1 &
sub_pid=$!
trap 'kill -TERM $ingest_pid $monitor_pid $sub_pid 2>/dev/null || true' EXIT
for _ in $(seq 1 300); do
	grep -q 'ingest: ready' "$RUN/ingest.log" && break
	kill -0 $ingest_pid 2>/dev/null || { cat "$RUN/ingest.log"; exit 1; }
	sleep 0.1
done
grep -q 'ingest: ready' "$RUN/ingest.log" || { echo "ingest did not become ready"; exit 1; }

say "Playing three 8-hour trips at ${ACCEL}x"
trip() { # device shipment destination fault...
	local dev=$1 shp=$2 dest=$3 n=${1: -1}
	shift 3
	"$BIN/coldtrace-sim" trip --device "$dev" --shipment "$shp" --dest "$dest" \
		--password-file "$RUN/dev-$n.password" --store "$RUN/sim-$dev" --accel "$ACCEL" \
		--seed "$n" --ack-timeout 300 "$@" >"$RUN/trip-$dev.json" 2>"$RUN/trip-$dev.log"
}
start_s=$(date +%s)
trip gz-reefer-0001 SHP-DEMO-NORMAL guangzhou --gtin "${LOT_NORMAL%%/*}" --lot-code "${LOT_NORMAL#*/}" & p1=$!
trip gz-reefer-0002 SHP-DEMO-REEFER shenzhen --fault reefer_failure --commodity PEA_SHOOTS --gtin "${LOT_REEFER%%/*}" --lot-code "${LOT_REEFER#*/}" & p2=$!
trip gz-reefer-0003 SHP-DEMO-DEADZONE guangzhou --fault dead_zone --gtin "${LOT_DEADZONE%%/*}" --lot-code "${LOT_DEADZONE#*/}" & p3=$!
fail=0
for p in $p1 $p2 $p3; do wait "$p" || fail=1; done
echo "trips played and acknowledged in $(($(date +%s) - start_s)) s"
[ $fail -eq 0 ] || { echo "a simulated device did not get all its records acknowledged:"; tail -n 5 "$RUN"/trip-*.log; exit 1; }

# The monitor evaluates each shipment once its data is committed; wait until none is queued.
for _ in $(seq 1 300); do
	[ "$(psql -XAtqc 'SELECT count(*) FROM coldtrace.eval_queue')" = 0 ] && break
	sleep 0.2
done

say "What arrived, per shipment"
psql -X -q -P pager=off <<'SQL'
SELECT s.id AS shipment,
       (SELECT count(*) FROM coldtrace.readings r WHERE r.shipment_id = s.id) AS readings,
       (SELECT count(*) FROM coldtrace.events e WHERE e.shipment_id = s.id) AS events,
       (SELECT round(min(t_product)::numeric, 1) FROM coldtrace.readings r WHERE r.shipment_id = s.id) AS min_product_c,
       (SELECT round(max(t_product)::numeric, 1) FROM coldtrace.readings r WHERE r.shipment_id = s.id) AS max_product_c,
       (SELECT count(*) FROM coldtrace.dead_letters d
          JOIN coldtrace.device_assignments a ON a.device_id = d.device_id
         WHERE a.shipment_id = s.id) AS dead_letters,
       (SELECT count(*) FROM coldtrace.data_gaps g WHERE g.shipment_id = s.id) AS gaps
  FROM coldtrace.shipments s ORDER BY s.id;
SQL
say "Cold chain per shipment (product probe)"
psql -X -q -P pager=off <<'SQL'
SELECT f.shipment_id AS shipment, f.samples, round(f.min_c::numeric, 1) AS min_c,
       round(f.max_c::numeric, 1) AS max_c, round(f.mean_c::numeric, 2) AS mean_c,
       round(f.mkt_c::numeric, 2) AS mkt_c, round(f.time_above_s / 60.0) AS min_above_warning,
       round(f.degree_minutes::numeric) AS degree_min, round(100 * f.coverage::numeric, 1) AS coverage_pct,
       round(f.remaining_life_days::numeric, 1) AS life_left_days, s.status
  FROM coldtrace.shipment_figures f JOIN coldtrace.shipments s ON s.id = f.shipment_id
 WHERE f.lot_key = '' ORDER BY 1;
SQL
say "Excursions"
psql -X -q -P pager=off <<'SQL'
SELECT shipment_id AS shipment, id, direction, severity, state, phase,
       to_char(started_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS start_cst,
       to_char(ended_at AT TIME ZONE 'Asia/Shanghai', 'HH24:MI') AS end_cst,
       duration_s / 60 AS minutes, round(peak_c::numeric, 1) AS peak_c, threshold_c,
       round(degree_minutes::numeric) AS degree_min
  FROM coldtrace.excursions ORDER BY shipment_id, started_at;
SQL
for _ in $(seq 1 100); do
	[ "$(psql -XAtqc 'SELECT count(*) FROM coldtrace.alerts WHERE published_at IS NULL')" = 0 ] && break
	sleep 0.2
done
echo "alerts published on coldtrace/v1/alerts/#: $(grep -c . "$RUN/alerts.log")  (see ${RUN#$REPO/}/alerts.log)"

say "Devices"
for n in 1 2 3; do "$BIN/coldtrace" device status "gz-reefer-000$n"; echo; done

say "Trace of the reefer-failure lot, farm to store"
"$BIN/coldtrace" trace "$LOT_REEFER"

say "Buyer reports of the three trips (signed; checked with coldtrace verify)"
mkdir -p "$RUN/reports"
for spec in "normal $LOT_NORMAL" "reefer $LOT_REEFER" "deadzone $LOT_DEADZONE"; do
	read -r name lot <<<"$spec"
	for f in "html en xhtml" "html zh-Hans zh-Hans.xhtml" "html zh-Hant zh-Hant.xhtml" "csv en csv" "epcis en epcis.xml"; do
		read -r format lang ext <<<"$f"
		out=$RUN/reports/$name.$ext
		"$BIN/coldtrace" report --lot "$lot" --format "$format" --lang "$lang" -o "$out" 2>>"$RUN/cli.log"
		"$BIN/coldtrace" verify "$out" >/dev/null
		echo "  ${out#$REPO/}"
	done
done
echo "every report verified: coldtrace verify FILE (trusted key ${COLDTRACE_REPORT_PUBLIC_KEY_FILE#$REPO/})"

kill -TERM $ingest_pid $monitor_pid $sub_pid
wait $ingest_pid $monitor_pid 2>/dev/null || true
trap - EXIT
cat <<EOF

== Look further
  eval "\$(COLDTRACE_STACK_DIR=${COLDTRACE_STACK_DIR#$REPO/} contrib/devstack env)"
  build/bin/coldtrace shipment show SHP-DEMO-REEFER
  build/bin/coldtrace device status gz-reefer-0003 --json
  build/bin/coldtrace deadletters list
  build/bin/coldtrace qa list
  build/bin/coldtrace recall --farm 6970000000055 --from $(date -u -d '-1 day' +%Y-%m-%d) --to $(date -u +%Y-%m-%d)
  build/bin/coldtrace epcis export --lot $LOT_NORMAL
  open ${RUN#$REPO/}/reports/reefer.xhtml in a browser
  psql -c 'SELECT measured_at, t_supply, t_return, t_product FROM coldtrace.readings
           WHERE shipment_id = '"'"'SHP-DEMO-REEFER'"'"' ORDER BY measured_at'
  logs: ${RUN#$REPO/}/ingest.log, ${RUN#$REPO/}/trip-*.log
  COLDTRACE_STACK_DIR=${COLDTRACE_STACK_DIR#$REPO/} contrib/devstack stop
EOF
