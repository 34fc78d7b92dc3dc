#!/usr/bin/env bash
# Traceability end to end through the CLI: master data (organisations, sites with their
# location description, a GBA supply-base registration, a 圳品 certification, products),
# harvest → cooling → packing, pallets, a split and a merge at the DC, two shipments whose
# device load/unload events are inserted as the ingest would (the trigger makes them trace
# events); then `coldtrace trace` backward and forward and `coldtrace recall` from a farm and
# a date range and from a lot, checked through --json; idempotent re-runs; error cases (a bad
# check digit is exit 2 naming the problem, an unknown lot exit 1).
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin trace

OUT=$HARNESS_DIR/trace.out
ERR=$HARNESS_DIR/trace.err
rc_of() {
	"$@" >"$OUT" 2>"$ERR"
	echo $?
}
# jget JSON PYTHON-EXPR: the expression over the parsed document d.
jget() {
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}
ok() { # ok DESC CMD…: exit 0, output logged
	assert_eq "$1" 0 "$(rc_of "${@:2}")" || sed 's/^/#   /' "$ERR"
}

FARM1=6970000000109 FARM2=6970000000208 PH=6970000000307 DC=6970000000406 STORE=6970000000505
BULK=19521234000010 CASE=19521234000027 SMALL=19521234000034
SSCC1=095212340000000013 SSCC2=095212340000000020

# ---- master data ------------------------------------------------------------------------
ok "org add grower" coldtrace org add "Guizhou Greens Co-op" --kind grower
ok "org add packer" coldtrace org add "Guiyang Pack" --kind packer
ok "org add retailer" coldtrace org add "Shenzhen Fresh Mart" --kind retailer
ok "site add farm with a location description" coldtrace site add $FARM1 --name "Kaiyang farm" \
	--kind farm --org "Guizhou Greens Co-op" --address "Nanjiang village" --city Guiyang \
	--region Guizhou --country CN --phone "+86 851 8800 0001"
ok "site add second farm" coldtrace site add $FARM2 --name "Xiuwen farm" --kind farm --country CN
ok "site add packhouse" coldtrace site add $PH --name "Guiyang packhouse" --kind packhouse --org "Guiyang Pack"
ok "site add DC" coldtrace site add $DC --name "Shenzhen DC" --kind dc
ok "site add store" coldtrace site add $STORE --name "Futian store" --kind store \
	--org "Shenzhen Fresh Mart" --city Shenzhen --country CN --phone "+86 755 0000 1234"
assert_eq "the site's location description is stored" "Guiyang|Guizhou|CN|+86 851 8800 0001" \
	"$(sql "SELECT concat_ws('|', city, region, country, phone) FROM coldtrace.sites WHERE gln = '$FARM1'")"
assert_eq "site add: bad country: exit 2" 2 "$(rc_of coldtrace site add 6970000000604 --name X --kind dc --country cn)"
ok "site register a GBA supply-base id" coldtrace site register $FARM1 --scheme gba_supply_base --id GBA-GZ-0042
ok "cert add 圳品" coldtrace cert add $FARM1 --scheme 圳品 --number SZP-2024-118 --issuer "Shenzhen SAMR" \
	--valid-from 2024-01-01 --valid-to 2026-12-31
assert_eq "cert add to an unknown site: exit 1" 1 "$(rc_of coldtrace cert add 6970000000604 --scheme X --number 1)"
assert_eq "cert add with a bad GLN check digit: exit 2" 2 "$(rc_of coldtrace cert add 6970000000105 --scheme X --number 1)"
ok "product add bulk (GTIN-13 normalised)" coldtrace product add 9521234000013 --description "Choy sum, field bins" --commodity CHOY_SUM
ok "product add cases" coldtrace product add $CASE --description "Choy sum 5 kg case" --commodity CHOY_SUM --org "Guiyang Pack"
ok "product add small packs" coldtrace product add $SMALL --description "Choy sum 500 g" --commodity CHOY_SUM
assert_eq "the GTIN-13 is stored as 14 digits" "09521234000013" \
	"$(sql "SELECT gtin FROM coldtrace.products WHERE description LIKE '%field bins'")"
BULK=09521234000013
assert_eq "product add with a wrong check digit: exit 2" 2 "$(rc_of coldtrace product add 19521234000011 --description X)"
assert_match "… naming the GTIN and the check digit" "19521234000011.*check digit" "$(cat "$ERR")"

