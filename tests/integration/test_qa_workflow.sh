#!/usr/bin/env bash
# The QA workflow end to end through `coldtrace qa`: open excursions and gaps are listed;
# acknowledging, commenting, disposing and flagging work and each lands in the audit log with
# its actor and before/after; a target that is not the shipment's (another shipment's
# excursion, an unknown gap, a lot the shipment never carried) fails with exit 1 naming it; a
# missing --reason fails with exit 2; the database refuses UPDATE and DELETE on audit_log.
#
# The excursion, the data gaps and the load event are inserted with SQL: the monitor that
# computes excursions is written separately, and the QA commands only read its rows.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
harness_begin qa_workflow

export COLDTRACE_ACTOR=qa-alice
OUT=$HARNESS_DIR/qa.out
ERR=$HARNESS_DIR/qa.err
GTIN=16912345678909
LOT=L2611

# rc_of CMD…: prints CMD's exit status; its stdout goes to $OUT, its stderr to $ERR.
rc_of() {
	"$@" >"$OUT" 2>"$ERR"
	echo $?
}
# jget JSON PYTHON-EXPR: the expression over the parsed document d; strings bare, the rest as
# JSON (true, null, 3).
jget() {
	python3 -c 'import json, sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))' "$1" "$2"
}

coldtrace site add 6970000000017 --name "Guiyang packhouse" --kind packhouse >/dev/null
coldtrace site add 6970000000024 --name "Guangzhou DC" --kind dc >/dev/null
coldtrace site add 6970000000031 --name "Shenzhen DC" --kind dc >/dev/null
coldtrace shipment add SHP-1 --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM >/dev/null
coldtrace shipment add SHP-2 --origin 6970000000017 --destination 6970000000031 --commodity PEA_SHOOTS >/dev/null
assert_eq "two shipments set up with the CLI" 2 "$(sql "SELECT count(*) FROM coldtrace.shipments")"

EXC1=$(sql "INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at,
            ended_at, threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-1', 'above', 'major', 'closed', now() - interval '5 hours',
             now() - interval '4 hours 20 minutes', 2, 7.5, 2400, 110, 'product', 'transit')
     RETURNING id")
EXC2=$(sql "INSERT INTO coldtrace.excursions (shipment_id, direction, severity, state, started_at,
            threshold_c, peak_c, duration_s, degree_minutes, probe, phase)
     VALUES ('SHP-2', 'above', 'warning', 'open', now() - interval '1 hour', 2, 3.1, 600, 6,
             'product', 'transit')
     RETURNING id")
GAP1=$(sql "INSERT INTO coldtrace.data_gaps (device_id, shipment_id, from_seq, to_seq, from_time, to_time)
     VALUES ('gz-reefer-0042', 'SHP-1', 5, 9, now() - interval '3 hours',
             now() - interval '2 hours 40 minutes')
     RETURNING id")
GAP0=$(sql "INSERT INTO coldtrace.data_gaps (device_id, from_seq, to_seq, from_time, to_time)
     VALUES ('gz-reefer-0099', 1, 2, now() - interval '3 hours', now() - interval '2 hours')
     RETURNING id")
sql "INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type,
            site_gln, lots)
     VALUES ('gz-reefer-0042', 1, now() - interval '6 hours', now(), 'SHP-1', 'load',
             '6970000000017', '[{\"gtin\": \"$GTIN\", \"lot\": \"$LOT\", \"qty\": 120, \"uom\": \"CS\"}]')"
sql "INSERT INTO coldtrace.shipment_figures (shipment_id, lot_key, samples, min_c, max_c, mean_c,
            coverage, time_above_s, degree_minutes, probe)
     VALUES ('SHP-1', '', 480, 0.4, 7.5, 1.9, 0.98, 2400, 110, 'product'),
            ('SHP-1', '$GTIN/$LOT', 480, 0.4, 7.5, 1.9, 0.98, 2400, 110, 'product')"
note "excursions $EXC1 (SHP-1) and $EXC2 (SHP-2), gaps $GAP1 (SHP-1) and $GAP0 (no shipment)"

# ---- list -------------------------------------------------------------------------------
LIST=$(coldtrace qa list --json)
assert_eq "qa list: excursions and attributed gaps, newest first" \
	"excursion:$EXC2 gap:$GAP1 excursion:$EXC1" \
	"$(jget "$LIST" "' '.join(i['target'] for i in d)")"
