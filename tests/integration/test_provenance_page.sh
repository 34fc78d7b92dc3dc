#!/usr/bin/env bash
# The public provenance page (GET /01/{gtin}/10/{lot}) as a buyer sees it: the signed report's
# SHA-256 and key on the page match the report downloaded from the link beside them, and
# `coldtrace verify` accepts that download with the public key; the report downloads (HTML in
# each language, CSV, EPCIS) are public only for a public lot; the page in headless Chromium
# at phone width (390x844, 简体) and desktop width (1280x2000, English), kept as PNGs in
# $BUILD/test-artifacts/provenance/ and checked not blank (SKIPPED without chromium); the API
# configured from a config file, and serving HTTPS (libmicrohttpd's TLS) with certificates
# from contrib/tls/make-certs.sh, checked with curl --cacert.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin provenance_page

API=$COLDTRACE_BIN_DIR/coldtrace-api
REPO=$HARNESS_REPO
PORT=${COLDTRACE_API_PORT:-18090}
BASE=http://127.0.0.1:$PORT
GTIN=16912345678909
LOT=L2611
PAGE=$BASE/01/$GTIN/10/$LOT
ART=${ARTIFACTS_DIR:-$REPO/${BUILD:-build}/test-artifacts/provenance}
OUT=$HARNESS_DIR/out
HDR=$HARNESS_DIR/headers
mkdir -p "$ART"

code() { # code URL [curl args…]: the status; body in $OUT, headers in $HDR
	local u=$1
	shift
	curl -s -o "$OUT" -D "$HDR" -w '%{http_code}' --max-time 20 "$@" "$u"
}

# ---- data: a public lot on a trip with an excursion and a QA decision; a private lot --------
coldtrace org add GrowerA --kind grower >/dev/null
coldtrace org add RetailB --kind retailer >/dev/null
coldtrace site add 6970000000017 --name "贵阳包装厂 Guiyang packhouse" --kind packhouse --org GrowerA --lat 26.6 --lon 106.7 >/dev/null
coldtrace site add 6970000000024 --name "广州配送中心 Guangzhou DC" --kind dc --org RetailB --lat 23.1 --lon 113.3 >/dev/null
coldtrace shipment add SHP-1 --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM >/dev/null
sql "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, t_product, lat, lon)
     SELECT 'dev-1', g, now() - interval '8 hours' + g * interval '1 minute', now(), 'SHP-1',
            2 + CASE WHEN g BETWEEN 180 AND 240 THEN 5 * sin((g - 180) / 60.0 * pi()) ELSE sin(g / 30.0) END,
            26.6 - g * 0.007 + 0.05 * sin(g / 40.0), 106.7 + g * 0.013 FROM generate_series(1, 480) g" >/dev/null
sql "INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at, ended_at,
            threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-1', 'above', 'major', 'closed', now() - interval '5 hours', now() - interval '4 hours',
             4, 7.0, 3600, 110, 'product', 'transit')" >/dev/null
sql "INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots)
     VALUES ('dev-1', 1000, now() - interval '8 hours', now(), 'SHP-1', 'load', '6970000000017',
             '[{\"gtin\": \"$GTIN\", \"lot\": \"$LOT\", \"qty\": 120, \"uom\": \"CS\"}]'),
            ('dev-1', 1001, now() - interval '10 minutes', now(), 'SHP-1', 'unload', '6970000000024',
             '[{\"gtin\": \"$GTIN\", \"lot\": \"$LOT\", \"qty\": 120, \"uom\": \"CS\"}]')" >/dev/null
sql "INSERT INTO coldtrace.products (gtin, description, commodity) VALUES ('$GTIN', '菜心 Choy sum, 5 kg case', 'CHOY_SUM')" >/dev/null
sql "INSERT INTO coldtrace.lots (gtin, lot, owner_org_id, farm_gln, public, country, field, harvest_start, harvest_end, quantity, uom, best_before)
     SELECT '$GTIN', '$LOT', id, '6970000000017', true, 'CN', 'Field 7', now() - interval '14 hours',
            now() - interval '10 hours', 120, 'CS', current_date + 7 FROM coldtrace.organisations WHERE name = 'GrowerA'" >/dev/null
sql "INSERT INTO coldtrace.lots (gtin, lot, owner_org_id, public)
     SELECT '16912345678916', 'SECRET', id, false FROM coldtrace.organisations WHERE name = 'GrowerA'" >/dev/null
