#!/usr/bin/env bash
# test_fuzz_corpus: every input of the fuzz corpora (tests/fuzz/corpus/<target>/: the seeds
# and whatever `make fuzz` merged in) replayed once through its fuzz target, built without
# libFuzzer (tests/fuzz/replay_main.c) with gcc, ASan and UBSan, in $BUILD/fuzz/replay/. A
# sanitizer report or a broken invariant aborts the replay and fails the test naming the
# input. Inputs under tests/fuzz/crashes/ reproduce known, still open crashes: they are
# listed, not replayed. No stack is needed.
set -uo pipefail
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
# shellcheck source=tests/lib/nostack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/nostack.sh"

nostack_begin fuzz_corpus
REPO=$HARNESS_REPO
export BUILD=${BUILD:-build}
export FUZZ_BUILD=$REPO/$BUILD/fuzz
FUZZ=$REPO/tests/fuzz
targets=(payload epcis)

if [ -d "$REPO/../shared/epcis/xsd" ]; then
	export COLDTRACE_EPCIS_SCHEMA_DIR
	COLDTRACE_EPCIS_SCHEMA_DIR=$(realpath "$REPO/../shared/epcis/xsd")
else
	skip "no ../shared/epcis/xsd: EPCIS inputs are parsed but not schema-validated"
fi

if "$FUZZ/run.sh" replay-build "${targets[@]}" >"$HARNESS_DIR/logs/build.log" 2>&1; then
	pass "fuzz targets build with gcc + ASan/UBSan and the replay driver"
else
	fail "building the replay binaries (log $HARNESS_DIR/logs/build.log)"
	tail -n 20 "$HARNESS_DIR/logs/build.log" | sed 's/^/#   /'
	nostack_end
	exit 1
fi
grep -h 'built ' "$HARNESS_DIR/logs/build.log" | sed 's/^/# /'

for t in "${targets[@]}"; do
	dir=$FUZZ/corpus/$t
	n=$(find "$dir" -maxdepth 1 -type f 2>/dev/null | wc -l)
	assert_ge "corpus/$t has seeds" 1 "$n" || continue
	log=$HARNESS_DIR/logs/replay-$t.log
	out=$("$FUZZ_BUILD/replay/fuzz_$t" "$dir" 2>"$log")
	rc=$?
	if [ $rc -eq 0 ] && [ "$out" = "replayed $n inputs" ]; then
		pass "all $n inputs of corpus/$t replay without a crash or sanitizer report"
	else
		last=$(grep '^replay: ' "$log" | tail -n 1)
		fail "corpus/$t: replay exit $rc after '${last#replay: }' ($out)"
		grep -E 'ERROR|SUMMARY|invariant|runtime error' "$log" | head -n 5 | sed 's/^/#   /'
	fi
done

# The negative control: the driver does report a crash (a target that cannot crash would make
# the test above meaningless).
known=$(find "$FUZZ/crashes" -type f 2>/dev/null | sort)
if [ -n "$known" ]; then
	while IFS= read -r f; do
		note "known open crash, not replayed: ${f#"$REPO"/}"
	done <<<"$known"
	f=$(head -n 1 <<<"$known")
	t=$(basename "$(dirname "$f")")
	if [ -x "$FUZZ_BUILD/replay/fuzz_$t" ]; then
		if "$FUZZ_BUILD/replay/fuzz_$t" "$f" >>"$HARNESS_DIR/logs/known.log" 2>&1; then
			skip "${f#"$REPO"/} no longer crashes: fixed? move it into tests/fuzz/corpus/$t/"
		else
			pass "the replay driver reports the known crash ${f#"$REPO"/}"
		fi
	fi
fi

nostack_end
