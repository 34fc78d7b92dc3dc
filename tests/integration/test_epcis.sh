#!/usr/bin/env bash
# EPCIS 2.0 capture and export through `coldtrace epcis`:
#  - every document of ../shared/epcis/examples imports without error (master data through
#    the master-data schema), counting its events as new; a second import finds all known;
#  - each broken document of tests/fixtures/epcis/invalid/ is refused with "FILE:LINE:
#    problem" naming the problem, exit 1, and nothing stored (XXE and entity bombs included);
#  - the export of lot GZ240501A (cc-guizhou-gba-choysum-trip.xml) holds its harvest,
#    cooling, packing, palletising, shipping and receiving events, validates against the
#    XSD, and export → import → export is byte-identical, into a fresh database and into the
#    same one;
#  - the export of a shipment with device readings has one generated per-leg summary (min,
#    max, mean, coverage, excursions) that validates, and a re-import does not duplicate it.
# Schema checks need ../shared/epcis (GS1 files, not in the repository): without it they are
# reported as SKIPPED, not passed.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin epcis

SHARED=$(cd "$HARNESS_REPO/.." && pwd)/shared/epcis
FIX=$HARNESS_REPO/tests/fixtures/epcis
OUT=$HARNESS_DIR/out
ERR=$HARNESS_DIR/err
mkdir -p "$HARNESS_DIR/docs"
HAVE_SHARED=0
if [ -d "$SHARED/xsd" ] && [ -d "$SHARED/examples" ]; then
	HAVE_SHARED=1
	export COLDTRACE_EPCIS_SCHEMA_DIR=$SHARED/xsd
else
	note "SKIPPED: $SHARED absent: example imports and schema validation are not checked"
fi

rc_of() {
	"$@" >"$OUT" 2>"$ERR"
	echo $?
}

# xsd_valid FILE: validates an exported document with xmllint (offline) against the XSD.
xsd_valid() {
	xmllint --noout --nonet --schema "$SHARED/xsd/EPCglobal-epcis-2_0.xsd" "$1"
}

events_count() { sql "SELECT count(*) FROM coldtrace.trace_events" "$@"; }

# ---- the schema directory must exist ----------------------------------------------------
assert_eq "import with a missing schema dir: exit 1" 1 \
	"$(rc_of coldtrace epcis import --epcis-schema-dir=/nonexistent "$FIX/invalid/wrong-root.xml")"
assert_match "import with a missing schema dir names the setting" "epcis_schema_dir" "$(cat "$ERR")"

