#!/usr/bin/env bash
# Verifiable reports through the CLI: `coldtrace keys generate` makes a key pair (secret key
# 0600, never overwritten); `coldtrace keys sign` signs an XML and a CSV file; `coldtrace
# verify` says valid with the trusted key (given or from report_public_key_file), and INVALID
# with the exact reason for a changed content byte, a changed trailer byte, appended data, a
# truncated file, an unsigned file, another signer's key and no trusted key at all. A secret
# key readable by others is refused.
#
# Nothing here needs PostgreSQL or the broker, so no stack is started: harness_begin's devstack
# is replaced by a stand-in (it keeps the harness's temp dir, environment scrub, traps and
# RESULT line). PGPORT is left unusable, so a command that tried the database would fail.
set -uo pipefail
. "$(dirname "$0")/../lib/harness.sh"
verify__no_stack() {
	case "$1" in
	env) echo 'export PGPORT=unused; COLDTRACE_MQTT_PORT=unused' ;; # the latter not exported
	esac
	return 0
}
HARNESS_DEVSTACK=verify__no_stack
harness_begin verify

D=$HARNESS_DIR/verify
mkdir -p "$D"
OUT=$HARNESS_DIR/verify.out
ERR=$HARNESS_DIR/verify.err

# rc_of CMD…: prints CMD's exit status; its stdout goes to $OUT, its stderr to $ERR.
rc_of() {
	"$@" >"$OUT" 2>"$ERR"
	echo $?
}
# poke FILE OFFSET BYTE: overwrites one byte in place.
poke() {
	printf '%s' "$3" | dd of="$1" bs=1 seek="$2" count=1 conv=notrunc status=none
}
# flip FILE OFFSET: replaces the byte at OFFSET by another one that keeps its field's
# alphabet (A or B; for hex digits, 0 or 1).
flip() {
	local c
	c=$(tail -c +$(($2 + 1)) "$1" | head -c 1)
	case "$c" in
	A) poke "$1" "$2" B ;;
	[0-9a-f]) [ "$c" = 0 ] && poke "$1" "$2" 1 || poke "$1" "$2" 0 ;;
	*) poke "$1" "$2" A ;;
	esac
}
size_of() { stat -c %s "$1"; }

# ---- keys --------------------------------------------------------------------------------
assert_eq "keys generate" 0 "$(rc_of coldtrace keys generate --secret-out "$D/report.key" --public-out "$D/report.pub")"
assert_eq "the secret key is mode 600" 600 "$(stat -c %a "$D/report.key")"
assert_match "the public key is one line of base64 of 32 bytes" '^[A-Za-z0-9+/]{43}=$' "$(cat "$D/report.pub")"
assert_eq "the public key is printed" "$(cat "$D/report.pub")" "$(sed -n 's/^public key .*: //p' "$OUT")"
KEY_BEFORE=$(cat "$D/report.key")
assert_eq "keys generate refuses to overwrite: exit 1" 1 \
	"$(rc_of coldtrace keys generate --secret-out "$D/report.key" --public-out "$D/other.pub")"
assert_match "… saying so" "already exists" "$(cat "$ERR")"
assert_eq "… and leaves both files as they were" "$KEY_BEFORE|absent" \
	"$(cat "$D/report.key")|$([ -e "$D/other.pub" ] && echo present || echo absent)"
assert_eq "keys generate without --public-out: exit 2" 2 "$(rc_of coldtrace keys generate --secret-out "$D/x.key")"
assert_eq "a second key pair (another signer)" 0 \
	"$(rc_of coldtrace keys generate --secret-out "$D/other.key" --public-out "$D/other.pub")"

# ---- sign and verify ---------------------------------------------------------------------
cat >"$D/report.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><body><p>Lot L2611: 2.5 °C max</p></body></html>
EOF
printf 'event,gtin,lot,time\nshipping,16912345678909,L2611,2026-11-22T03:00:00Z\n' >"$D/report.csv"
CONTENT_BYTES=$(size_of "$D/report.xml")

assert_eq "keys sign xml" 0 "$(rc_of coldtrace keys sign "$D/report.xml" --secret-key "$D/report.key" -o "$D/signed.xml")"
assert_eq "keys sign csv (style from the name, key from report_key_file)" 0 \
	"$(rc_of env COLDTRACE_REPORT_KEY_FILE="$D/report.key" "$COLDTRACE_BIN_DIR/coldtrace" keys sign "$D/report.csv" -o "$D/signed.csv")"
assert_eq "keys sign refuses to overwrite its output: exit 1" 1 \
	"$(rc_of coldtrace keys sign "$D/report.xml" --secret-key "$D/report.key" -o "$D/signed.xml")"
assert_eq "keys sign of a name that implies no style, without --style: exit 2" 2 \
	"$(rc_of coldtrace keys sign "$D/report.key" --secret-key "$D/report.key")"
assert_match "the xml trailer is an XML comment, the last line" \
	'^<!--coldtrace-signature v1 sha256=[0-9a-f]{64} ed25519=[A-Za-z0-9+/]{86}== key=[A-Za-z0-9+/]{43}=-->$' \
	"$(tail -n 1 "$D/signed.xml")"