assert_eq "qa list: excursion fields" "SHP-1|closed|major|7.5|2400|False|None|False" \
	"$(jget "$LIST" "['|'.join(str(i[k]) for k in ('shipment', 'state', 'severity', 'peak_c',
		'duration_s', 'acknowledged', 'disposition', 'handled'))
		for i in d if i['target'] == 'excursion:$EXC1'][0]")"
assert_match "qa list: text form shows the gap" "gap:$GAP1 +SHP-1 +closed" "$(coldtrace qa list)"
assert_eq "qa list --shipment: only that shipment's items" "gap:$GAP1 excursion:$EXC1" \
	"$(jget "$(coldtrace qa list --shipment SHP-1 --json)" "' '.join(i['target'] for i in d)")"
assert_eq "qa list --shipment of an unknown shipment: exit 1" 1 "$(rc_of coldtrace qa list --shipment SHP-9)"

# ---- acknowledge, comment, dispose, flag --------------------------------------------------
assert_eq "qa ack an excursion" 0 "$(rc_of coldtrace qa ack "excursion:$EXC1" --shipment SHP-1 --json)"
assert_eq "ack recorded with the actor from COLDTRACE_ACTOR" "acknowledge|qa-alice|excursion:$EXC1" \
	"$(jget "$(cat "$OUT")" "d['action'] + '|' + d['actor'] + '|' + d['target']")"
assert_eq "qa acknowledge a gap --as bob" 0 \
	"$(rc_of coldtrace qa acknowledge "gap:$GAP1" --shipment SHP-1 --as qa-bob --json)"
assert_eq "the gap's ack is bob's" qa-bob "$(jget "$(cat "$OUT")" "d['actor']")"
assert_eq "qa list shows both acknowledged" "true true" \
	"$(jget "$(coldtrace qa list --shipment SHP-1 --json)" "' '.join(json.dumps(i['acknowledged']) for i in d)")"

assert_eq "qa comment on the excursion" 0 \
	"$(rc_of coldtrace qa comment "excursion:$EXC1" --shipment SHP-1 --reason "reefer door left open at the Huaihua stop")"
assert_eq "qa dispose: hold" 0 \
	"$(rc_of coldtrace qa dispose "excursion:$EXC1" --shipment SHP-1 --decision hold --reason "waiting for pulp readings")"
assert_eq "qa dispose: release" 0 \
	"$(rc_of coldtrace qa dispose "excursion:$EXC1" --shipment SHP-1 --decision release --reason "pulp 1.8 C at arrival" --json)"
assert_eq "the release is the excursion's disposition" "release" "$(jget "$(cat "$OUT")" "d['disposition']")"
AUDIT_OF_RELEASE=$(jget "$(cat "$OUT")" "d['audit_id']")
assert_eq "a closed, released excursion leaves the open list" "gap:$GAP1" \
	"$(jget "$(coldtrace qa list --shipment SHP-1 --json)" "' '.join(i['target'] for i in d)")"
assert_eq "qa list --all still shows it, handled, with its disposition" "release|true" \
	"$(jget "$(coldtrace qa list --shipment SHP-1 --all --json)" \
		"[i['disposition'] + '|' + json.dumps(i['handled']) for i in d if i['target'] == 'excursion:$EXC1'][0]")"
assert_eq "qa dispose a lot: partial release" 0 \
	"$(rc_of coldtrace qa dispose "lot:$GTIN/$LOT" --shipment SHP-1 --decision partial_release --reason "top layer of pallet 3 discarded")"
assert_eq "qa dispose the gap: hold" 0 \
	"$(rc_of coldtrace qa dispose "gap:$GAP1" --shipment SHP-1 --decision hold --reason "logger readout pending" --as qa-bob)"
assert_eq "qa flag the lot" 0 "$(rc_of coldtrace qa flag "lot:$GTIN/$LOT" --shipment SHP-1 --reason "check remaining shelf life")"
assert_eq "flagging it again: exit 1" 1 "$(rc_of coldtrace qa flag "lot:$GTIN/$LOT" --shipment SHP-1 --reason again)"
assert_match "… saying it is already flagged" "already flagged" "$(cat "$ERR")"
assert_eq "qa flag the shipment" 0 "$(rc_of coldtrace qa flag shipment --shipment SHP-1 --reason "customer complaint")"
assert_eq "qa unflag the lot" 0 "$(rc_of coldtrace qa unflag "lot:$GTIN/$LOT" --shipment SHP-1 --reason "shelf life 12 d, fine")"
assert_eq "unflagging an unflagged lot: exit 1" 1 \
	"$(rc_of coldtrace qa unflag "lot:$GTIN/$LOT" --shipment SHP-1 --reason again)"