# ---- every example imports ----------------------------------------------------------------
if [ "$HAVE_SHARED" = 1 ]; then
	mapfile -t EXAMPLES < <(ls "$SHARED"/examples/*.xml)
	assert_eq "import of the ${#EXAMPLES[@]} examples: exit 0" 0 \
		"$(rc_of coldtrace epcis import "${EXAMPLES[@]}")"
	sed 's/^/#   /' "$OUT" | tail -n 3
	grep -q . "$ERR" && sed 's/^/#   stderr: /' "$ERR" | head -n 5
	assert_match "every example imported, none failed" "^total: ${#EXAMPLES[@]} files, 0 failed" \
		"$(tail -n 1 "$OUT")"
	NEW=$(sed -nE 's/^total: .* ([0-9]+) new, ([0-9]+) known.*/\1/p' "$OUT")
	KNOWN=$(sed -nE 's/^total: .* ([0-9]+) new, ([0-9]+) known.*/\2/p' "$OUT")
	# 66 events in the 30 files; an event repeated word for word in two files is one event.
	assert_eq "examples: every event counted once, new or known" 66 "$((NEW + KNOWN))"
	assert_ge "examples: events stored" 60 "$NEW"
	grep -v ' 0 known' "$OUT" | grep -v '^total' | sed 's/^/#   already known: /'
	assert_eq "examples: every event stored once" "$NEW" "$(events_count)"
	note "examples: $(tail -n 1 "$OUT")"
	assert_eq "the trip document: 8 new events" 1 \
		"$(grep -c 'cc-guizhou-gba-choysum-trip.xml: 8 new, 0 known events' "$OUT")"
	assert_eq "the master data: 3 locations and 1 product" 1 \
		"$(grep -c 'cc-guizhou-gba-masterdata.xml: 0 new, 0 known events, 4 vocabulary elements' "$OUT")"
	assert_eq "second import: exit 0" 0 "$(rc_of coldtrace epcis import "${EXAMPLES[@]}")"
	assert_match "second import: all known, none new" "total: ${#EXAMPLES[@]} files, 0 failed, 0 new, 66 known" \
		"$(tail -n 1 "$OUT")"
	assert_eq "second import stored nothing" "$NEW" "$(events_count)"
	assert_eq "site from master data (FSMA location description)" \
		"Example Highland Vegetable Farm|Weining|Guizhou|CN|1 Example Road, 553100|26.87" \
		"$(sql "SELECT name, city, region, country, address, lat FROM coldtrace.sites WHERE gln = '9521234000013'")"
	assert_eq "product from EPCClass master data" "Choy sum (菜心) 5 kg carton" \
		"$(sql "SELECT description FROM coldtrace.products WHERE gtin = '19521234000010'")"
	assert_eq "bulk lot from the harvest ILMD: farm, field, harvest, origin" \
		"9521234000013|F03|2024-04-30 20:30:00+00|CN" \
		"$(sql "SET timezone = 'UTC'; SELECT farm_gln, field, harvest_start, country FROM coldtrace.lots WHERE gtin = '09521234000099' AND lot = 'H240501-F03'")"
	assert_eq "case lot from the packing ILMD: best before" "2024-05-08|120" \
		"$(sql "SELECT best_before, quantity FROM coldtrace.lots WHERE gtin = '19521234000010' AND lot = 'GZ240501A'")"
	assert_eq "shipping event: columns" "shipping|in_transit|9521234000020|9521234000037|3" \
		"$(sql "SELECT biz_step, disposition, src_gln, dest_gln, jsonb_array_length(biz_transactions)
		          FROM coldtrace.trace_events e JOIN coldtrace.trace_items i ON i.event_id = e.id
		         WHERE i.sscc = '095212340000000013' AND biz_step = 'shipping'")"
	assert_eq "unmodelled elements kept (sensorElementList, cc:trip)" 1 \
		"$(sql "SELECT count(*) FROM coldtrace.trace_events WHERE extra_xml LIKE '%<sensorElementList%' AND extra_xml LIKE '%<cc:trip xmlns:cc=%'")"
else
	note "SKIPPED: import of the examples"
fi

# ---- broken documents -------------------------------------------------------------------
before=$(events_count)
declare -A WANT=(
	[malformed-xml]='ObjectEvnt|mismatch'
	[event-time-without-offset]="eventTime"
	[bizstep-before-action]="bizStep.*not expected|action"
	[unknown-cbv-bizstep]="bizStep .*'harvesting' is not a CBV 2.0 term"
	[unknown-cbv-disposition-after-a-good-event]="'in_progres' is not a CBV 2.0 term"
	[bad-gtin-check-digit-in-lgtin]="wrong GTIN check digit"
	[sscc-wrong-length]="number of digits"
	[unknown-sensor-uom]="uom 'DEG'"
	[doctype-xxe]="DOCTYPE not allowed"
	[doctype-external-dtd]="DOCTYPE not allowed"
	[billion-laughs]="DOCTYPE not allowed"
	[wrong-root]="EPCISQueryDocument.*not an EPCIS 2.0 EPCISDocument"
)
for f in "$FIX"/invalid/*.xml; do
	name=$(basename "$f" .xml)
	want=${WANT[$name]:-}
	if [ -z "$want" ]; then
		fail "fixture $name has no expected message in this test"
		continue
	fi
	if [ "$HAVE_SHARED" = 0 ] && [[ "$name" =~ ^(event-time-without-offset|bizstep-before-action)$ ]]; then
		note "SKIPPED: $name (needs the schema)"
		continue
	fi
	args=()
	[ "$HAVE_SHARED" = 1 ] || args=(--no-schema)
	start=$(harness__now_us)
	rc=$(rc_of coldtrace epcis import "${args[@]}" "$f")
	ms=$((($(harness__now_us) - start) / 1000))
	msg=$(head -n 1 "$ERR")
	assert_eq "$name: refused with exit 1" 1 "$rc"
	assert_match "$name: 'FILE:LINE: problem' naming the problem ($msg)" \
		"^$f:[1-9][0-9]*: .*($want)" "$msg"
	[ "$ms" -lt 2000 ] || fail "$name: took ${ms} ms (entity expansion?)"
done
assert_eq "broken documents stored nothing" "$before" "$(events_count)"
assert_eq "the good event before a bad one is not stored either" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.trace_items WHERE epc = 'urn:epc:id:sscc:9521234.0000000002' OR sscc = '095212340000000013' AND event_id IN (SELECT id FROM coldtrace.trace_events WHERE document LIKE '%invalid%')")"
args=()
[ "$HAVE_SHARED" = 1 ] || args=(--no-schema)
assert_match "libxml2 prints nothing of its own on stderr" "^$FIX/invalid/billion-laughs.xml:[0-9]+: DOCTYPE" \
	"$(coldtrace epcis import "${args[@]}" "$FIX/invalid/billion-laughs.xml" 2>&1 >/dev/null | tr '\n' ' ')"

# ---- export of a lot: round trip ---------------------------------------------------------
if [ "$HAVE_SHARED" = 1 ]; then
	D=$HARNESS_DIR/docs
	start=$(harness__now_us)
	assert_eq "export --lot 19521234000010/GZ240501A: exit 0" 0 \
		"$(rc_of coldtrace epcis export --lot 19521234000010/GZ240501A -o "$D/lot1.xml")"
	note "lot export took $((($(harness__now_us) - start) / 1000)) ms, $(wc -c <"$D/lot1.xml") bytes"
	for step in commissioning storing packing shipping receiving unpacking; do
		assert_eq "lot export holds the $step event" 1 \
			"$(grep -c "<bizStep>urn:epcglobal:cbv:bizstep:$step</bizStep>" "$D/lot1.xml" | awk '{print ($1 >= 1)}')"
	done
	assert_eq "lot export: harvest (ObjectEvent ADD with ILMD) and packing (TransformationEvent)" "1 1" \
		"$(grep -c '<cbvmda:harvestStartDate>' "$D/lot1.xml" | awk '{print ($1 >= 1)}') $(grep -c '<TransformationEvent>' "$D/lot1.xml")"
	assert_eq "lot export: the 8 events of the trip" 8 "$(grep -c '<eventID>' "$D/lot1.xml")"
	assert_ok "lot export validates against the EPCIS 2.0 XSD" xsd_valid "$D/lot1.xml"
	assert_eq "lot export twice: identical bytes" "" "$(coldtrace epcis export --lot 19521234000010/GZ240501A | cmp - "$D/lot1.xml")"
	# The golden file (UPDATE_GOLDEN=1 rewrites it after a deliberate change of the format).
	golden=$HARNESS_REPO/tests/fixtures/epcis/golden/lot-GZ240501A.xml
	[ "${UPDATE_GOLDEN:-}" = 1 ] && cp "$D/lot1.xml" "$golden"
	assert_ok "lot export matches tests/fixtures/epcis/golden/lot-GZ240501A.xml" cmp "$golden" "$D/lot1.xml"
	assert_eq "lot export by Digital Link: identical" "" \
		"$(coldtrace epcis export --lot https://id.gs1.org/01/19521234000010/10/GZ240501A | cmp - "$D/lot1.xml")"
	assert_eq "re-import into the same database: all known" "0 new, 8 known" \
		"$(coldtrace epcis import "$D/lot1.xml" | sed -nE 's/.*: ([0-9]+ new, [0-9]+ known) events.*/\1/p' | head -n 1)"
	coldtrace epcis export --lot 19521234000010/GZ240501A -o "$D/lot2.xml"
	assert_ok "export → import (same database) → export: byte-identical" cmp "$D/lot1.xml" "$D/lot2.xml"
	# A fresh database: the exported document alone.
	sql "CREATE DATABASE fresh" >/dev/null
	PGDATABASE=fresh coldtrace db migrate >/dev/null 2>&1
	assert_eq "import into a fresh database: 8 new" "8 new, 0 known" \
		"$(PGDATABASE=fresh coldtrace epcis import "$D/lot1.xml" | sed -nE 's/.*: ([0-9]+ new, [0-9]+ known) events.*/\1/p' | head -n 1)"
	PGDATABASE=fresh coldtrace epcis export --lot 19521234000010/GZ240501A -o "$D/lot3.xml"
	assert_ok "export → import (fresh database) → export: byte-identical" cmp "$D/lot1.xml" "$D/lot3.xml"
	cmp -s "$D/lot1.xml" "$D/lot3.xml" || diff "$D/lot1.xml" "$D/lot3.xml" | head -n 20 | sed 's/^/#   /'
else
	note "SKIPPED: lot export round trip and its schema validation"
fi

# ---- export of a shipment with readings ---------------------------------------------------
coldtrace site add 9521234000020 --name "Guiyang packhouse" --kind packhouse >/dev/null 2>&1 || true
coldtrace site add 9521234000037 --name "Shenzhen DC" --kind dc >/dev/null 2>&1 || true
coldtrace vehicle add TRK-7 --label "Reefer 7" --plate "贵A12345" >/dev/null
coldtrace shipment add SHP-EPCIS --origin 9521234000020 --destination 9521234000037 --commodity CHOY_SUM >/dev/null
sql "INSERT INTO coldtrace.devices (id, password_hash, vehicle_id) VALUES ('reefer-7', 'x', 'TRK-7')"
coldtrace shipment assign SHP-EPCIS --device reefer-7 --from 2024-06-01T00:00:00Z >/dev/null
# A 6 h leg, one reading a minute, warm for 30 min in the middle; load and unload events.
sql "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, t_product, t_return, rh)
     SELECT 'reefer-7', 10 + i, timestamptz '2024-06-01 04:00:00Z' + i * interval '1 minute', now(), 'SHP-EPCIS',
            CASE WHEN i BETWEEN 150 AND 180 THEN 6.5 ELSE 1.0 + (i % 3) * 0.5 END, 1.2, 90 + i % 5
       FROM generate_series(0, 360) AS i"
sql "INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots, sscc)
     VALUES ('reefer-7', 1, '2024-06-01 03:50:00Z', now(), 'SHP-EPCIS', 'load', '9521234000020',
             '[{\"gtin\": \"19521234000010\", \"lot\": \"GZ240601A\", \"qty\": 60, \"uom\": \"CS\"}]', '{095212340000000020}'),
            ('reefer-7', 500, '2024-06-01 10:10:00Z', now(), 'SHP-EPCIS', 'unload', '9521234000037',
             '[{\"gtin\": \"19521234000010\", \"lot\": \"GZ240601A\", \"qty\": 60, \"uom\": \"CS\"}]', '{095212340000000020}')"
sql "INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at, ended_at,
            threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-EPCIS', 'above', 'warning', 'closed', '2024-06-01 06:30:00Z', '2024-06-01 07:00:00Z', 3, 6.5, 1800, 105, 'product', 'transit')" >/dev/null
sql "INSERT INTO coldtrace.shipment_figures (shipment_id, lot_key, from_time, to_time, samples, min_c, max_c, mean_c, coverage, probe)
     VALUES ('SHP-EPCIS', '', '2024-06-01 04:00:00Z', '2024-06-01 10:00:00Z', 361, 1.0, 6.5, 1.9, 0.998, 'product')"
S=$HARNESS_DIR/docs
start=$(harness__now_us)
assert_eq "export --shipment SHP-EPCIS: exit 0" 0 "$(rc_of coldtrace epcis export --shipment SHP-EPCIS -o "$S/shp1.xml")"
note "shipment export took $((($(harness__now_us) - start) / 1000)) ms"
LEG=$(python3 - "$S/shp1.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
d = ET.parse(sys.argv[1])
for ev in d.iter('ObjectEvent'):
    if ev.findtext('eventID') != 'urn:coldtrace:leg:SHP-EPCIS':
        continue
    els = ev.findall('sensorElementList/sensorElement')
    s = els[0]
    md = s.find('sensorMetadata')
    t = [r for r in s.findall('sensorReport') if r.get('type') == 'gs1:Temperature'][0]
    rh = [r for r in s.findall('sensorReport') if r.get('type') == 'gs1:RelativeHumidity']
    exc = [e.find('sensorReport') for e in els[1:]]
    print(ev.findtext('bizStep').split(':')[-1], ev.findtext('disposition').split(':')[-1],
          md.get('startTime'), md.get('endTime'), md.get('deviceID'),
          md.get('{urn:coldtrace:epcis}coverage'), t.get('minValue'), t.get('maxValue'),
          t.get('meanValue'), len(rh), len(exc),
          exc[0].get('exception') if exc else '-', exc[0].get('maxValue') if exc else '-',
          ev.findtext('epcList/epc'), ev.findtext('{urn:coldtrace:epcis}vehicle'))
PY
)
assert_eq "per-leg summary: min/max/mean, coverage, device as URN, 1 excursion, pallet, vehicle label" \
	"sensor_reporting in_transit 2024-06-01T04:00:00.000+00:00 2024-06-01T10:00:00.000+00:00 urn:coldtrace:device:reefer-7 0.998 1 6.5 1.9 1 1 gs1:ALARM_CONDITION 6.5 https://id.gs1.org/00/095212340000000020 Reefer 7" \
	"$LEG"
assert_eq "shipment export: shipping and receiving device events" "1 1" \
	"$(grep -c 'bizstep:shipping<' "$S/shp1.xml") $(grep -c 'bizstep:receiving<' "$S/shp1.xml")"
assert_eq "buyer-safe: no plate, no raw readings" "0 0" \
	"$(grep -c '贵A12345' "$S/shp1.xml") $(grep -c 'value="1.5"' "$S/shp1.xml")"
if [ "$HAVE_SHARED" = 1 ]; then
	assert_ok "shipment export validates against the EPCIS 2.0 XSD" xsd_valid "$S/shp1.xml"
	assert_eq "re-import of the shipment export: exit 0" 0 "$(rc_of coldtrace epcis import "$S/shp1.xml")"
	note "$(head -n 1 "$OUT")"
	coldtrace epcis export --shipment SHP-EPCIS -o "$S/shp2.xml"
	assert_eq "the leg event is not duplicated after its re-import" 1 \
		"$(grep -c '<eventID>urn:coldtrace:leg:SHP-EPCIS</eventID>' "$S/shp2.xml")"
	assert_ok "shipment export → import → export: byte-identical" cmp "$S/shp1.xml" "$S/shp2.xml"
else
	note "SKIPPED: shipment export schema validation and re-import"
fi

assert_eq "export of an unknown lot: exit 1" 1 "$(rc_of coldtrace epcis export --lot 19521234000010/NOPE)"
assert_eq "export with a bad GTIN check digit: exit 2" 2 "$(rc_of coldtrace epcis export --lot 19521234000011/GZ240501A)"
assert_eq "export of an unknown shipment: exit 1" 1 "$(rc_of coldtrace epcis export --shipment SHP-NONE)"

harness_end