# ---- harvest, cooling, packing -------------------------------------------------------------
ok "lot harvest H1" coldtrace lot harvest $BULK/H1 --farm $FARM1 --field F03 --at 2024-05-01T06:30:00+08:00 --qty 820 --uom KGM
ok "lot harvest H2 (Digital Link URI)" coldtrace lot harvest "https://id.gs1.org/01/$BULK/10/H2" --farm $FARM1 --field F04 --at 2024-05-02T06:00:00+08:00 --qty 500 --uom KGM
ok "lot harvest H3 at the other farm" coldtrace lot harvest $BULK/H3 --farm $FARM2 --field A1 --at 2024-05-01T07:00:00+08:00 --qty 300 --uom KGM
assert_eq "harvest again: exit 0" 0 "$(rc_of coldtrace lot harvest $BULK/H1 --farm $FARM1 --field F03 --at 2024-05-01T06:30:00+08:00 --qty 820 --uom KGM)"
assert_match "… saying it was already recorded" "already recorded" "$(cat "$OUT")"
assert_eq "… and recording one event" 1 "$(sql "SELECT count(*) FROM coldtrace.trace_items WHERE lot = 'H1'")"
assert_eq "harvest of the same lot with other data: exit 1" 1 "$(rc_of coldtrace lot harvest $BULK/H1 --farm $FARM1 --field F09 --at 2024-05-01T06:30:00+08:00 --qty 820 --uom KGM)"
assert_match "… the lot exists" "already exists" "$(cat "$ERR")"
assert_eq "harvest at a packhouse: exit 2" 2 "$(rc_of coldtrace lot harvest $BULK/HX --farm $PH --field F1 --at 2024-05-01T06:30:00+08:00 --qty 1 --uom KGM)"
assert_eq "harvest of an unknown product: exit 1" 1 "$(rc_of coldtrace lot harvest 19521234000041/HX --farm $FARM1 --field F1 --at 2024-05-01T06:30:00+08:00 --qty 1 --uom KGM)"
ok "lot cool H1" coldtrace lot cool $BULK/H1 --at $PH --start 2024-05-01T07:40:00+08:00 --method forced_air
assert_eq "the cooling event keeps its method" "storing|<ct:coolingMethod xmlns:ct=\"urn:coldtrace:epcis\">forced_air</ct:coolingMethod>" \
	"$(sql "SELECT biz_step || '|' || extra_xml FROM coldtrace.trace_events WHERE biz_step = 'storing'")"
ok "lot pack GZ1 from H1" coldtrace lot pack $CASE/GZ1 --from $BULK/H1:620 --at $PH --time 2024-05-01T10:20:00+08:00 --qty 120 --uom CS --best-before 2024-05-08
ok "lot pack GZ2 from H2 and H3" coldtrace lot pack $CASE/GZ2 --from $BULK/H2:500 --from $BULK/H3:300 --at $PH --time 2024-05-02T10:00:00+08:00 --qty 160 --uom CS
assert_eq "GZ1 inherits farm, field and harvest time" "$FARM1|F03|2024-04-30 22:30:00+00|2024-05-08" \
	"$(sql "SET TIME ZONE 'UTC'; SELECT concat_ws('|', farm_gln, field, harvest_start, best_before) FROM coldtrace.lots WHERE lot = 'GZ1'")"
assert_eq "GZ2 (two farms) names no farm" "-" "$(sql "SELECT coalesce(farm_gln, '-') FROM coldtrace.lots WHERE lot = 'GZ2'")"
ok "pallet build SSCC1" coldtrace pallet build $SSCC1 --lot $CASE/GZ1:120 --at $PH --time 2024-05-02T10:50:00+08:00
ok "pallet build SSCC2" coldtrace pallet build $SSCC2 --lot $CASE/GZ2:160 --at $PH --time 2024-05-02T10:55:00+08:00
assert_eq "pallet with a bad SSCC check digit: exit 2" 2 "$(rc_of coldtrace pallet build 095212340000000014 --lot $CASE/GZ1:1 --at $PH --time 2024-05-02T10:50:00+08:00)"

# ---- shipment A: packhouse → DC, pallets, device events --------------------------------------
ok "shipment add SHP-A" coldtrace shipment add SHP-A --origin $PH --destination $DC --commodity CHOY_SUM
sql "INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, sscc)
     VALUES ('dev-a', 1, '2024-05-02T12:00:00+08:00', now(), 'SHP-A', 'load', '$PH', '{$SSCC1,$SSCC2}'),
            ('dev-a', 2, '2024-05-02T20:00:00+08:00', now(), 'SHP-A', 'unload', '$DC', '{$SSCC1,$SSCC2}')"

