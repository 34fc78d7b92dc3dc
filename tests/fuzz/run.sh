#!/usr/bin/env bash
# tests/fuzz/run.sh: build and run the fuzz targets of tests/fuzz/ (`make fuzz`), or replay
# their corpora without libFuzzer (tests/integration/test_fuzz_corpus.sh, in `make check`).
#
#   tests/fuzz/run.sh fuzz [TARGET…]     build with clang -fsanitize=fuzzer,address,undefined
#                                        and fuzz each target for FUZZ_SECONDS (default 60)
#   tests/fuzz/run.sh build [TARGET…]    only build the libFuzzer binaries
#   tests/fuzz/run.sh replay-build       build the replay binaries (gcc + ASan/UBSan, main()
#                                        from replay_main.c)
#   tests/fuzz/run.sh replay [TARGET…]   build them and feed every file of corpus/TARGET/ once
#
# Targets: payload (services/common/payload.c), epcis (EPCIS capture, see fuzz_epcis.c).
# Output goes to FUZZ_BUILD (default $BUILD/fuzz, i.e. build/fuzz): bin/ (libFuzzer), replay/,
# corpus/TARGET/ (what the fuzzer found, the seeds in tests/fuzz/corpus/TARGET/ are read
# only), artifacts/TARGET/ (crashes, timeouts, leaks), TARGET.log.
#
# Knobs: FUZZ_SECONDS (60), FUZZ_MAX_LEN_payload (16384), FUZZ_MAX_LEN_epcis (32768),
# FUZZ_TIMEOUT (seconds per input before libFuzzer calls it a hang, 10), FUZZ_MERGE=1 (after
# the run, minimise the new inputs into tests/fuzz/corpus/TARGET/ with -merge=1),
# FUZZ_KEEP_GOING=1 (libFuzzer -fork=1 -ignore_crashes=1: keep fuzzing past a crash, every
# crash lands in artifacts/TARGET/),
# FUZZ_CC (clang), REPLAY_CC (gcc), REPLAY_SANITIZE (address,undefined; empty: none),
# COLDTRACE_EPCIS_SCHEMA_DIR (default <repo>/../shared/epcis/xsd when it exists).
# Exit status: 0, or 1 when a build failed or a target crashed.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
HERE=tests/fuzz
FUZZ_BUILD=${FUZZ_BUILD:-${BUILD:-build}/fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
FUZZ_TIMEOUT=${FUZZ_TIMEOUT:-10}
FUZZ_CC=${FUZZ_CC:-clang}
REPLAY_CC=${REPLAY_CC:-gcc}
REPLAY_SANITIZE=${REPLAY_SANITIZE-address,undefined}
ALL_TARGETS=(payload epcis)

if [ -z "${COLDTRACE_EPCIS_SCHEMA_DIR:-}" ] && [ -d "$REPO/../shared/epcis/xsd" ]; then
	COLDTRACE_EPCIS_SCHEMA_DIR=$(realpath "$REPO/../shared/epcis/xsd")
fi
export COLDTRACE_EPCIS_SCHEMA_DIR=${COLDTRACE_EPCIS_SCHEMA_DIR:-}

say() { printf 'fuzz: %s\n' "$*" >&2; }
die() {
	printf 'fuzz: error: %s\n' "$*" >&2
	exit 1
}

WARN=(-Wall -Wextra -Wshadow -Wmissing-prototypes -Wstrict-prototypes)
BASE_CFLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -fno-omit-frame-pointer -Iservices/common
	-Iservices/report)

# The EPCIS importer's database-free check, when its header declares one.
epcis_has_check() { grep -q 'epcis_import_check *(' services/report/epcis_import.h 2>/dev/null; }

