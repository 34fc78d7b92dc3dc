#!/usr/bin/env bash
# coldtrace-api end to end, with its security: the OpenAPI document and the route table agree;
# as the API's database role nothing is visible without the per-request settings; tokens
# (missing, malformed, wrong secret, revoked → 401); every route of another organisation's
# shipment or lot answers 404 and never its data, for reads and for QA actions; SQL-injection
# strings in every parameter change nothing; oversized (413) and malformed (400) bodies; a
# client that sends half a request is dropped after the connection timeout; XXE, external DTDs
# and billion laughs in EPCIS capture are refused; the provenance page is served to browsers
# (XHTML, three languages) and JSON to clients, only for public lots; /healthz and /metrics.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin api

API=$COLDTRACE_BIN_DIR/coldtrace-api
REPO=$HARNESS_REPO
export COLDTRACE_API_PORT=${COLDTRACE_API_PORT:-18080}
export COLDTRACE_API_TOKEN_CACHE_S=1 COLDTRACE_API_TIMEOUT_S=2 COLDTRACE_API_MAX_BODY=65536
BASE=http://127.0.0.1:$COLDTRACE_API_PORT
GTIN=16912345678909
LOT=L2611
OUT=$HARNESS_DIR/api.out

# code METHOD URL [curl args…]: prints the status; the body goes to $OUT.
code() {
	local m=$1 u=$2
	shift 2
	curl -s -o "$OUT" -w '%{http_code}' -X "$m" --max-time 10 "$@" "$u"
}
jget() {
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$OUT" "$1"
}

# ---- data: two organisations' shipments, a public lot, users and tokens --------------------
coldtrace org add GrowerA --kind grower >/dev/null
coldtrace org add RetailB --kind retailer >/dev/null
coldtrace org add RetailC --kind retailer >/dev/null
coldtrace org add GrowerD --kind grower >/dev/null
coldtrace site add 6970000000017 --name "Guiyang packhouse" --kind packhouse --org GrowerA --lat 26.6 --lon 106.7 >/dev/null
coldtrace site add 6970000000024 --name "Guangzhou DC" --kind dc --org RetailB --lat 23.1 --lon 113.3 >/dev/null
coldtrace site add 6970000000031 --name "Shenzhen DC" --kind dc --org RetailC --lat 22.5 --lon 114.0 >/dev/null
coldtrace shipment add SHP-1 --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM >/dev/null
coldtrace shipment add SHP-2 --origin 6970000000017 --destination 6970000000031 --commodity CHOY_SUM >/dev/null
sql "UPDATE coldtrace.shipments SET owner_org_id = (SELECT id FROM coldtrace.organisations WHERE name = 'GrowerD') WHERE id = 'SHP-2'"
sql "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, t_product, lat, lon)
     SELECT 'dev-1', g, now() - interval '8 hours' + g * interval '1 minute', now(), 'SHP-1',
            2 + sin(g / 30.0), 26.6 - g * 0.007, 106.7 + g * 0.013 FROM generate_series(1, 480) g"
sql "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, t_product)
     VALUES ('dev-2', 1, now() - interval '1 hour', now(), 'SHP-2', 99.5)"
EXC1=$(sql "INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at, ended_at,
            threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-1', 'above', 'major', 'closed', now() - interval '5 hours', now() - interval '4 hours',
             2, 7.5, 3600, 110, 'product', 'transit') RETURNING id")