sql "INSERT INTO coldtrace.certifications (site_gln, scheme, number, issuer) VALUES ('6970000000017', '圳品', 'SZ-2026-001', 'Shenzhen')" >/dev/null
coldtrace qa dispose shipment --shipment SHP-1 --decision release --reason "MKT within limits" --as qa-alice >/dev/null 2>&1 ||
	note "qa dispose failed (the page then shows no decision)"

# ---- the API, configured by a file ---------------------------------------------------------------
coldtrace keys generate --secret-out "$HARNESS_DIR/report.key" --public-out "$HARNESS_DIR/report.pub" >/dev/null 2>&1
assert_ok "a report signing key" test -s "$HARNESS_DIR/report.key"
cat >"$HARNESS_DIR/api.conf" <<EOF
api_port = $PORT
api_threads = 2
api_public_cache_ms = 500
report_key_file = $HARNESS_DIR/report.key
EOF
# Not from the environment (devstack env exports COLDTRACE_API_PORT and its own report key, and
# the environment would win over the file).
HARNESS_SPAWN_NAME=api harness_spawn env -u COLDTRACE_API_PORT -u COLDTRACE_REPORT_KEY_FILE \
	"$API" --config "$HARNESS_DIR/api.conf"
API_PID=$SPAWNED_PID
wait_for "API on port $PORT (api_port from the config file)" 20 curl -sf -o /dev/null "$BASE/healthz" &&
	pass "API up on $PORT from api_port in the config file"
assert_eq "out-of-range api_threads refused with exit 2" 2 \
	"$("$API" --api-threads=0 >/dev/null 2>&1; echo $?)"

# ---- the page: signature and downloads ------------------------------------------------------------
assert_eq "page 200" 200 "$(code "$PAGE" -H 'Accept: text/html')"
cp "$OUT" "$HARNESS_DIR/page-en.xhtml"
PAGE_SHA=$(python3 -c 'import re, sys; t = open(sys.argv[1]).read(); m = re.search(r"<code>([0-9a-f]{64})</code>", t); print(m.group(1) if m else "")' "$OUT")
PAGE_KEY=$(python3 -c 'import re, sys; t = open(sys.argv[1]).read(); m = re.search(r"<code>([A-Za-z0-9+/]{43}=)</code>", t); print(m.group(1) if m else "")' "$OUT")
assert_match "the page shows a SHA-256 digest" '^[0-9a-f]{64}$' "$PAGE_SHA"
assert_eq "the page shows the signing key" "$(cat "$HARNESS_DIR/report.pub")" "$PAGE_KEY"
assert_match "the page links the signed report of its language" 'href="\?format=html&amp;lang=en"' "$(cat "$OUT")"
for l in en zh-Hans zh-Hant; do
	assert_match "download link: report in $l" "href=\"\\?format=html&amp;lang=$l\"" "$(cat "$OUT")"
done
assert_match "download links: CSV, EPCIS, JSON" 'format=csv.*format=epcis.*format=json' "$(tr -d '\n' <"$OUT")"
assert_ok "the page is well-formed XHTML without script" python3 -c 'import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1]); assert not d.getElementsByTagName("script"); assert d.getElementsByTagName("svg")' "$OUT"

assert_eq "signed HTML report download" 200 "$(code "$PAGE?format=html&lang=en")"
assert_match "as an attachment" 'attachment; filename="lot-16912345678909-L2611-en.xhtml"' "$(tr -d '\r' <"$HDR")"
cp "$OUT" "$HARNESS_DIR/report-en.xhtml"
assert_match "its trailer carries the digest the page shows" "sha256=$PAGE_SHA " "$(tail -n 1 "$OUT")"
assert_ok "coldtrace verify accepts the download with the public key" \
	coldtrace verify "$HARNESS_DIR/report-en.xhtml" --public-key "$HARNESS_DIR/report.pub"