assert_match "the csv trailer is a # line" '^#coldtrace-signature v1 sha256=[0-9a-f]{64} ' "$(tail -n 1 "$D/signed.csv")"
assert_eq "the content is kept byte for byte" "$(cat "$D/report.xml")" "$(head -c "$CONTENT_BYTES" "$D/signed.xml")"
assert_eq "the sha256 field is sha256sum of the content" \
	"$(head -c "$CONTENT_BYTES" "$D/signed.xml" | sha256sum | cut -d' ' -f1)" \
	"$(tail -n 1 "$D/signed.xml" | sed 's/.*sha256=\([0-9a-f]*\).*/\1/')"
if command -v xmllint >/dev/null; then
	assert_ok "the signed XHTML is still well-formed" xmllint --noout "$D/signed.xml"
fi

PUB=$(cat "$D/report.pub")
assert_eq "verify xml with --public-key: exit 0" 0 "$(rc_of coldtrace verify "$D/signed.xml" --public-key "$D/report.pub")"
assert_match "… one line: valid, with digest and key" "^$D/signed.xml: valid \\(sha256 [0-9a-f]{64}, key ${PUB//+/\\+}\\)$" "$(cat "$OUT")"
assert_eq "verify csv with the key from report_public_key_file: exit 0" 0 \
	"$(rc_of env COLDTRACE_REPORT_PUBLIC_KEY_FILE="$D/report.pub" "$COLDTRACE_BIN_DIR/coldtrace" verify "$D/signed.csv")"
assert_match "… valid" ": valid \\(sha256" "$(cat "$OUT")"

# verify_fails DESC FILE REASON-ERE: exit 1 and the INVALID line with that reason.
verify_fails() {
	local desc=$1 file=$2 re=$3
	assert_eq "$desc: exit 1" 1 "$(rc_of coldtrace verify "$file" --public-key "$D/report.pub")" &&
		assert_match "$desc: reason" "^$file: INVALID: $re" "$(cat "$OUT")"
}
tampered() { # NAME: a fresh copy of signed.xml
	cp "$D/signed.xml" "$D/$1"
	echo "$D/$1"
}

F=$(tampered content.xml)
flip "$F" 80
verify_fails "one content byte changed" "$F" "digest mismatch: the content changed"
F=$(tampered digest.xml)
flip "$F" $((CONTENT_BYTES + 40))
verify_fails "one byte of the sha256 field changed" "$F" "digest mismatch: the trailer's sha256 field was altered"
F=$(tampered sig.xml)
SIG_AT=$(($(tail -n 1 "$D/signed.xml" | grep -bo 'ed25519=' | cut -d: -f1) + CONTENT_BYTES + 8 + 5))
flip "$F" "$SIG_AT"
verify_fails "one byte of the signature changed" "$F" "signature invalid"
F=$(tampered version.xml)
poke "$F" $((CONTENT_BYTES + 25)) 2
verify_fails "the version byte changed" "$F" "malformed signature trailer: version"
F=$(tampered appended.xml)
printf '<!-- x -->\n' >>"$F"
verify_fails "data appended after the trailer" "$F" "11 bytes after the signature trailer"
F=$(tampered truncated.xml)
truncate -s -1 "$F"
verify_fails "the final newline cut off" "$F" "malformed signature trailer: the line has no line end \\(file truncated\\?\\)"
F=$(tampered cut.xml)
truncate -s "$CONTENT_BYTES" "$F"
verify_fails "the trailer cut off" "$F" "no signature trailer"
verify_fails "an unsigned file" "$D/report.csv" "no signature trailer"

assert_eq "signed by another key: exit 1" 1 "$(rc_of coldtrace verify "$D/signed.xml" --public-key "$D/other.pub")"
assert_match "… INVALID: signed by another key" "INVALID: signed by another key: ${PUB//+/\\+}, not the trusted key" "$(cat "$OUT")"
assert_eq "no trusted key at all: exit 1" 1 "$(rc_of coldtrace verify "$D/signed.xml")"
assert_match "… INVALID: signer not trusted, the signature itself consistent" \
	"INVALID: signer not trusted: the signature is consistent .*--public-key FILE or set report_public_key_file" "$(cat "$OUT")"
assert_eq "a file that does not exist: exit 1" 1 "$(rc_of coldtrace verify "$D/nonexistent.xml" --public-key "$D/report.pub")"
assert_eq "verify without FILE: exit 2" 2 "$(rc_of coldtrace verify)"

# ---- the secret key's mode ---------------------------------------------------------------
chmod 644 "$D/report.key"
assert_eq "keys sign with a secret key readable by others: exit 1" 1 \
	"$(rc_of coldtrace keys sign "$D/report.xml" --secret-key "$D/report.key" -o "$D/never.xml")"
assert_match "… saying the mode must be 0600 or tighter" "mode 0644: it must be 0600 or tighter" "$(cat "$ERR")"
assert_eq "… and writes nothing" absent "$([ -e "$D/never.xml" ] && echo present || echo absent)"

harness_end
