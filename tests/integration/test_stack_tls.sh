#!/usr/bin/env bash
# test_stack_tls: what devstack adds beside PostgreSQL and the plain broker. `start --tls` on a
# running stack adds a mosquitto TLS listener on its own port with certificates from
# contrib/tls/make-certs.sh (CA, server cert for 127.0.0.1/localhost, client cert), keeps the
# plain listener and its clients working, and survives a broker restart; `env` exports the
# API port, the EPCIS schema dir, the report signing key pair and the TLS port and CA;
# `env --tls` points the ingest at the TLS listener, and it runs there.
set -uo pipefail
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

harness_begin stack_tls

# --- env of a plain stack ------------------------------------------------------------------
assert_match "COLDTRACE_API_PORT is a port" '^[0-9]+$' "${COLDTRACE_API_PORT:-}"
if [ "${COLDTRACE_API_PORT:-}" != "$PGPORT" ] && [ "${COLDTRACE_API_PORT:-}" != "$COLDTRACE_MQTT_PORT" ]; then
	pass "the API port differs from PostgreSQL's and mosquitto's"
else
	fail "API port $COLDTRACE_API_PORT collides with PostgreSQL $PGPORT or mosquitto $COLDTRACE_MQTT_PORT"
fi
if [ -d "$HARNESS_REPO/../shared/epcis/xsd" ]; then
	assert_eq "COLDTRACE_EPCIS_SCHEMA_DIR is the absolute ../shared/epcis/xsd" \
		"$(realpath "$HARNESS_REPO/../shared/epcis/xsd")" "${COLDTRACE_EPCIS_SCHEMA_DIR:-}"
else
	assert_eq "no COLDTRACE_EPCIS_SCHEMA_DIR without ../shared/epcis/xsd" "" "${COLDTRACE_EPCIS_SCHEMA_DIR:-}"
fi
if coldtrace keys generate --help >/dev/null 2>&1; then
	assert_ok "report signing key made, mode 600" test "$(stat -c %a "${COLDTRACE_REPORT_KEY_FILE:-/nonexistent}")" = 600
	assert_ok "report public key made" test -s "${COLDTRACE_REPORT_PUBLIC_KEY_FILE:-/nonexistent}"
	key_before=$(cat "$COLDTRACE_REPORT_KEY_FILE")
else
	note "the CLI has no 'keys generate': no report key expected"
	assert_eq "no COLDTRACE_REPORT_KEY_FILE without keys generate" "" "${COLDTRACE_REPORT_KEY_FILE:-}"
	key_before=
fi
assert_eq "a plain stack exports no TLS port" "" "${COLDTRACE_MQTT_TLS_PORT:-}"
assert_fails "env --tls refused on a stack without TLS" devstack env --tls
plain_port=$COLDTRACE_MQTT_PORT
api_port=$COLDTRACE_API_PORT

# --- turning TLS on --------------------------------------------------------------------------
assert_ok "devstack start --tls on the running stack" devstack start --tls
eval "$(devstack env)"
assert_eq "plain port unchanged" "$plain_port" "$COLDTRACE_MQTT_PORT"
assert_eq "API port unchanged" "$api_port" "$COLDTRACE_API_PORT"
assert_eq "no COLDTRACE_MQTT_CAFILE beside the plain port" "" "${COLDTRACE_MQTT_CAFILE:-}"
assert_match "COLDTRACE_MQTT_TLS_PORT is a port" '^[0-9]+$' "${COLDTRACE_MQTT_TLS_PORT:-}"
tls_port=$COLDTRACE_MQTT_TLS_PORT
ca=${COLDTRACE_MQTT_TLS_CAFILE:-}
tls_dir=$(dirname "$ca")
assert_ok "CA certificate present" test -s "$ca"
assert_ok "server certificate verifies against the CA" openssl verify -CAfile "$ca" "$tls_dir/server.crt"
assert_ok "client certificate verifies against the CA" openssl verify -CAfile "$ca" "$tls_dir/client.crt"
assert_match "server certificate names 127.0.0.1 and localhost" 'DNS:localhost.*IP Address:127\.0\.0\.1' \
	"$(openssl x509 -in "$tls_dir/server.crt" -noout -ext subjectAltName 2>/dev/null | tr '\n' ' ')"
