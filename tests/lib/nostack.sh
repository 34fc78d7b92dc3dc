# shellcheck shell=bash
# nostack.sh: for integration tests that need no PostgreSQL or broker (install tree, fuzz
# corpus replay). Sourced after harness.sh, whose assertions (pass, fail, note, assert_*) it
# reuses; instead of harness_begin/harness_end:
#
#   nostack_begin install      # private temp dir $HARNESS_DIR with logs/, EXIT trap
#   skip "why"                 # a check that could not run here: counted, reported as skipped
#   nostack_end                # "N passed, N failed, N skipped" and RESULT passed=N failed=M
#
# The EXIT trap prints the RESULT line when the script ends without nostack_end (counting
# one failure) and removes the temp dir unless something failed or HARNESS_KEEP=1. No stack
# is started, so nothing is stopped.

NOSTACK_SKIPPED=0

skip() {
	NOSTACK_SKIPPED=$((NOSTACK_SKIPPED + 1))
	harness__say "ok $((HARNESS_PASSED + HARNESS_FAILED + NOSTACK_SKIPPED)) # SKIP $*"
}

nostack_begin() {
	HARNESS_NAME=${1:?nostack_begin NAME}
	HARNESS_DIR=$(mktemp -d "${TMPDIR:-/tmp}/coldtrace-$HARNESS_NAME.XXXXXX") || exit 1
	mkdir -p "$HARNESS_DIR/logs"
	trap 'nostack__on_exit' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	note "$HARNESS_NAME: temp dir $HARNESS_DIR"
}

nostack_end() {
	HARNESS_ENDED=1
	harness__say "# $HARNESS_NAME: $HARNESS_PASSED passed, $HARNESS_FAILED failed, $NOSTACK_SKIPPED skipped"
	harness__say "RESULT passed=$HARNESS_PASSED failed=$HARNESS_FAILED"
	[ "$HARNESS_FAILED" -eq 0 ]
}

nostack__on_exit() {
	local status=$?
	trap - EXIT INT TERM
	if [ "$HARNESS_ENDED" != 1 ]; then
		fail "$HARNESS_NAME: aborted before nostack_end (exit status $status)"
		harness__say "RESULT passed=$HARNESS_PASSED failed=$HARNESS_FAILED"
		[ "$status" -ne 0 ] || status=1
	fi
	if [ "${HARNESS_KEEP:-}" = 1 ] || { [ "$HARNESS_FAILED" -gt 0 ] && [ "${HARNESS_KEEP:-}" != 0 ]; }; then
		note "$HARNESS_NAME: kept $HARNESS_DIR"
	else
		rm -rf -- "$HARNESS_DIR"
	fi
	exit "$status"
}