# sources_of TARGET: the files of the product a target links (nothing with a main()).
sources_of() {
	case "$1" in
	payload) echo services/common/payload.c services/common/ts.c services/common/domain.c services/common/text.c \
		services/common/gs1.c ;;
	epcis)
		if epcis_has_check; then
			echo services/report/*.c services/common/*.c
		fi
		;;
	*) die "unknown target $1" ;;
	esac
}

# cflags_of TARGET: extra compile flags; libs_of TARGET: the libraries.
cflags_of() {
	case "$1" in
	payload) ;;
	epcis)
		pkg-config --cflags libxml-2.0
		if epcis_has_check; then
			echo -DFUZZ_EPCIS_CHECK
			pkg-config --cflags libpq libsodium
		fi
		;;
	esac
}
libs_of() {
	case "$1" in
	payload) echo -lm ;;
	epcis)
		pkg-config --libs libxml-2.0
		if epcis_has_check; then
			pkg-config --libs libpq libsodium libcrypto
			echo -lm
		fi
		;;
	esac
}

# build_one CC OUT TARGET EXTRA_FLAGS…: one binary from the target, its sources and extras.
build_one() {
	local cc=$1 out=$2 t=$3
	shift 3
	local -a src extra_c libs
	read -r -a src <<<"$(sources_of "$t")"
	read -r -a extra_c <<<"$(cflags_of "$t" | tr '\n' ' ')"
	read -r -a libs <<<"$(libs_of "$t" | tr '\n' ' ')"
	mkdir -p "$(dirname "$out")"
	local log=$FUZZ_BUILD/build-$(basename "$out").log
	if ! "$cc" "${BASE_CFLAGS[@]}" "${WARN[@]}" "${extra_c[@]}" "$@" -o "$out" \
		"$HERE/fuzz_$t.c" "${src[@]}" "${libs[@]}" >"$log" 2>&1; then
		cat "$log" >&2
		say "building $out failed (log $log)"
		return 1
	fi
	say "built $out$( [ "$t" != epcis ] || { epcis_has_check && echo ' (epcis_import_check)' || echo ' (libxml2 + XSD; no epcis_import_check yet)'; })"
}

build_fuzzers() {
	command -v "$FUZZ_CC" >/dev/null || die "$FUZZ_CC not found (make deps installs clang)"
	local t rc=0
	for t in "$@"; do
		build_one "$FUZZ_CC" "$FUZZ_BUILD/bin/fuzz_$t" "$t" \
			-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined || rc=1
	done
	return $rc
}

build_replay() {
	local t rc=0
	local -a san=()
	if [ -n "$REPLAY_SANITIZE" ]; then
		san=(-fsanitize="$REPLAY_SANITIZE" -fno-sanitize-recover=all)
	fi
	for t in "$@"; do
		build_one "$REPLAY_CC" "$FUZZ_BUILD/replay/fuzz_$t" "$t" "${san[@]}" \
			"$HERE/replay_main.c" || rc=1
	done
	return $rc
}

# The libFuzzer summary of one run: executions, exec/s, corpus, coverage.
summarise() {
	local t=$1 log=$2 rc=$3 corpus=$4
	local execs rate done_line files bytes crashes
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	done_line=$(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1 || true)
	if [ -z "$execs" ]; then # fork mode: "#N: cov: C ft: F corp: … oom/timeout/crash: … time: Ts…"
		done_line=$(grep -E '^#[0-9]+: cov:' "$log" | tail -n 1 || true)
		execs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$done_line")
		local secs
		secs=$(sed -nE 's/.* time: ([0-9]+)s.*/\1/p' <<<"$done_line")
		[ -z "$execs" ] || [ -z "$secs" ] || [ "$secs" -eq 0 ] || rate=$((execs / secs))
	fi
	files=$(find "$corpus" -type f | wc -l)
	bytes=$(du -sb "$corpus" | cut -f1)
	crashes=$(find "$FUZZ_BUILD/artifacts/$t" -type f 2>/dev/null | wc -l)
	printf '%-8s %10s %8s %7s %9s  %-28s %s\n' "$t" "${execs:-?}" "${rate:-?}" "$files" "$bytes" \
		"$(grep -oE 'cov: [0-9]+ ft: [0-9]+' <<<"$done_line" || echo '-')" \
		"$([ "$rc" -eq 0 ] && echo ok || echo "CRASH (exit $rc, $crashes artifact(s) in $FUZZ_BUILD/artifacts/$t)")"
}

cmd_fuzz() {
	build_fuzzers "$@" || exit 1
	local t rc any=0 rows=()
	for t in "$@"; do
		local max_var=FUZZ_MAX_LEN_$t seeds=$HERE/corpus/$t work=$FUZZ_BUILD/corpus/$t
		local max_len=${!max_var:-}
		[ -n "$max_len" ] || case $t in payload) max_len=16384 ;; *) max_len=32768 ;; esac
		mkdir -p "$work" "$FUZZ_BUILD/artifacts/$t"
		local log=$FUZZ_BUILD/$t.log
		say "fuzzing $t for ${FUZZ_SECONDS}s (max_len $max_len, dict $HERE/$t.dict, log $log)"
		local -a mode=()
		[ "${FUZZ_KEEP_GOING:-0}" != 1 ] ||
			mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
		set +e
		"$FUZZ_BUILD/bin/fuzz_$t" "${mode[@]}" -max_total_time="$FUZZ_SECONDS" -max_len="$max_len" \
			-dict="$HERE/$t.dict" -timeout="$FUZZ_TIMEOUT" -rss_limit_mb=2048 \
			-print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/artifacts/$t/" \
			"$work" "$seeds" >"$log" 2>&1
		rc=$?
		set -e
		[ $rc -eq 0 ] || {
			any=1
			grep -E 'ERROR|SUMMARY|invariant|Test unit written' "$log" | head -n 8 >&2 || true
		}
		if [ "${FUZZ_MERGE:-0}" = 1 ] && [ $rc -eq 0 ]; then
			say "merging new inputs of $t into $seeds"
			"$FUZZ_BUILD/bin/fuzz_$t" -merge=1 -max_len="$max_len" "$seeds" "$work" \
				>>"$FUZZ_BUILD/$t-merge.log" 2>&1 || say "merge failed (log $FUZZ_BUILD/$t-merge.log)"
		fi
		rows+=("$(summarise "$t" "$log" "$rc" "$work")")
	done
	printf '\n%-8s %10s %8s %7s %9s  %-28s %s\n' target execs exec/s corpus bytes coverage result
	printf '%s\n' "${rows[@]}"
	return $any
}

cmd_replay() {
	build_replay "$@" || exit 1
	local t rc=0
	for t in "$@"; do
		[ -d "$HERE/corpus/$t" ] || die "no corpus $HERE/corpus/$t"
		say "replaying $HERE/corpus/$t"
		"$FUZZ_BUILD/replay/fuzz_$t" "$HERE/corpus/$t" 2>"$FUZZ_BUILD/replay-$t.log" || {
			tail -n 30 "$FUZZ_BUILD/replay-$t.log" >&2
			rc=1
		}
	done
	return $rc
}

verb=${1:-fuzz}
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
mkdir -p "$FUZZ_BUILD"
case "$verb" in
fuzz) cmd_fuzz "${targets[@]}" ;;
build) build_fuzzers "${targets[@]}" ;;
replay-build) build_replay "${targets[@]}" ;;
replay) cmd_replay "${targets[@]}" ;;
-h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' ;;
*) die "unknown verb $verb (fuzz, build, replay-build, replay)" ;;
esac
