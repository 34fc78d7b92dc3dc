#!/usr/bin/env bash
# contrib/bench/trace.sh: the trace benchmark of issue 5: "forward plus backward trace over a
# generated database of 1M lots and 10M events answers in ≤ 1 s".
#
# Starts its own stack (contrib/devstack in a private COLDTRACE_STACK_DIR under /tmp), loads
# contrib/bench/tracegen.sql (≈1M lots, 10M trace events and their items, set-based), then
# times ct_trace (backward and forward in one document) for TRACE_SAMPLES random lots (a
# tenth of them from the long repack chains) and a farm recall over three harvest days,
# prints a table and writes contrib/bench/results/<date>-trace.json.
#
# Knobs: TRACE_NH (harvest lots, 240000 → ≈1M lots), TRACE_EVENTS (10000000),
# TRACE_SAMPLES (50), BENCH_RESULTS (results file), BENCH_KEEP=1 (keep the stack),
# TRACE_BENCH_USE_ENV=1 (use the PG* environment's database instead of starting a stack; it
# must be migrated and empty of trace data).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
NH=${TRACE_NH:-240000}
EVENTS=${TRACE_EVENTS:-10000000}
SAMPLES=${TRACE_SAMPLES:-50}
RESULTS=${BENCH_RESULTS:-$REPO/contrib/bench/results/$(date -u +%F)-trace.json}
WORK=

cleanup() {
	if [ -n "$WORK" ]; then
		if [ "${BENCH_KEEP:-}" = 1 ]; then
			echo "trace bench: kept $WORK (stop it with COLDTRACE_STACK_DIR=$WORK/stack contrib/devstack stop)"
		else
			COLDTRACE_STACK_DIR=$WORK/stack "$REPO/contrib/devstack" destroy >/dev/null 2>&1 || true
			rm -rf -- "$WORK"
		fi
	fi
}
trap cleanup EXIT

if [ "${TRACE_BENCH_USE_ENV:-}" != 1 ]; then
	WORK=$(mktemp -d /tmp/coldtrace-tracebench.XXXXXX)
	chmod 755 "$WORK"
	export COLDTRACE_STACK_DIR=$WORK/stack
	echo "trace bench: starting a stack in $COLDTRACE_STACK_DIR"
	"$REPO/contrib/devstack" start >"$WORK/devstack.log" 2>&1 || {
		tail -n 20 "$WORK/devstack.log"
		exit 1
	}
	eval "$("$REPO/contrib/devstack" env)"
fi
psql_() { psql -X -q -v ON_ERROR_STOP=1 "$@"; }