code "$PAGE?lang=zh-Hant" -H 'Accept: text/html' >/dev/null
assert_match "the 繁體 page shows its own report's digest" "$(tail -n 1 <(curl -s "$PAGE?format=html&lang=zh-Hant") | sed -E 's/.*sha256=([0-9a-f]{64}).*/\1/')" "$(cat "$OUT")"
assert_match "繁體 page" '報告簽名' "$(cat "$OUT")"
assert_eq "CSV download" 200 "$(code "$PAGE?format=csv")"
cp "$OUT" "$HARNESS_DIR/report.csv"
assert_match "CSV media type" 'Content-Type: text/csv' "$(tr -d '\r' <"$HDR")"
assert_ok "the CSV verifies" coldtrace verify "$HARNESS_DIR/report.csv" --public-key "$HARNESS_DIR/report.pub"
assert_eq "EPCIS download" 200 "$(code "$PAGE?format=epcis")"
assert_match "EPCIS document" 'EPCISDocument' "$(head -c 2000 "$OUT")"
assert_eq "JSON via ?format=json" 200 "$(code "$PAGE?format=json")"
assert_eq "unknown format: 400" 400 "$(code "$PAGE?format=pdf")"
assert_eq "bad lang: 400" 400 "$(code "$PAGE?format=html&lang=fr")"
for f in html csv epcis json; do
	st=$(code "$BASE/01/16912345678916/10/SECRET?format=$f")
	if [ "$st" = 404 ] && ! grep -q 'SECRET' "$OUT"; then
		pass "a private lot's $f download: 404"
	else
		fail "a private lot's $f download: $st $(head -c 200 "$OUT")"
	fi
done

# ---- screenshots ------------------------------------------------------------------------------
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
shot() { # shot NAME WxH URL
	local png=$ART/$1.png profile
	profile=$(mktemp -d "$HARNESS_DIR/chromium.XXXXXX")
	rm -f "$png"
	timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --hide-scrollbars \
		--user-data-dir="$profile" --no-first-run --disable-extensions --disable-background-networking \
		--window-size="${2/x/,}" --screenshot="$png" "$3" >"$HARNESS_DIR/logs/chromium-$1.log" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] || [ ! -s "$png" ]; then
		fail "chromium screenshot $1 (exit $rc, log $HARNESS_DIR/logs/chromium-$1.log)"
		return
	fi
	local verdict
	verdict=$("$REPO/contrib/report-screenshot.sh" --check "$png")
	assert_eq "screenshot $1 ($2) is not blank: $png" ok "$verdict"
}
if [ -x "$CHROMIUM" ]; then
	shot phone-zh-Hans 390x844 "$PAGE?lang=zh-Hans"
	shot phone-zh-Hans-full 390x3200 "$PAGE?lang=zh-Hans"
	shot desktop-en 1280x2000 "$PAGE?lang=en"
else
	note "SKIPPED: screenshots ($CHROMIUM absent)"
fi

# ---- HTTPS with libmicrohttpd ------------------------------------------------------------------
TLS=$HARNESS_DIR/tls
TPORT=$((PORT + 1))
if "$REPO/contrib/tls/make-certs.sh" "$TLS" >"$HARNESS_DIR/logs/make-certs.log" 2>&1; then
	HARNESS_SPAWN_NAME=api-tls harness_spawn env COLDTRACE_API_TLS_CERTFILE="$TLS/server.crt" \
		COLDTRACE_API_TLS_KEYFILE="$TLS/server.key" "$API" --api-port "$TPORT" --api-threads 1
	TLS_PID=$SPAWNED_PID
	wait_for "HTTPS API on $TPORT" 20 curl -sf -o /dev/null --cacert "$TLS/ca.crt" "https://localhost:$TPORT/healthz" &&
		pass "HTTPS: /healthz verifies against the local CA"
	assert_eq "HTTPS: the public JSON" 200 \
		"$(curl -s -o /dev/null -w '%{http_code}' --cacert "$TLS/ca.crt" -H 'Accept: application/json' "https://localhost:$TPORT/01/$GTIN/10/$LOT")"
	assert_fails "HTTPS: an unknown CA is refused by the client" curl -sf -o /dev/null "https://localhost:$TPORT/healthz"
	assert_fails "HTTPS port: plain HTTP gets no HTTP answer" curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$TPORT/healthz"
	stop_pid "$TLS_PID"
	assert_eq "HTTPS API: clean exit" 0 $?
	assert_eq "a certificate without its key is refused (exit 2)" 2 \
		"$("$API" --api-tls-certfile "$TLS/server.crt" >/dev/null 2>&1; echo $?)"
else
	fail "make-certs.sh (log $HARNESS_DIR/logs/make-certs.log)"
fi

stop_pid "$API_PID"
assert_eq "SIGTERM: clean exit" 0 $?
harness_end
