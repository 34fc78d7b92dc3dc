#!/usr/bin/env bash
# `coldtrace report` (services/cli/cmd_report.c, rendering and signing in
# services/report/report.c), end to end against a real PostgreSQL:
#  - lot 19521234000010/GZ240501A (imported from ../shared/epcis's trip and master data, or,
#    without them, recorded with `coldtrace lot harvest|cool|pack`) and a shipment with
#    readings, written with -o as XHTML (en, zh-Hans, zh-Hant), FSMA 204 CSV and EPCIS 2.0;
#  - each one signed (stderr says so) and `coldtrace verify` says valid; the XHTML well-formed
#    (xmllint), the EPCIS valid against the GS1 XSD (SKIPPED without ../shared/epcis), the CSV
#    opening with the FSMA 204 header;
#  - one changed byte: verify INVALID; no report_key_file and no --unsigned: exit 1 naming
#    report_key_file; --unsigned: no trailer, verify says there is no signature;
#  - unknown lot or shipment: exit 1; bad --format, --lang or GTIN check digit: exit 2; -o never
#    overwrites; the same command twice gives the same bytes (Ed25519 is deterministic).
# REPORT_CLI_NO_SHARED=1 takes the path without ../shared/epcis even when it is there.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin report_cli

SHARED=$(cd "$HARNESS_REPO/.." && pwd)/shared/epcis
D=$HARNESS_DIR/docs
K=$HARNESS_DIR/keys
OUT=$HARNESS_DIR/out
ERR=$HARNESS_DIR/err
mkdir -p "$D" "$K"
GTIN=19521234000010
LOT=GZ240501A
SHP=SHP-RCLI
# The devstack hands out its own key pair: this test makes and names its own.
unset COLDTRACE_REPORT_KEY_FILE COLDTRACE_REPORT_PUBLIC_KEY_FILE
HAVE_SHARED=0
if [ "${REPORT_CLI_NO_SHARED:-0}" != 1 ] && [ -d "$SHARED/xsd" ] && [ -d "$SHARED/examples" ]; then
	HAVE_SHARED=1
	export COLDTRACE_EPCIS_SCHEMA_DIR=$SHARED/xsd
else
	note "SKIPPED: $SHARED absent: the lot is built with coldtrace lot commands, EPCIS is not schema-checked"
fi

rc_of() {
	"$@" >"$OUT" 2>"$ERR"
	echo $?
}

# ---- the scenario -------------------------------------------------------------------------
if [ "$HAVE_SHARED" = 1 ]; then
	assert_eq "import of the trip and its master data: exit 0" 0 \
		"$(rc_of coldtrace epcis import "$SHARED/examples/cc-guizhou-gba-masterdata.xml" \
			"$SHARED/examples/cc-guizhou-gba-choysum-trip.xml")"
	assert_match "the trip's 8 events stored" "total: 2 files, 0 failed, 8 new" "$(tail -n 1 "$OUT")"
else
	{
		coldtrace site add 9521234000013 --name "Highland farm" --kind farm &&
			coldtrace site add 9521234000020 --name "Guiyang packhouse" --kind packhouse &&
			coldtrace product add 09521234000099 --description "Choy sum, field bin" --commodity CHOY_SUM &&
			coldtrace product add "$GTIN" --description "Choy sum (菜心) 5 kg carton" --commodity CHOY_SUM &&
			coldtrace lot harvest 09521234000099/H240501-F03 --farm 9521234000013 --field F03 \
				--at 2024-04-30T20:30:00Z --qty 650 --uom KGM --country CN &&
			coldtrace lot cool 09521234000099/H240501-F03 --at 9521234000020 \
				--start 2024-05-01T01:00:00Z --method forced_air &&
			coldtrace lot pack "$GTIN/$LOT" --from 09521234000099/H240501-F03:650 \
				--at 9521234000020 --time 2024-05-01T03:00:00Z --qty 120 --uom CS \
				--best-before 2024-05-08
	} >"$OUT" 2>"$ERR"
	assert_eq "lot $LOT harvested, cooled and packed with coldtrace lot" 0 "$?" ||
		sed 's/^/#   /' "$ERR" | tail -n 5