# ---- split and merge at the DC ---------------------------------------------------------------
ok "lot transform: split GZ1" coldtrace lot transform --in $CASE/GZ1:120 --out $SMALL/GZ1A:60 --out $SMALL/GZ1B:60 --at $DC --time 2024-05-03T08:00:00+08:00 --uom CS
assert_match "… called a split" "split of 1 lot into 2 recorded" "$(cat "$OUT")"
ok "lot transform: merge GZ1B and part of GZ2" coldtrace lot transform --in $SMALL/GZ1B:60 --in $CASE/GZ2:40 --out $SMALL/MIX1:100 --at $DC --time 2024-05-03T09:00:00+08:00 --uom CS
assert_eq "transform with an output that exists: exit 1" 1 "$(rc_of coldtrace lot transform --in $SMALL/GZ1A:1 --out $SMALL/MIX1:1 --at $DC --time 2024-05-03T09:30:00+08:00)"
assert_eq "transform from an unknown lot: exit 1" 1 "$(rc_of coldtrace lot transform --in $SMALL/NOPE:1 --out $SMALL/NEW:1 --at $DC --time 2024-05-03T09:30:00+08:00)"
assert_eq "transform --in without a quantity: exit 2" 2 "$(rc_of coldtrace lot transform --in $SMALL/GZ1A --out $SMALL/NEW:1 --at $DC --time 2024-05-03T09:30:00+08:00)"

# ---- shipment B: DC → store, lots listed by the device ----------------------------------------
ok "shipment add SHP-B" coldtrace shipment add SHP-B --origin $DC --destination $STORE --commodity CHOY_SUM
LOTS_B="[{\"gtin\": \"$SMALL\", \"lot\": \"GZ1A\", \"qty\": 60, \"uom\": \"CS\"}, {\"gtin\": \"$SMALL\", \"lot\": \"MIX1\", \"qty\": 100, \"uom\": \"CS\"}]"
sql "INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots)
     VALUES ('dev-b', 1, '2024-05-03T10:00:00+08:00', now(), 'SHP-B', 'load', '$DC', '$LOTS_B'),
            ('dev-b', 2, '2024-05-03T14:00:00+08:00', now(), 'SHP-B', 'unload', '$STORE', '$LOTS_B')"

# ---- lot show / list / publish ----------------------------------------------------------------
ok "lot show GZ1 --json" coldtrace lot show $CASE/GZ1 --json
assert_eq "lot show: GZ1's events, oldest first" "initial_packing aggregation shipping receiving transformation" \
	"$(jget "$(cat "$OUT")" "' '.join(e['cte'] for e in d['events'])")"
assert_match "lot show (text) lists the events" "initial_packing" "$(coldtrace lot show $CASE/GZ1)"
assert_eq "lot list: 8 lots" 8 "$(jget "$(coldtrace lot list --json)" "len(d)")"
ok "lot publish" coldtrace lot publish $CASE/GZ1
assert_eq "… public" t "$(sql "SELECT public FROM coldtrace.lots WHERE lot = 'GZ1'")"
ok "lot publish --private" coldtrace lot publish $CASE/GZ1 --private
assert_eq "… private again" f "$(sql "SELECT public FROM coldtrace.lots WHERE lot = 'GZ1'")"

# ---- trace ------------------------------------------------------------------------------------
ok "trace MIX1 --json" coldtrace trace $SMALL/MIX1 --json
T=$(cat "$OUT")
assert_eq "backward: MIX1 ← GZ1B, GZ2 ← GZ1, H2, H3 ← H1, by depth" \
	"0:$SMALL/MIX1 1:$CASE/GZ2 1:$SMALL/GZ1B 2:$BULK/H2 2:$BULK/H3 2:$CASE/GZ1 3:$BULK/H1" \
	"$(jget "$T" "' '.join('%d:%s/%s' % (l['depth'], l['gtin'], l['lot']) for l in d['backward']['lots'])")"
assert_eq "backward: H1's harvest and cooling" "harvesting@$FARM1 cooling@$PH initial_packing@$PH" \
	"$(jget "$T" "' '.join(e['cte'] + '@' + e['site_gln'] for l in d['backward']['lots'] if l['lot'] == 'H1' for e in l['events'])")"