assert_eq "server and client keys are mode 600" "600 600" \
	"$(stat -c %a "$tls_dir/server.key") $(stat -c %a "$tls_dir/client.key")"
sum_before=$(cat "$tls_dir"/*.crt | sha256sum)
assert_ok "make-certs.sh run again" "$HARNESS_REPO/contrib/tls/make-certs.sh" "$tls_dir"
assert_eq "make-certs.sh is idempotent (certificates kept)" "$sum_before" "$(cat "$tls_dir"/*.crt | sha256sum)"

register_device dev-t && pass "device registered; plain listener accepts it"
pw=$(device_password_file dev-t)
tls_sub() {
	mosquitto_sub -h 127.0.0.1 -p "$tls_port" "$@"
}
assert_ok "TLS listener: device connects with the CA and its password" \
	tls_sub --cafile "$ca" -u dev-t -P "$(head -n 1 "$pw")" -i "tls-probe-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5
assert_ok "TLS listener: by name localhost too" \
	mosquitto_sub -h localhost -p "$tls_port" --cafile "$ca" -u dev-t -P "$(head -n 1 "$pw")" \
	-i "tls-probe2-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5
assert_fails "TLS listener: wrong password refused" \
	tls_sub --cafile "$ca" -u dev-t -P wrong -i "tls-bad-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5
assert_fails "TLS listener: anonymous refused" \
	tls_sub --cafile "$ca" -i "tls-anon-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5
assert_fails "TLS listener: a client without the CA does not trust it" \
	tls_sub --capath /nonexistent-capath -u dev-t -P "$(head -n 1 "$pw")" -i "tls-noca-$$" \
	-t coldtrace/v1/dev/dev-t/ack -E -W 5
assert_fails "TLS listener does not speak plain MQTT" \
	tls_sub -u dev-t -P "$(head -n 1 "$pw")" -i "tls-plain-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5
assert_ok "TLS listener: ACLs apply (device reads its ack over TLS with the client certificate too)" \
	tls_sub --cafile "$ca" --cert "$tls_dir/client.crt" --key "$tls_dir/client.key" -u dev-t \
	-P "$(head -n 1 "$pw")" -i "tls-cert-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5

# --- restart keeps it ------------------------------------------------------------------------
assert_ok "devstack broker-stop" devstack broker-stop
assert_ok "devstack broker-start" devstack broker-start
wait_for "TLS listener back on the same port" 30 tls_sub --cafile "$ca" -u dev-t -P "$(head -n 1 "$pw")" \
	-i "tls-again-$$" -t coldtrace/v1/dev/dev-t/ack -E -W 5 && pass "TLS listener back on the same port"
assert_ok "plain start is idempotent and keeps TLS" devstack start
assert_eq "TLS port kept in stack.env" "$tls_port" "$(devstack env | sed -n 's/^export COLDTRACE_MQTT_TLS_PORT=//p')"
if [ -n "$key_before" ]; then
	assert_eq "report key kept across starts" "$key_before" "$(cat "$COLDTRACE_REPORT_KEY_FILE")"
fi

# --- env --tls and the ingest over TLS ---------------------------------------------------------
tls_env=$(devstack env --tls)
assert_match "env --tls: COLDTRACE_MQTT_PORT is the TLS port" "export COLDTRACE_MQTT_PORT=$tls_port" "$tls_env"
assert_match "env --tls: COLDTRACE_MQTT_CAFILE is the CA" "export COLDTRACE_MQTT_CAFILE=$ca" "$tls_env"
assert_match "env --tls: the plain port stays known" "export COLDTRACE_MQTT_PLAIN_PORT=$plain_port" "$tls_env"
# In a subshell so the TLS environment stays there; the ingest is stopped inside it.
if (
	eval "$tls_env"
	start_ingest >/dev/null
	ok=1
	grep -qF "$INGEST_READY_PATTERN" "$INGEST_LOG" 2>/dev/null || ok=0
	stop_pid "$INGEST_PID" 30
	[ $ok = 1 ]
); then
	pass "coldtrace-ingest connects and subscribes through the TLS listener (env --tls)"
else
	fail "coldtrace-ingest over TLS did not get ready (logs in $HARNESS_DIR/logs)"
fi

harness_end