EXC2=$(sql "INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at,
            threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-2', 'above', 'critical', 'open', now() - interval '1 hour', 2, 99.5, 600, 6, 'product', 'transit')
     RETURNING id")
sql "INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots)
     VALUES ('dev-1', 1000, now() - interval '8 hours', now(), 'SHP-1', 'load', '6970000000017',
             '[{\"gtin\": \"$GTIN\", \"lot\": \"$LOT\", \"qty\": 120, \"uom\": \"CS\"}]'),
            ('dev-2', 1000, now() - interval '2 hours', now(), 'SHP-2', 'load', '6970000000017',
             '[{\"gtin\": \"16912345678916\", \"lot\": \"SECRET\", \"qty\": 5, \"uom\": \"CS\"}]')"
sql "INSERT INTO coldtrace.lots (gtin, lot, owner_org_id, farm_gln, public, country)
     SELECT '$GTIN', '$LOT', id, '6970000000017', true, 'CN' FROM coldtrace.organisations WHERE name = 'GrowerA'"
sql "INSERT INTO coldtrace.lots (gtin, lot, owner_org_id, public)
     SELECT '16912345678916', 'SECRET', id, false FROM coldtrace.organisations WHERE name = 'GrowerD'"
sql "INSERT INTO coldtrace.certifications (site_gln, scheme, number, issuer) VALUES ('6970000000017', '圳品', 'SZ-2026-001', 'Shenzhen')"

coldtrace user add qa-alice --org GrowerA --role qa >/dev/null
coldtrace user add buyer-bob --org RetailB --role retailer >/dev/null
coldtrace user add buyer-carol --org RetailC --role retailer >/dev/null
coldtrace user add qa-dan --org GrowerD --role qa >/dev/null
coldtrace user add admin-dan --org GrowerD --role admin >/dev/null
TQA=$(coldtrace token create qa-alice 2>/dev/null)
TB=$(coldtrace token create buyer-bob 2>/dev/null)
TC=$(coldtrace token create buyer-carol 2>/dev/null)
TD=$(coldtrace token create qa-dan 2>/dev/null)
TAD=$(coldtrace token create admin-dan 2>/dev/null)
assert_match "token create prints ID.SECRET once" '^[0-9]+\.[A-Za-z0-9_-]{43}$' "$TQA"
assert_match "only the argon2id hash is stored" '^\$argon2id\$' \
	"$(sql "SELECT secret_hash FROM coldtrace.api_tokens ORDER BY id LIMIT 1")"
assert_eq "the secret is not stored" 0 \
	"$(sql "SELECT count(*) FROM coldtrace.api_tokens WHERE secret_hash LIKE '%${TQA#*.}%'")"

# ---- row-level security underneath ---------------------------------------------------------
assert_eq "as coldtrace_api without settings: no shipment, reading, lot or excursion" "0|0|0|0" \
	"$(sql "SET ROLE coldtrace_api; SELECT (SELECT count(*) FROM coldtrace.shipments), (SELECT count(*) FROM coldtrace.readings),
		(SELECT count(*) FROM coldtrace.lots), (SELECT count(*) FROM coldtrace.excursions)")"
assert_eq "coldtrace_api can neither bypass RLS nor log in" "f|f|f" \
	"$(sql "SELECT rolsuper, rolbypassrls, rolcanlogin FROM pg_roles WHERE rolname = 'coldtrace_api'")"
assert_fails "coldtrace_api cannot read tokens" sql "SET ROLE coldtrace_api; SELECT * FROM coldtrace.api_tokens"
assert_fails "coldtrace_api cannot insert readings" sql "SET ROLE coldtrace_api; INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at) VALUES ('x', 1, now(), now())"
assert_eq "the table owner (ingest, CLI) still sees everything" 2 "$(sql "SELECT count(*) FROM coldtrace.shipments")"

# ---- start -----------------------------------------------------------------------------------
harness_spawn "$API"
API_PID=$SPAWNED_PID
wait_for "API accepts on port $COLDTRACE_API_PORT" 20 curl -sf -o /dev/null "$BASE/healthz" &&
	pass "API up on $COLDTRACE_API_PORT"

# ---- OpenAPI document vs route table -------------------------------------------------------
ROUTES=$("$API" --routes)
assert_eq "every route is in openapi.json and every documented operation is a route" "" \
	"$(python3 -c 'import json, sys
doc = json.load(open(sys.argv[1]))
documented = {m.upper() + " " + p for p, ops in doc["paths"].items() for m in ops}
routes = set(l for l in sys.argv[2].splitlines() if l)
print(" ".join(sorted(documented ^ routes)))' "$REPO/services/api/openapi.json" "$ROUTES")"
assert_ge "route table has the documented routes" 15 "$(echo "$ROUTES" | wc -l)"

# ---- tokens ----------------------------------------------------------------------------------
assert_eq "no token: 401" 401 "$(code GET "$BASE/v1/shipments")"
assert_eq "malformed token: 401" 401 "$(code GET "$BASE/v1/shipments" -H 'Authorization: Bearer nonsense')"
assert_eq "wrong secret: 401" 401 "$(code GET "$BASE/v1/shipments" -H "Authorization: Bearer ${TQA%%.*}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")"
assert_eq "unknown id: 401" 401 "$(code GET "$BASE/v1/shipments" -H "Authorization: Bearer 999.${TQA#*.}")"
assert_eq "Basic auth: 401" 401 "$(code GET "$BASE/v1/shipments" -u "qa-alice:x")"
assert_eq "valid token: 200" 200 "$(code GET "$BASE/v1/shipments" -H "Authorization: Bearer $TQA")"
TR=$(coldtrace token create buyer-bob 2>/dev/null)
assert_eq "second token works" 200 "$(code GET "$BASE/v1/shipments" -H "Authorization: Bearer $TR")"
coldtrace token revoke "${TR%%.*}" >/dev/null
wait_for "revoked token refused within the cache ttl" 10 \
	bash -c "[ \"\$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer $TR' $BASE/v1/shipments)\" = 401 ]" &&
	pass "revoked token: 401"

# ---- reads by scope ----------------------------------------------------------------------
A=(-H "Authorization: Bearer $TQA")
B=(-H "Authorization: Bearer $TB")
C=(-H "Authorization: Bearer $TC")
D=(-H "Authorization: Bearer $TD")
code GET "$BASE/v1/shipments" "${A[@]}" >/dev/null
assert_eq "qa of GrowerA lists its own shipment only" '["SHP-1"]' "$(jget '[s["id"] for s in d]')"
code GET "$BASE/v1/shipments" "${B[@]}" >/dev/null
assert_eq "retailer RetailB lists the shipment delivered to it" '["SHP-1"]' "$(jget '[s["id"] for s in d]')"
code GET "$BASE/v1/shipments" "${C[@]}" >/dev/null
assert_eq "retailer RetailC: SHP-2 delivered to it" '["SHP-2"]' "$(jget '[s["id"] for s in d]')"
assert_eq "detail 200" 200 "$(code GET "$BASE/v1/shipments/SHP-1" "${B[@]}")"
assert_eq "detail: 480 readings, lot listed" "480 $LOT" "$(jget 'str(d["readings"]) + " " + d["lots"][0]["lot"]')"
assert_eq "readings downsampled" 200 "$(code GET "$BASE/v1/shipments/SHP-1/readings?max_points=50" "${B[@]}")"
assert_eq "readings: ≤ 50 points of 480, downsampled" "true 480 True" "$(jget 'json.dumps(d["downsampled"]) + " " + str(d["readings"]) + " " + str(len(d["points"]) <= 50)')"
assert_eq "readings in a range" 200 "$(code GET "$BASE/v1/shipments/SHP-1/readings?from=2000-01-01T00:00:00Z&to=2000-01-02T00:00:00Z" "${B[@]}")"
assert_eq "readings in an empty range: none" 0 "$(jget 'd["readings"]')"
assert_eq "readings: bad time 400" 400 "$(code GET "$BASE/v1/shipments/SHP-1/readings?from=yesterday" "${B[@]}")"
assert_eq "readings: bad max_points 400" 400 "$(code GET "$BASE/v1/shipments/SHP-1/readings?max_points=-1" "${B[@]}")"
assert_eq "route GeoJSON" 200 "$(code GET "$BASE/v1/shipments/SHP-1/route?max_points=20" "${B[@]}")"
assert_eq "route is a LineString of ≤ 20 points" "LineString True" "$(jget 'd["geometry"]["type"] + " " + str(2 <= len(d["geometry"]["coordinates"]) <= 20)')"
assert_eq "QA view" 200 "$(code GET "$BASE/v1/shipments/SHP-1/qa" "${A[@]}")"
assert_eq "excursions of the caller's shipments only" "excursion:$EXC1" \
	"$(code GET "$BASE/v1/excursions?all=true" "${A[@]}" >/dev/null; jget '" ".join(i["target"] for i in d if i["target"].startswith("excursion"))')"
assert_eq "lot provenance" 200 "$(code GET "$BASE/v1/lots/$GTIN/$LOT" "${B[@]}")"
assert_eq "lot provenance: one leg with its excursion and farm certification" "SHP-1 1 圳品" \
	"$(jget 'd["legs"][0]["shipment"] + " " + str(len(d["legs"][0]["excursions"])) + " " + d["farm"]["certifications"][0]["scheme"]')"
assert_eq "lot trace" 200 "$(code GET "$BASE/v1/lots/$GTIN/$LOT/trace" "${B[@]}")"
assert_eq "lot recall" 200 "$(code GET "$BASE/v1/lots/$GTIN/$LOT/recall" "${B[@]}")"
for f in csv epcis html; do
	assert_eq "shipment report $f" 200 "$(code GET "$BASE/v1/shipments/SHP-1/report?format=$f" "${B[@]}")"
done
assert_eq "lot report html in zh-Hant" 200 "$(code GET "$BASE/v1/lots/$GTIN/$LOT/report?lang=zh-Hant" "${B[@]}")"
assert_eq "report: bad format 400" 400 "$(code GET "$BASE/v1/shipments/SHP-1/report?format=pdf" "${B[@]}")"

# ---- cross-organisation: every route, reads and writes → 404, never the data ---------------
for u in /v1/shipments/SHP-2 /v1/shipments/SHP-2/readings /v1/shipments/SHP-2/route /v1/shipments/SHP-2/qa \
	/v1/shipments/SHP-2/audit "/v1/shipments/SHP-2/report?format=csv" "/v1/shipments/SHP-2/report?format=epcis" \
	/v1/lots/16912345678916/SECRET /v1/lots/16912345678916/SECRET/trace /v1/lots/16912345678916/SECRET/recall \
	"/v1/lots/16912345678916/SECRET/report?format=csv" /01/16912345678916/10/SECRET "/01/16912345678916/10/SECRET?format=json"; do
	st=$(code GET "$BASE$u" "${B[@]}")
	if [ "$st" = 404 ] && ! grep -q '99.5\|SECRET\|GrowerD' "$OUT"; then
		pass "another organisation's $u: 404 without its data"
	else
		fail "another organisation's $u: got $st: $(head -c 200 "$OUT")"
	fi
done
code GET "$BASE/v1/excursions?shipment=SHP-2" "${B[@]}" >/dev/null
assert_eq "excursions of another organisation's shipment: nothing" "" "$(grep -o "excursion:$EXC2" "$OUT")"
assert_eq "QA action on another organisation's shipment: 404" 404 \
	"$(code POST "$BASE/v1/shipments/SHP-2/actions" "${A[@]}" -H 'Content-Type: application/json' \
		-d "{\"target\":\"excursion:$EXC2\",\"action\":\"acknowledge\"}")"
assert_eq "QA action naming another shipment's excursion: 404" 404 \
	"$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d "{\"target\":\"excursion:$EXC2\",\"action\":\"acknowledge\"}")"
assert_eq "no QA action was recorded on SHP-2" 0 "$(sql "SELECT count(*) FROM coldtrace.qa_actions WHERE shipment_id = 'SHP-2'")"
assert_eq "retailer may not act: 403" 403 \
	"$(code POST "$BASE/v1/shipments/SHP-1/actions" "${B[@]}" -d "{\"target\":\"excursion:$EXC1\",\"action\":\"acknowledge\"}")"

# ---- QA actions through the API --------------------------------------------------------------
assert_eq "acknowledge: 201" 201 \
	"$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d "{\"target\":\"excursion:$EXC1\",\"action\":\"acknowledge\",\"reason\":\"seen\"}")"
assert_eq "the actor is the token's user" qa-alice "$(jget 'd["actor"]')"
assert_eq "disposition: 201" 201 \
	"$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '{"target":"shipment","action":"disposition","disposition":"release","reason":"within MKT"}')"
assert_eq "flag then flag again: 409" "201 409" \
	"$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '{"target":"shipment","action":"flag","reason":"check"}') $(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '{"target":"shipment","action":"flag","reason":"check"}')"
assert_eq "disposition without a reason: 400" 400 \
	"$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '{"target":"shipment","action":"disposition","disposition":"hold"}')"
assert_eq "audit log has the actions with their actor" "qa-alice" \
	"$(code GET "$BASE/v1/shipments/SHP-1/audit" "${A[@]}" >/dev/null; jget '",".join(sorted(set(a["actor"] for a in d)))')"
assert_eq "the provenance shows the decision by pseudonym, not the name" "yes" \
	"$(code GET "$BASE/v1/lots/$GTIN/$LOT" "${B[@]}" >/dev/null; grep -q '"QA-' "$OUT" && ! grep -q 'qa-alice' "$OUT" && echo yes)"

# ---- malformed and oversized bodies ----------------------------------------------------------
assert_eq "malformed JSON: 400" 400 "$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '{"target":')"
assert_eq "JSON array body: 400" 400 "$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '[1,2]')"
assert_eq "empty body: 400" 400 "$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -d '')"
assert_eq "NUL in body: 400" 400 "$(printf '{"target":"shipment","action":"comment","reason":"a\0b"}' | code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" --data-binary @-)"
head -c 200000 /dev/zero | tr '\0' 'a' >"$HARNESS_DIR/big"
assert_eq "oversized body (Content-Length): 413" 413 "$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" --data-binary @"$HARNESS_DIR/big")"
assert_eq "oversized chunked body: 413" 413 "$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" -H 'Transfer-Encoding: chunked' --data-binary @"$HARNESS_DIR/big")"
assert_eq "GET with a body: 400" 400 "$(code GET "$BASE/v1/shipments" "${A[@]}" --data-binary 'x')"
assert_eq "wrong method: 405" 405 "$(code DELETE "$BASE/v1/shipments/SHP-1" "${A[@]}")"
assert_eq "unknown path: 404" 404 "$(code GET "$BASE/v2/nothing" "${A[@]}")"
assert_eq "bad escape in path: 400" 400 "$(code GET "$BASE/v1/shipments/%zz" "${A[@]}")"
assert_eq "encoded NUL in path: 400" 400 "$(code GET "$BASE/v1/shipments/a%00b" "${A[@]}")"