assert_eq "backward: farms with registration and certification" "$FARM1:gba_supply_base=GBA-GZ-0042:圳品 SZP-2024-118 2026-12-31 $FARM2::" \
	"$(jget "$T" "' '.join(f['gln'] + ':' + ','.join(r['scheme'] + '=' + r['id'] for r in f['registrations']) + ':' + ','.join(c['scheme'] + ' ' + c['number'] + ' ' + c['valid_to'] for c in f['certifications']) for f in d['backward']['farms'])")"
assert_eq "forward of MIX1: SHP-B to the store, 100 CS received" "$STORE:MIX1:100:CS:received:SHP-B" \
	"$(jget "$T" "' '.join('%s:%s:%s:%s:%s:%s' % (r['gln'], x['lot'], x['quantity'], x['uom'], x['status'], x['shipment_id']) for r in d['forward']['receivers'] for x in r['lots'])")"
ok "trace H1 (GTIN-13 form) --json" coldtrace trace 9521234000013/H1 --json
T=$(cat "$OUT")
assert_eq "forward of H1: every lot made of it" "0:H1 1:GZ1 2:GZ1A 2:GZ1B 3:MIX1" \
	"$(jget "$T" "' '.join('%d:%s' % (l['depth'], l['lot']) for l in d['forward']['lots'])")"
assert_eq "forward of H1: shipments with their lots and quantities" \
	"SHP-A:$PH>$DC:GZ1=120CS SHP-B:$DC>$STORE:GZ1A=60CS,MIX1=100CS" \
	"$(jget "$T" "' '.join('%s:%s>%s:%s' % (s['shipment_id'], s['from_gln'], s['to_gln'], ','.join('%s=%s%s' % (x['lot'], x['quantity'], x['uom']) for x in s['lots'])) for s in d['forward']['shipments'])")"
assert_eq "forward of H1: shipment times" "2024-05-02T04:00:00Z 2024-05-02T12:00:00Z" \
	"$(jget "$T" "d['forward']['shipments'][0]['shipped_at'] + ' ' + d['forward']['shipments'][0]['received_at']")"
assert_eq "forward of H1: receivers with quantities" \
	"$DC:GZ1=120@2024-05-02T12:00:00Z $STORE:GZ1A=60@2024-05-03T06:00:00Z $STORE:MIX1=100@2024-05-03T06:00:00Z" \
	"$(jget "$T" "' '.join('%s:%s=%s@%s' % (r['gln'], x['lot'], x['quantity'], x['received_at']) for r in d['forward']['receivers'] for x in r['lots'])")"
assert_eq "forward of H1: the store's organisation (the buyer)" "Shenzhen Fresh Mart" \
	"$(jget "$T" "[r['organisation'] for r in d['forward']['receivers'] if r['gln'] == '$STORE'][0]")"
assert_eq "forward of H1: sites reached, in order" "$FARM1 $PH $DC $STORE" \
	"$(jget "$T" "' '.join(s['gln'] for s in d['forward']['sites'])")"
assert_match "trace (text) shows the receivers" "Futian store" "$(coldtrace trace $BULK/H1)"
ok "trace by Digital Link URI" coldtrace trace "https://example.com/shop/01/$SMALL/10/GZ1A?17=240508" --json
assert_eq "… is the lot's trace" "GZ1A" "$(jget "$(cat "$OUT")" "d['lot']['lot']")"

# ---- recall -----------------------------------------------------------------------------------
ok "recall a farm's harvests of 1 May (local date) --json" coldtrace recall --farm $FARM1 --from 2024-05-01 --to 2024-05-01 --json
R=$(cat "$OUT")
assert_eq "implicated: H1 only (harvested 06:30+08:00, 30 April in UTC)" "H1" \
	"$(jget "$R" "' '.join(l['lot'] for l in d['implicated'])")"
assert_eq "affected lots" "H1 GZ1 GZ1A GZ1B MIX1" "$(jget "$R" "' '.join(l['lot'] for l in d['lots'])")"
assert_eq "sites to notify, lots, quantities" "$DC:GZ1=120CS:received $STORE:GZ1A=60CS:received $STORE:MIX1=100CS:received" \
	"$(jget "$R" "' '.join('%s:%s=%s%s:%s' % (r['gln'], x['lot'], x['quantity'], x['uom'], x['status']) for r in d['receivers'] for x in r['lots'])")"
