#!/usr/bin/env bash
# contrib/bench/api.sh: wrk on the provenance JSON of one public lot (GET /01/{gtin}/10/{lot},
# Accept: application/json) against coldtrace-api on its own throwaway stack, 10 s at 32
# connections. Prints requests/s and p99 and writes contrib/bench/results/<date>-api.json.
# Target (issue #6): >= 5000 requests/s, p99 <= 20 ms on loopback.
# Knobs: BUILD (build), DURATION (10s), CONNECTIONS (32), WRK_THREADS (2).
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$REPO/${BUILD:-build}/bin
DURATION=${DURATION:-10s} CONNS=${CONNECTIONS:-32} WT=${WRK_THREADS:-2}
STACK=$(mktemp -d /tmp/coldtrace-bench-api.XXXXXX)
chmod 755 "$STACK"
export COLDTRACE_STACK_DIR=$STACK/stack
API_PID=
cleanup() {
	[ -n "$API_PID" ] && kill "$API_PID" 2>/dev/null && wait "$API_PID" 2>/dev/null
	"$REPO/contrib/devstack" stop >/dev/null 2>&1 || true
	rm -rf "$STACK"
}
trap cleanup EXIT
"$REPO/contrib/devstack" start >"$STACK/devstack.log" 2>&1
eval "$("$REPO/contrib/devstack" env)"
export COLDTRACE_API_PORT=${COLDTRACE_API_PORT:-18181}
C=$BIN/coldtrace
$C org add Grower >/dev/null
$C site add 6970000000017 --name Packhouse --kind packhouse --org Grower --lat 26.6 --lon 106.7 >/dev/null
$C site add 6970000000024 --name DC --kind dc --lat 23.1 --lon 113.3 >/dev/null
$C shipment add SHP-B --origin 6970000000017 --destination 6970000000024 --commodity CHOY_SUM >/dev/null
psql -X -q -c "INSERT INTO coldtrace.readings (device_id, seq, measured_at, received_at, shipment_id, t_product, lat, lon)
  SELECT 'dev-b', g, now() - interval '8 hours' + g * interval '30 seconds', now(), 'SHP-B', 2 + sin(g / 60.0),
         26.6 - g * 0.0035, 106.7 + g * 0.0065 FROM generate_series(1, 960) g;
  INSERT INTO coldtrace.events (device_id, seq, measured_at, received_at, shipment_id, type, site_gln, lots)
  VALUES ('dev-b', 1000, now() - interval '8 hours', now(), 'SHP-B', 'load', '6970000000017',
          '[{\"gtin\": \"16912345678909\", \"lot\": \"L2611\", \"qty\": 120, \"uom\": \"CS\"}]');
  INSERT INTO coldtrace.lots (gtin, lot, farm_gln, public) VALUES ('16912345678909', 'L2611', '6970000000017', true);"
"$BIN/coldtrace-api" >"$STACK/api.log" 2>&1 &
API_PID=$!
URL=http://127.0.0.1:$COLDTRACE_API_PORT/01/16912345678909/10/L2611
deadline=$((SECONDS + 20))
until curl -sf -o /dev/null -H 'Accept: application/json' "$URL"; do
	((SECONDS < deadline)) || { echo "api did not come up" >&2; cat "$STACK/api.log" >&2; exit 1; }
	sleep 0.1
done
wrk -t"$WT" -c"$CONNS" -d"$DURATION" --latency -H 'Accept: application/json' "$URL" | tee "$STACK/wrk.out"
RPS=$(awk '/^Requests\/sec/ {print $2}' "$STACK/wrk.out")
P99=$(awk '$1 == "99%" {print $2}' "$STACK/wrk.out")
P99_MS=$(python3 -c 'import sys; v = sys.argv[1]
print(float(v[:-2]) if v.endswith("ms") else float(v[:-2]) / 1000 if v.endswith("us") else float(v[:-1]) * 1000)' "$P99")
OUTF=$REPO/contrib/bench/results/$(date +%Y%m%d)-api.json
python3 - "$RPS" "$P99_MS" "$CONNS" "$DURATION" "$(nproc)" >"$OUTF" <<'PY'
import json, socket, sys
rps, p99, conns, dur, ncpu = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
print(json.dumps({"bench": "api_provenance_json", "host": socket.gethostname(), "ncpu": ncpu,
  "connections": conns, "duration": dur, "requests_per_s": rps, "p99_ms": p99,
  "target": {"requests_per_s": 5000, "p99_ms": 20}, "met": rps >= 5000 and p99 <= 20}, indent=1))
PY
printf 'api provenance JSON: %.0f requests/s (target >= 5000), p99 %.2f ms (target <= 20) -> %s\n' \
	"$RPS" "$P99_MS" "$OUTF"