assert_eq "default actor: the login name" 0 \
	"$(rc_of env -u COLDTRACE_ACTOR "$COLDTRACE_BIN_DIR/coldtrace" qa comment shipment --shipment SHP-1 --reason "seen" --json)"
assert_eq "… is $(id -un)" "$(id -un)" "$(jget "$(cat "$OUT")" "d['actor']")"

# ---- show -----------------------------------------------------------------------------------
SHOW=$(coldtrace qa show SHP-1 --json)
assert_eq "qa show: shipment flagged, no shipment disposition" "true|None" \
	"$(jget "$SHOW" "json.dumps(d['flagged']) + '|' + str(d['disposition'])")"
assert_eq "qa show: figures of the shipment and the lot" "shipment lot:$GTIN/$LOT" \
	"$(jget "$SHOW" "' '.join(f['scope'] for f in d['figures'])")"
assert_eq "qa show: the lot's disposition, no longer flagged" "lot:$GTIN/$LOT|partial_release|false" \
	"$(jget "$SHOW" "'|'.join(str(l[k]) if k != 'flagged' else json.dumps(l[k]) for l in d['lots'] for k in ('target', 'disposition', 'flagged'))")"
assert_eq "qa show: flags in force" "shipment" "$(jget "$SHOW" "' '.join(f['target'] for f in d['flags'])")"
assert_eq "qa show: both items, with their dispositions" "gap:$GAP1=hold excursion:$EXC1=release" \
	"$(jget "$SHOW" "' '.join(i['target'] + '=' + str(i['disposition']) for i in d['items'])")"
assert_eq "qa show: every action, oldest first" 11 "$(jget "$SHOW" "len(d['actions'])")"
assert_eq "qa show: text form" 0 "$(rc_of coldtrace qa show SHP-1)"
assert_match "… lists the actions" "partial_release +top layer of pallet 3 discarded" "$(cat "$OUT")"
assert_eq "qa show of an unknown shipment: exit 1" 1 "$(rc_of coldtrace qa show SHP-9)"

# ---- audit ----------------------------------------------------------------------------------
AUDIT=$(coldtrace qa audit --shipment SHP-1 --json)
assert_eq "qa audit: one entry per action" 11 "$(jget "$AUDIT" "len(d)")"
assert_eq "qa audit: oldest first" true "$(jget "$AUDIT" "[e['id'] for e in d] == sorted(e['id'] for e in d)")"
assert_eq "qa audit: actors" "qa-alice qa-bob qa-alice qa-alice qa-alice qa-alice qa-bob qa-alice qa-alice qa-alice $(id -un)" \
	"$(jget "$AUDIT" "' '.join(e['actor'] for e in d)")"
assert_eq "qa audit: the release's before is the hold, its after the release" \
	"qa.disposition|excursion:SHP-1:$EXC1|hold|waiting for pulp readings|release|qa-alice" \
	"$(jget "$AUDIT" "[e['action'] + '|' + e['object'] + '|' + e['before']['disposition'] + '|' +
		e['before']['reason'] + '|' + e['after']['disposition'] + '|' + e['after']['actor']
		for e in d if e['id'] == $AUDIT_OF_RELEASE][0]")"
assert_eq "qa audit: the first ack has no before" None "$(jget "$AUDIT" "str(d[0]['before'])")"
assert_eq "qa audit: nothing for SHP-2" 0 "$(jget "$(coldtrace qa audit --shipment SHP-2 --json)" "len(d)")"
assert_match "qa audit: text form" "qa.flag +shipment:SHP-1:SHP-1" "$(coldtrace qa audit)"