# ---- SQL injection in every parameter --------------------------------------------------------
BEFORE=$(sql "SELECT (SELECT count(*) FROM coldtrace.shipments) || '/' || (SELECT count(*) FROM coldtrace.qa_actions)")
for inj in "' OR '1'='1" "SHP-1' OR 1=1--" "1; DROP TABLE coldtrace.readings;--" '") OR true--' "\$1" "SHP-1%27%3B%20SELECT%20pg_sleep(5)--"; do
	e=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$inj")
	for u in "/v1/shipments/$e" "/v1/shipments/$e/readings" "/v1/shipments/$e/route" "/v1/shipments/$e/qa" \
		"/v1/shipments/$e/audit" "/v1/shipments/$e/report" "/v1/lots/$GTIN/$e" "/v1/lots/$e/$LOT/trace" \
		"/v1/lots/$GTIN/$e/recall" "/01/$GTIN/10/$e" "/v1/shipments?status=$e" "/v1/shipments?limit=$e" \
		"/v1/excursions?shipment=$e" "/v1/shipments/SHP-1/readings?from=$e" "/v1/shipments/SHP-1/report?lang=$e" \
		"/v1/lots/$GTIN/$LOT/recall?from_sources=$e"; do
		st=$(code GET "$BASE$u" "${C[@]}")
		case "$st" in
		400 | 404) ;;
		*) fail "injection $u: status $st: $(head -c 200 "$OUT")" ;;
		esac
	done
	st=$(code POST "$BASE/v1/shipments/SHP-1/actions" "${A[@]}" \
		-d "$(python3 -c 'import json, sys; print(json.dumps({"target": sys.argv[1], "action": sys.argv[1], "reason": sys.argv[1]}))' "$inj")")
	[ "$st" = 400 ] || fail "injection in the action body: status $st"