fi
# A shipment with a 6 h leg of readings, a load and an unload of the lot, an excursion.
coldtrace site add 9521234000020 --name "Guiyang packhouse" --kind packhouse >/dev/null 2>&1 || true
coldtrace site add 9521234000037 --name "Shenzhen DC" --kind dc >/dev/null 2>&1 || true
coldtrace vehicle add TRK-9 --label "Reefer 9" --plate "贵A54321" >/dev/null
coldtrace shipment add "$SHP" --origin 9521234000020 --destination 9521234000037 --commodity CHOY_SUM >/dev/null ||
	fail "shipment $SHP added"
sql "INSERT INTO coldtrace.devices (id, password_hash, vehicle_id) VALUES ('reefer-9', 'x', 'TRK-9')" >/dev/null
coldtrace shipment assign "$SHP" --device reefer-9 --from 2024-05-01T00:00:00Z >/dev/null || fail "device assigned"
sql "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, t_product, t_return, rh, lat, lon)
     SELECT 'reefer-9', 10 + i, timestamptz '2024-05-01 04:00:00Z' + i * interval '1 minute',
            timestamptz '2024-05-01 10:00:00Z', '$SHP',
            CASE WHEN i BETWEEN 150 AND 180 THEN 6.5 ELSE 1.0 + (i % 3) * 0.5 END, 1.2, 90 + i % 5,
            26.5965 - 3.4 * i / 360.0, 106.7085 + 6.6 * i / 360.0
       FROM generate_series(0, 360) AS i;
     INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots)
     VALUES ('reefer-9', 1, '2024-05-01 03:50:00Z', '2024-05-01 10:00:00Z', '$SHP', 'load', '9521234000020',
             '[{\"gtin\": \"$GTIN\", \"lot\": \"$LOT\", \"qty\": 60, \"uom\": \"CS\"}]'),
            ('reefer-9', 500, '2024-05-01 10:10:00Z', '2024-05-01 10:10:00Z', '$SHP', 'unload', '9521234000037',
             '[{\"gtin\": \"$GTIN\", \"lot\": \"$LOT\", \"qty\": 60, \"uom\": \"CS\"}]');
     INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at, ended_at,
            threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('$SHP', 'above', 'warning', 'closed', '2024-05-01 06:30:00Z', '2024-05-01 07:00:00Z', 3, 6.5, 1800, 105, 'product', 'transit');
     INSERT INTO coldtrace.shipment_figures (shipment_id, lot_key, from_time, to_time, samples, min_c, max_c, mean_c, coverage, probe)
     VALUES ('$SHP', '', '2024-05-01 04:00:00Z', '2024-05-01 10:00:00Z', 361, 1.0, 6.5, 1.9, 0.998, 'product')" >/dev/null ||
	fail "shipment readings, events, excursion and figures inserted"

# ---- without a key ----------------------------------------------------------------------
assert_eq "no report_key_file, no --unsigned: exit 1" 1 \
	"$(rc_of coldtrace report --lot "$GTIN/$LOT" -o "$D/nokey.xhtml")"
assert_match "... and the message names report_key_file" "report_key_file" "$(cat "$ERR")"
assert_eq "... and nothing is written" no "$([ -e "$D/nokey.xhtml" ] && echo yes || echo no)"
assert_eq "--unsigned: exit 0" 0 "$(rc_of coldtrace report --unsigned --lot "$GTIN/$LOT" -o "$D/unsigned.xhtml")"
assert_match "--unsigned: stderr says UNSIGNED" "UNSIGNED" "$(cat "$ERR")"
assert_eq "--unsigned: no signature trailer" 0 "$(grep -c 'coldtrace-signature' "$D/unsigned.xhtml")"

# ---- keys -------------------------------------------------------------------------------
assert_eq "keys generate: exit 0" 0 \
	"$(rc_of coldtrace keys generate --secret-out "$K/report.key" --public-out "$K/report.pub")"
export COLDTRACE_REPORT_KEY_FILE=$K/report.key COLDTRACE_REPORT_PUBLIC_KEY_FILE=$K/report.pub
assert_match "verify of the unsigned report: INVALID, no signature" "INVALID: no signature" \
	"$(coldtrace verify "$D/unsigned.xhtml")"

