#!/usr/bin/env bash
# test_gs1_cli: `coldtrace gs1 convert` turns EPC URNs into GS1 Digital Link URIs and back
# (the latter given the company prefix length), and refuses wrong check digits, lengths and
# characters with exit 2. No stack is needed.
set -uo pipefail
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
# shellcheck source=tests/lib/nostack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/nostack.sh"

nostack_begin gs1_cli
CT=${COLDTRACE_BIN_DIR:?}/coldtrace
export COLDTRACE_PUBLIC_BASE_URL=https://id.gs1.org

# field VALUE of the converter's output for ID (extra arguments after ID).
field() { # name id [args]
	local name=$1
	shift
	"$CT" gs1 convert "$@" 2>/dev/null | awk -v n="$name" '$1 == n { print $2 }'
}

expect() { # what want got
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: want '$2', got '$3'"; fi
}

# The worked examples of the domain reference (§1.6) and the project's EPCIS example.
expect "LGTIN URN → Digital Link" "https://id.gs1.org/01/19521234000010/10/GZ240501A" \
	"$(field digital_link urn:epc:class:lgtin:9521234.100001.GZ240501A)"
expect "Digital Link → LGTIN URN with the prefix length" "urn:epc:class:lgtin:9521234.100001.GZ240501A" \
	"$(field epc_urn https://id.gs1.org/01/19521234000010/10/GZ240501A --company-prefix-length 7)"
expect "SSCC URN → key with its check digit" "095212340000000013" \
	"$(field key urn:epc:id:sscc:9521234.0000000001)"
expect "SSCC Digital Link → URN" "urn:epc:id:sscc:9521234.0000000001" \
	"$(field epc_urn https://id.gs1.org/00/095212340000000013 --company-prefix-length 7)"
expect "SGLN with extension → Digital Link" "https://id.gs1.org/414/9521234000013/254/F03" \
	"$(field digital_link urn:epc:id:sgln:9521234.00001.F03)"
expect "a percent-escaped lot is decoded" "GZ/24" \
	"$(field lot https://id.gs1.org/01/19521234000010/10/GZ%2F24)"
expect "--base sets the Digital Link host" "https://id.example.com/01/19521234000010/10/GZ240501A" \
	"$(field digital_link urn:epc:class:lgtin:9521234.100001.GZ240501A --base https://id.example.com)"
if "$CT" gs1 convert https://id.gs1.org/01/19521234000010/10/GZ240501A 2>/dev/null | grep -q 'company-prefix-length'; then
	pass "without the prefix length the URN is explained, not guessed"
else
	fail "without the prefix length the URN is explained, not guessed"
fi

refused() { # what id...
	local what=$1 out rc
	shift
	out=$("$CT" gs1 convert "$@" 2>&1)
	rc=$?
	if [ "$rc" -eq 2 ]; then pass "$what (exit 2: $(head -n 1 <<<"$out"))"; else fail "$what: exit $rc"; fi
}
refused "wrong GTIN check digit" https://id.gs1.org/01/19521234000011/10/X
refused "wrong SSCC check digit" https://id.gs1.org/00/095212340000000012
refused "SSCC of the wrong length" urn:epc:id:sscc:9521234.000000001
refused "lot character outside CSET 82" 'https://id.gs1.org/01/19521234000010/10/A%7E'
refused "not an identifier" https://example.com/page
refused "prefix length out of range" urn:epc:id:sscc:9521234.0000000001 --company-prefix-length 13

nostack_end