done
pass "SQL-injection strings in every parameter: only 400 or 404"
assert_eq "nothing changed by the injection attempts" "$BEFORE" \
	"$(sql "SELECT (SELECT count(*) FROM coldtrace.shipments) || '/' || (SELECT count(*) FROM coldtrace.qa_actions)")"
assert_eq "readings table still there" 481 "$(sql "SELECT count(*) FROM coldtrace.readings")"

# ---- slow clients ----------------------------------------------------------------------------
python3 - "$COLDTRACE_API_PORT" >"$HARNESS_DIR/slow.out" 2>&1 <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /v1/shipments HTTP/1.1\r\nHost: x\r\n")  # half a request, then silence
s.settimeout(15)
t = time.monotonic()
try:
    data = s.recv(100)
except socket.timeout:
    print("still open after 15 s"); sys.exit(1)
print("closed after %.1f s" % (time.monotonic() - t)); sys.exit(0 if not data or b"408" in data or time.monotonic() - t < 10 else 1)
PY
assert_eq "a client sending half a request is dropped by the connection timeout" 0 $?
assert_eq "server still serves after the slow client" 200 "$(code GET "$BASE/healthz")"

# ---- EPCIS capture: XXE, external DTD, billion laughs ----------------------------------------
AD=(-H "Authorization: Bearer $TAD" -H 'Content-Type: application/xml')
cat >"$HARNESS_DIR/xxe.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE epcis [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"><EPCISBody><EventList><ObjectEvent><eventTime>2026-01-01T00:00:00Z</eventTime><eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action><bizStep>&xxe;</bizStep></ObjectEvent></EventList></EPCISBody></epcis:EPCISDocument>
X
cat >"$HARNESS_DIR/dtd.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE epcis:EPCISDocument SYSTEM "http://127.0.0.1:9/evil.dtd">
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-01-01T00:00:00Z"/>
X
python3 - "$HARNESS_DIR/laughs.xml" <<'PY'
import sys
ents = '<!ENTITY lol0 "lol">' + "".join('<!ENTITY lol%d "%s">' % (i, ("&lol%d;" % (i - 1)) * 10) for i in range(1, 10))
open(sys.argv[1], "w").write('<?xml version="1.0"?>\n<!DOCTYPE lolz [' + ents + ']>\n<lolz>&lol9;</lolz>\n')
PY
for f in xxe dtd laughs; do
	st=$(code POST "$BASE/v1/epcis/capture" "${AD[@]}" --data-binary @"$HARNESS_DIR/$f.xml")
	if [ "$st" = 400 ] && ! grep -q 'root:' "$OUT"; then
		pass "EPCIS capture refuses $f (400)"
	else
		fail "EPCIS capture of $f: $st $(head -c 200 "$OUT")"
	fi