# ---- signed reports ---------------------------------------------------------------------
# report NAME ARGS…: writes $D/NAME with -o; exit 0, "signed" on stderr, verify valid.
report() {
	local name=$1
	shift
	local rc
	rc=$(rc_of coldtrace report "$@" -o "$D/$name")
	assert_eq "report $* -o $name: exit 0" 0 "$rc" || { sed 's/^/#   /' "$ERR" | head -n 5; return 1; }
	assert_match "$name: stderr says signed" "^$D/$name: [0-9]+ bytes, signed$" "$(cat "$ERR")"
	assert_match "$name: verify says valid" "^$D/$name: valid \(sha256 [0-9a-f]{64}, key " \
		"$(coldtrace verify "$D/$name")"
}
for lang in en zh-Hans zh-Hant; do
	report "lot.$lang.xhtml" --lot "$GTIN/$LOT" --format html --lang "$lang"
done
report lot.csv --lot "$GTIN/$LOT" --format csv
report lot.xml --lot "$GTIN/$LOT" --format epcis
report shipment.en.xhtml --shipment "$SHP"
report shipment.zh-Hant.xhtml --shipment "$SHP" --lang zh-Hant
report shipment.csv --shipment "$SHP" --format csv
report shipment.xml --shipment "$SHP" --format epcis
report lot-dl.xhtml --lot "https://id.gs1.org/01/$GTIN/10/$LOT"
assert_ok "the lot by its Digital Link is the same report" cmp "$D/lot.en.xhtml" "$D/lot-dl.xhtml"

for f in lot.en.xhtml lot.zh-Hans.xhtml lot.zh-Hant.xhtml shipment.en.xhtml shipment.zh-Hant.xhtml; do
	assert_ok "$f is well-formed XML (xmllint)" xmllint --noout --nonet "$D/$f"
done
assert_match "lot.zh-Hans.xhtml is in Simplified Chinese" 'lang="zh-Hans"' "$(grep -o 'lang="zh-Hans"' "$D/lot.zh-Hans.xhtml" | head -n 1)"
assert_match "lot.zh-Hant.xhtml is in Traditional Chinese" '冷鏈追溯報告' "$(grep -o '冷鏈追溯報告' "$D/lot.zh-Hant.xhtml" | head -n 1)"
assert_match "the lot report names the lot" "$LOT" "$(grep -o "$LOT" "$D/lot.en.xhtml" | head -n 1)"
# (EPCIS names the logger as urn:coldtrace:device:… in its sensor metadata, by design.)
assert_eq "buyer-safe: no device id or plate in any XHTML or CSV report" "" \
	"$(grep -l -E 'reefer-9|贵A54321' "$D"/lot.*.xhtml "$D"/lot.csv "$D"/shipment.*.xhtml "$D"/shipment.csv)"
assert_eq "buyer-safe: no plate in the EPCIS reports" "" "$(grep -l '贵A54321' "$D"/lot.xml "$D"/shipment.xml)"
FSMA_HEADER='TLC GTIN,TLC lot,Product description,Commodity,Quantity,Unit of measure,Critical tracking event,Event date/time (UTC),Location name,Location GLN,Location address,Ship-from / immediate previous source,Ship-from / previous source GLN,Ship-to / immediate subsequent recipient,Ship-to / subsequent recipient GLN,TLC source,TLC source GLN,Field / growing area,Harvest date,Reference document type,Reference document number,Input TLCs (GTIN/lot quantity UOM),Shipment'
for f in lot.csv shipment.csv; do
	assert_eq "$f opens with the FSMA 204 header" "$FSMA_HEADER" "$(head -n 1 "$D/$f" | tr -d '\r')"
	assert_match "$f ends with the CSV signature line" "^#coldtrace-signature " "$(tail -n 1 "$D/$f")"
done
assert_match "lot.csv has the lot's rows" "^$GTIN,$LOT," "$(grep "^$GTIN,$LOT," "$D/lot.csv" | head -n 1)"
for f in lot.xml shipment.xml; do
	if [ "$HAVE_SHARED" = 1 ]; then
		assert_ok "$f validates against the EPCIS 2.0 XSD" \
			xmllint --noout --nonet --schema "$SHARED/xsd/EPCglobal-epcis-2_0.xsd" "$D/$f"
	else
		note "SKIPPED: $f against the EPCIS 2.0 XSD (no $SHARED)"
		assert_ok "$f is well-formed XML (xmllint)" xmllint --noout --nonet "$D/$f"
	fi