size_before=$(psql_ -At -c "SELECT pg_database_size(current_database())")
echo "trace bench: generating $NH harvest lots (≈$((4 * NH + 40000)) lots), $EVENTS events"
t0=$(date +%s.%N)
psql_ -v nh="$NH" -v events="$EVENTS" -f "$REPO/contrib/bench/tracegen.sql" >"${WORK:-/tmp}/tracegen.log"
t1=$(date +%s.%N)
gen_s=$(printf "%.1f" "$(echo "$t1 - $t0" | bc)")
read -r lots events items db_bytes < <(psql_ -At -F ' ' -c "
	SELECT (SELECT count(*) FROM coldtrace.lots), (SELECT count(*) FROM coldtrace.trace_events),
	       (SELECT count(*) FROM coldtrace.trace_items), pg_database_size(current_database())")
disk_mb=$(((db_bytes - size_before) / 1048576))
echo "trace bench: $lots lots, $events events, $items items in ${gen_s}s, ${disk_mb} MB"

# Timings inside the server (no client round trip, no JSON printing): each sampled lot once,
# after a warm-up of five other lots; the document's size is kept to show the work done.
timings=$(psql_ -At -F ' ' -v nh="$NH" -v samples="$SAMPLES" <<'SQL'
SET search_path = coldtrace, public;
CREATE TEMP TABLE sample AS
SELECT * FROM (
    SELECT CASE k % 4 WHEN 0 THEN '09521234000013' WHEN 1 THEN '19521234000027'
                      ELSE '19521234000034' END AS gtin,
           CASE k % 4 WHEN 0 THEN 'H' || (1 + floor(random() * :nh)::int)
                      WHEN 1 THEN 'P' || (1 + floor(random() * :nh)::int)
                      ELSE 'S' || (1 + floor(random() * 2 * :nh)::int) END AS lot
      FROM generate_series(1, :samples - :samples / 10) k
    UNION ALL
    SELECT '19521234000041', 'C' || (1 + floor(random() * 800)::int) || '-' || (1 + floor(random() * 50)::int)
      FROM generate_series(1, :samples / 10)) s;
CREATE TEMP TABLE timing (gtin text, lot text, ms double precision, bytes int, back int, fwd int);
DO $$
DECLARE r record; t timestamptz; d jsonb;
BEGIN
    PERFORM ct_trace('09521234000013', 'H' || k) FROM generate_series(7, 11) k;
    FOR r IN SELECT * FROM sample LOOP
        t := clock_timestamp();
        d := ct_trace(r.gtin, r.lot);
        INSERT INTO timing VALUES (r.gtin, r.lot, extract(epoch FROM clock_timestamp() - t) * 1000,
                                   length(d::text), jsonb_array_length(d->'backward'->'lots'),
                                   jsonb_array_length(d->'forward'->'lots'));
    END LOOP;
END $$;
SELECT 'trace', count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(max(ms)::numeric, 1), max(back), max(fwd), round(avg(bytes)) FROM timing;
SELECT 'chain', count(*), round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(max(ms)::numeric, 1), max(back), max(fwd), round(avg(bytes)) FROM timing
 WHERE lot LIKE 'C%';
CREATE TEMP TABLE rt (ms double precision, lots int, receivers int);
DO $$
DECLARE t timestamptz; d jsonb;
BEGIN
    t := clock_timestamp();
    d := ct_recall_farm((SELECT gln FROM sites WHERE name = 'farm 5'), date '2024-03-01', date '2024-03-03');
    INSERT INTO rt VALUES (extract(epoch FROM clock_timestamp() - t) * 1000,
                           (d->'summary'->>'lots')::int, (d->'summary'->>'receivers')::int);
END $$;
SELECT 'recall', 1, round(ms::numeric, 1), round(ms::numeric, 1), round(ms::numeric, 1), lots, receivers, 0 FROM rt;
SQL
)
read -r _ n p50 p99 max back fwd bytes < <(grep '^trace ' <<<"$timings")
read -r _ cn cp50 cp99 cmax cback cfwd _ < <(grep '^chain ' <<<"$timings")
read -r _ _ rms _ _ rlots rrecv _ < <(grep '^recall ' <<<"$timings")

verdict=$(echo "$max <= 1000" | bc)
printf '\n%-44s %12s\n' "trace benchmark ($(nproc) cpu)" "measured"
printf '%-44s %12s\n' "lots / events / items" "$lots / $events / $items"
printf '%-44s %12s\n' "generation time (s)" "$gen_s"
printf '%-44s %12s\n' "disk used (MB)" "$disk_mb"
printf '%-44s %12s\n' "ct_trace samples" "$n"
printf '%-44s %12s\n' "ct_trace p50 / p99 / max (ms)" "$p50 / $p99 / $max"
printf '%-44s %12s\n' "  repack chains: p50 / max (ms)" "$cp50 / $cmax"
printf '%-44s %12s\n' "  largest backward / forward (lots)" "$back / $fwd"
printf '%-44s %12s\n' "farm recall, 3 days (ms; lots, receivers)" "$rms ($rlots, $rrecv)"
printf '%-44s %12s\n' "target: every trace <= 1000 ms" "$([ "$verdict" = 1 ] && echo met || echo MISSED)"

mkdir -p "$(dirname "$RESULTS")"
python3 - "$RESULTS" <<PY
import json, sys
json.dump({"benchmark": "trace", "cpus": $(nproc), "lots": $lots, "events": $events,
           "items": $items, "generation_s": round($gen_s, 1), "disk_mb": $disk_mb,
           "trace": {"samples": $n, "p50_ms": $p50, "p99_ms": $p99, "max_ms": $max,
                     "max_backward_lots": $back, "max_forward_lots": $fwd, "mean_bytes": $bytes},
           "chains": {"samples": $cn, "p50_ms": $cp50, "p99_ms": $cp99, "max_ms": $cmax},
           "farm_recall": {"ms": $rms, "lots": $rlots, "receivers": $rrecv},
           "target_met": $([ "$verdict" = 1 ] && echo True || echo False)},
          open(sys.argv[1], "w"), indent=2)
PY
echo "trace bench: results in $RESULTS"