done
assert_eq "capture is for admins: qa gets 403" 403 "$(code POST "$BASE/v1/epcis/capture" "${D[@]}" --data-binary @"$HARNESS_DIR/dtd.xml")"
assert_eq "nothing captured" 0 "$(sql "SELECT count(*) FROM coldtrace.trace_events WHERE origin = 'epcis'")"

# ---- GS1 Digital Link and the provenance page ------------------------------------------------
assert_eq "JSON for a client that asks" 200 "$(code GET "$BASE/01/$GTIN/10/$LOT" -H 'Accept: application/json')"
assert_eq "public JSON: the lot and its leg" "$LOT SHP-1" "$(jget 'd["lot"] + " " + d["legs"][0]["shipment"]')"
assert_eq "XHTML for a browser" 200 "$(code GET "$BASE/01/$GTIN/10/$LOT" -H 'Accept: text/html,application/xhtml+xml;q=0.9,*/*;q=0.8')"
assert_ok "the page is well-formed XHTML without script" python3 -c 'import sys, xml.dom.minidom as m
d = m.parse(sys.argv[1]); assert not d.getElementsByTagName("script"); assert d.getElementsByTagName("svg")' "$OUT"
assert_match "English by default" 'lang="en"' "$(head -c 400 "$OUT")"
code GET "$BASE/01/$GTIN/10/$LOT" -H 'Accept: text/html' -H 'Accept-Language: zh-CN,zh;q=0.9' >/dev/null
assert_match "简体 from Accept-Language" '产品溯源' "$(cat "$OUT")"
code GET "$BASE/01/$GTIN/10/$LOT?lang=zh-Hant" -H 'Accept: text/html' -H 'Accept-Language: zh-CN' >/dev/null
assert_match "繁體 by ?lang=" '產品溯源' "$(cat "$OUT")"
assert_match "certification on the page" '圳品' "$(cat "$OUT")"
assert_eq "not public: 404" 404 "$(code GET "$BASE/01/16912345678916/10/SECRET" -H 'Accept: application/json')"
assert_eq "bad check digit: 404" 404 "$(code GET "$BASE/01/16912345678900/10/$LOT")"
cp "$OUT" "$HARNESS_DIR/page-404.json"

# ---- health and metrics ----------------------------------------------------------------------
assert_eq "/metrics" 200 "$(code GET "$BASE/metrics")"
assert_match "requests by route and status" 'coldtrace_api_requests_total\{route="GET /v1/shipments",status="200"\} [0-9]+' "$(cat "$OUT")"
assert_match "latency histogram" 'coldtrace_api_request_duration_seconds_bucket\{route="GET /v1/shipments/\{id\}",le="\+Inf"\}' "$(cat "$OUT")"
assert_match "401s counted" 'status="401"' "$(cat "$OUT")"
assert_match "ingest figures" 'coldtrace_ingest_dead_letters_open 0' "$(cat "$OUT")"
assert_match "db errors counter" 'coldtrace_api_db_errors_total [0-9]+' "$(cat "$OUT")"

stop_pid "$API_PID"
assert_eq "SIGTERM: clean exit" 0 $?
harness_end