# ---- wrong targets: exit 1, naming them -------------------------------------------------------
assert_eq "another shipment's excursion: exit 1" 1 "$(rc_of coldtrace qa ack "excursion:$EXC2" --shipment SHP-1)"
assert_match "… naming it and its shipment" "excursion:$EXC2 belongs to shipment SHP-2" "$(cat "$ERR")"
assert_eq "an unknown gap: exit 1" 1 "$(rc_of coldtrace qa ack gap:999999 --shipment SHP-1)"
assert_match "… naming it" "gap:999999 not found" "$(cat "$ERR")"
assert_eq "a gap of no shipment: exit 1" 1 "$(rc_of coldtrace qa comment "gap:$GAP0" --shipment SHP-1 --reason x)"
assert_match "… naming it" "gap:$GAP0 .*not attributed" "$(cat "$ERR")"
assert_eq "a lot not on the shipment: exit 1" 1 \
	"$(rc_of coldtrace qa dispose "lot:$GTIN/L9999" --shipment SHP-1 --decision reject --reason x)"
assert_match "… naming it" "lot:$GTIN/L9999 is in no load or unload event of shipment SHP-1" "$(cat "$ERR")"
assert_eq "an unknown shipment: exit 1" 1 "$(rc_of coldtrace qa ack "excursion:$EXC1" --shipment SHP-9)"
assert_match "… naming it" "shipment SHP-9 not found" "$(cat "$ERR")"

# ---- bad usage: exit 2, naming the argument -----------------------------------------------------
assert_eq "comment without --reason: exit 2" 2 "$(rc_of coldtrace qa comment "excursion:$EXC1" --shipment SHP-1)"
assert_match "… naming --reason" "--reason" "$(cat "$ERR")"
assert_eq "dispose without --reason: exit 2" 2 \
	"$(rc_of coldtrace qa dispose "excursion:$EXC1" --shipment SHP-1 --decision reject)"
assert_match "… naming --reason" "--reason" "$(cat "$ERR")"
assert_eq "flag without --reason: exit 2" 2 "$(rc_of coldtrace qa flag shipment --shipment SHP-1)"
assert_eq "dispose with an unknown decision: exit 2" 2 \
	"$(rc_of coldtrace qa dispose shipment --shipment SHP-1 --decision destroy --reason x)"
assert_match "… naming --decision" "--decision" "$(cat "$ERR")"
assert_eq "a malformed target: exit 2" 2 "$(rc_of coldtrace qa ack "excursion:abc" --shipment SHP-1)"
assert_eq "acknowledging a lot: exit 2" 2 "$(rc_of coldtrace qa ack "lot:$GTIN/$LOT" --shipment SHP-1)"
assert_eq "flagging an excursion: exit 2" 2 "$(rc_of coldtrace qa flag "excursion:$EXC1" --shipment SHP-1 --reason x)"
assert_eq "a lot with a bad GTIN check digit: exit 2" 2 \
	"$(rc_of coldtrace qa comment "lot:16912345678904/$LOT" --shipment SHP-1 --reason x)"
assert_eq "no --shipment: exit 2" 2 "$(rc_of coldtrace qa ack "excursion:$EXC1")"
assert_eq "refused commands recorded nothing" 11 "$(sql "SELECT count(*) FROM coldtrace.qa_actions")"

# ---- the database protects the audit log --------------------------------------------------------
N=$(sql "SELECT count(*) FROM coldtrace.audit_log")
assert_eq "every QA action has its audit row" 11 "$N"
assert_match "psql UPDATE on audit_log fails" "^[1-9]" \
	"$(rc_of psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE coldtrace.audit_log SET actor = 'mallory'")"
assert_match "… refused by the database" "audit_log is append-only: UPDATE refused" "$(cat "$ERR")"
assert_match "psql DELETE on audit_log fails" "^[1-9]" \
	"$(rc_of psql -X -q -v ON_ERROR_STOP=1 -c "DELETE FROM coldtrace.audit_log WHERE id = $AUDIT_OF_RELEASE")"
assert_match "… refused by the database" "audit_log is append-only: DELETE refused" "$(cat "$ERR")"
assert_match "psql TRUNCATE on audit_log fails" "^[1-9]" \
	"$(rc_of psql -X -q -v ON_ERROR_STOP=1 -c "TRUNCATE coldtrace.audit_log")"
assert_match "psql UPDATE on qa_actions fails" "^[1-9]" \
	"$(rc_of psql -X -q -v ON_ERROR_STOP=1 -c "UPDATE coldtrace.qa_actions SET disposition = 'release' WHERE disposition = 'hold'")"
assert_eq "the audit log is unchanged" "$N|qa-alice" \
	"$(sql "SELECT count(*), (SELECT actor FROM coldtrace.audit_log WHERE id = $AUDIT_OF_RELEASE) FROM coldtrace.audit_log")"

harness_end