done
assert_match "the shipment's EPCIS has its leg summary" "urn:coldtrace:leg:$SHP" \
	"$(grep -o "urn:coldtrace:leg:$SHP" "$D/shipment.xml" | head -n 1)"

# ---- tampering ---------------------------------------------------------------------------
# One byte of the content changed (the first 'e' after byte 200 becomes 'E').
tamper() {
	python3 - "$1" "$2" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
i = data.index(b"e", 200)
data[i] = ord("E")
open(sys.argv[2], "wb").write(bytes(data))
EOF
}
for f in lot.en.xhtml lot.csv lot.xml; do
	tamper "$D/$f" "$D/tampered-$f"
	assert_eq "tampered-$f: verify exit 1" 1 "$(rc_of coldtrace verify "$D/tampered-$f")"
	assert_match "tampered-$f: verify says INVALID" "^$D/tampered-$f: INVALID" "$(cat "$OUT")"
done
assert_match "another key does not verify" "INVALID" \
	"$(coldtrace keys generate --secret-out "$K/other.key" --public-out "$K/other.pub" >/dev/null &&
		coldtrace verify --public-key "$K/other.pub" "$D/lot.en.xhtml")"

# ---- refusals -----------------------------------------------------------------------------
assert_eq "unknown lot: exit 1" 1 "$(rc_of coldtrace report --lot "$GTIN/NO-SUCH-LOT" -o "$D/none.xhtml")"
assert_match "unknown lot: the message names it" "NO-SUCH-LOT.*not found" "$(cat "$ERR")"
assert_eq "unknown lot: no file left" no "$([ -e "$D/none.xhtml" ] && echo yes || echo no)"
assert_eq "unknown shipment: exit 1" 1 "$(rc_of coldtrace report --shipment SHP-NONE --format csv)"
assert_eq "bad --format: exit 2" 2 "$(rc_of coldtrace report --lot "$GTIN/$LOT" --format pdf)"
assert_match "bad --format: the message names it" "--format 'pdf'" "$(cat "$ERR")"
assert_eq "bad --lang: exit 2" 2 "$(rc_of coldtrace report --lot "$GTIN/$LOT" --lang fr)"
assert_match "bad --lang: the message names it" "--lang 'fr'" "$(cat "$ERR")"
assert_eq "bad GTIN check digit: exit 2" 2 "$(rc_of coldtrace report --lot "19521234000011/$LOT")"
assert_match "bad GTIN check digit: the message names the lot" "19521234000011" "$(cat "$ERR")"
assert_eq "--lot and --shipment together: exit 2" 2 "$(rc_of coldtrace report --lot "$GTIN/$LOT" --shipment "$SHP")"
before=$(sha256sum <"$D/lot.csv")
assert_eq "-o onto an existing file: exit 1" 1 \
	"$(rc_of coldtrace report --lot "$GTIN/$LOT" --format csv -o "$D/lot.csv")"
assert_match "-o onto an existing file: refuses to overwrite" "already exists" "$(cat "$ERR")"
assert_eq "-o onto an existing file: the file is untouched" "$before" "$(sha256sum <"$D/lot.csv")"

# ---- deterministic -------------------------------------------------------------------------
for spec in "lot.en.xhtml --lot $GTIN/$LOT --format html --lang en" \
	"lot.zh-Hans.xhtml --lot $GTIN/$LOT --format html --lang zh-Hans" \
	"lot.csv --lot $GTIN/$LOT --format csv" "lot.xml --lot $GTIN/$LOT --format epcis" \
	"shipment.en.xhtml --shipment $SHP" "shipment.xml --shipment $SHP --format epcis"; do
	read -r -a args <<<"$spec"
	name=${args[0]}
	coldtrace report "${args[@]:1}" -o "$D/again-$name" 2>/dev/null
	assert_ok "$name: a second run writes the same bytes" cmp "$D/$name" "$D/again-$name"
done
assert_ok "standard output gives the same bytes as -o" \
	cmp "$D/lot.csv" <(coldtrace report --lot "$GTIN/$LOT" --format csv 2>/dev/null)

harness_end
