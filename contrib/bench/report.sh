#!/usr/bin/env bash
# contrib/bench/report.sh: the report benchmark of issue 5: "a lot with 100k readings renders
# in ≤ 200 ms". Starts its own stack (contrib/devstack in a private directory under /tmp),
# has build/bin/reportbench build a lot with REPORT_READINGS readings (100 000) on one
# shipment, times REPORT_RENDERS (9) renders of its HTML report (decimated chart and map
# included) and of its CSV, prints them and writes contrib/bench/results/<date>-report.json.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${COLDTRACE_BIN_DIR:-$REPO/${BUILD:-build}/bin}
READINGS=${REPORT_READINGS:-100000}
RENDERS=${REPORT_RENDERS:-9}
RESULTS=${BENCH_RESULTS:-$REPO/contrib/bench/results/$(date -u +%F)-report.json}
WORK=$(mktemp -d /tmp/coldtrace-reportbench.XXXXXX)
chmod 755 "$WORK"

cleanup() {
	COLDTRACE_STACK_DIR=$WORK/stack "$REPO/contrib/devstack" stop --purge >/dev/null 2>&1 || true
	rm -rf -- "$WORK"
}
trap cleanup EXIT

export COLDTRACE_STACK_DIR=$WORK/stack
echo "report bench: starting a stack in $COLDTRACE_STACK_DIR"
"$REPO/contrib/devstack" start >"$WORK/devstack.log" 2>&1 || {
	tail -n 20 "$WORK/devstack.log"
	exit 1
}
eval "$("$REPO/contrib/devstack" env)"

"$BIN/reportbench" --readings "$READINGS" --renders "$RENDERS" --format html >"$WORK/html.json"
"$BIN/reportbench" --readings "$READINGS" --renders "$RENDERS" --format csv >"$WORK/csv.json"
python3 - "$WORK/html.json" "$WORK/csv.json" "$RESULTS" <<'PY'
import json, os, platform, sys
html, csv = (json.load(open(p)) for p in sys.argv[1:3])
out = {"benchmark": "coldtrace report render (issue 5)", "machine": platform.node(),
       "nproc": os.cpu_count(), "target_ms": 200, "html": html, "csv": csv}
json.dump(out, open(sys.argv[3], "w"), indent=1)
for name, r in (("html", html), ("csv", csv)):
    verdict = "met" if r["max_ms"] <= 200 else "NOT met"
    print(f"report bench: {name} of a lot with {r['readings_built']} readings: "
          f"p50 {r['p50_ms']:.1f} ms, max {r['max_ms']:.1f} ms "
          f"({r['bytes']} bytes; target <= 200 ms: {verdict})")
PY
echo "report bench: results in ${RESULTS#"$REPO"/}"