assert_eq "summary" '{"implicated": 1, "lots": 5, "quantity_by_uom": {"CS": 280}, "receivers": 2, "shipments": 2}' \
	"$(jget "$R" "json.dumps(d['summary'], sort_keys=True)")"
ok "recall a farm over two days" coldtrace recall --farm $FARM1 --from 2024-05-01 --to 2024-05-02 --json
R=$(cat "$OUT")
assert_eq "… implicates H1 and H2, reaching GZ2 too" "H1 H2 GZ1 GZ2 GZ1A GZ1B MIX1" \
	"$(jget "$R" "' '.join(l['lot'] for l in d['lots'])")"
assert_eq "… the DC got GZ1 and GZ2" "GZ1=120 GZ2=160" \
	"$(jget "$R" "' '.join('%s=%s' % (x['lot'], x['quantity']) for r in d['receivers'] if r['gln'] == '$DC' for x in r['lots'])")"
ok "recall --lot GZ1A" coldtrace recall --lot $SMALL/GZ1A --json
assert_eq "… only GZ1A, at the store" "GZ1A|$STORE:GZ1A=60" \
	"$(jget "$(cat "$OUT")" "' '.join(l['lot'] for l in d['lots']) + '|' + ' '.join('%s:%s=%s' % (r['gln'], x['lot'], x['quantity']) for r in d['receivers'] for x in r['lots'])")"
ok "recall --lot GZ1A --from-sources" coldtrace recall --lot $SMALL/GZ1A --from-sources --json
assert_eq "… from its source H1, reaching its siblings" "H1|H1 GZ1 GZ1A GZ1B MIX1" \
	"$(jget "$(cat "$OUT")" "' '.join(l['lot'] for l in d['implicated']) + '|' + ' '.join(l['lot'] for l in d['lots'])")"
ok "recall --csv" coldtrace recall --farm $FARM1 --from 2024-05-01 --to 2024-05-01 --csv
assert_eq "csv: a header and one line per lot per site" 4 "$(grep -c . "$OUT")"
assert_eq "csv parses, with the store's phone" "+86 755 0000 1234" \
	"$(python3 -c 'import csv, sys; r = list(csv.DictReader(open(sys.argv[1]))); print([x["phone"] for x in r if x["lot"] == "MIX1"][0])' "$OUT")"
assert_match "recall (text) shows the sites to notify" "Futian store" "$(coldtrace recall --farm $FARM1 --from 2024-05-01 --to 2024-05-01)"
ok "recall of a farm with nothing harvested then" coldtrace recall --farm $FARM2 --from 2023-01-01 --to 2023-01-31 --json
assert_eq "… is empty" '{"implicated": 0, "lots": 0, "quantity_by_uom": {}, "receivers": 0, "shipments": 0}' \
	"$(jget "$(cat "$OUT")" "json.dumps(d['summary'], sort_keys=True)")"

# ---- errors -----------------------------------------------------------------------------------
assert_eq "trace of an unknown lot: exit 1" 1 "$(rc_of coldtrace trace $SMALL/NOPE)"
assert_match "… saying so" "not found" "$(cat "$ERR")"
assert_eq "trace with a bad GTIN check digit: exit 2" 2 "$(rc_of coldtrace trace 19521234000035/GZ1A)"
assert_match "… naming the check digit" "check digit" "$(cat "$ERR")"
assert_eq "trace with a lot of forbidden characters: exit 2" 2 "$(rc_of coldtrace trace "$SMALL/A B")"
assert_eq "recall of an unknown lot: exit 1" 1 "$(rc_of coldtrace recall --lot $SMALL/NOPE)"
assert_eq "recall with a bad farm GLN: exit 2" 2 "$(rc_of coldtrace recall --farm 6970000000100 --from 2024-05-01 --to 2024-05-01)"
assert_eq "recall of an unknown farm: exit 1" 1 "$(rc_of coldtrace recall --farm 6970000000604 --from 2024-05-01 --to 2024-05-01)"
assert_eq "recall with --farm and --lot: exit 2" 2 "$(rc_of coldtrace recall --farm $FARM1 --lot $SMALL/GZ1A)"
assert_eq "lot show of an unknown lot: exit 1" 1 "$(rc_of coldtrace lot show $SMALL/NOPE)"
assert_eq "lot cool with a time without offset: exit 2" 2 "$(rc_of coldtrace lot cool $BULK/H1 --at $PH --start 2024-05-01T07:40:00)"

harness_end
