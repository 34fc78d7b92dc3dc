#!/usr/bin/env bash
# test_stack: the throwaway stack itself. PostgreSQL answers and holds the migrated schema;
# the broker pins each device to its own topics, refuses anonymous and wrong logins, and
# keeps retained messages and persistent sessions across a restart (what the retained acks
# and the ingest's session rely on).
set -uo pipefail
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"

harness_begin stack

# --- PostgreSQL ---------------------------------------------------------------------------
assert_ok "psql -c 'select 1' works with the stack's environment" psql -X -c 'select 1'
assert_eq "connected as coldtrace to database coldtrace" "coldtrace|coldtrace" \
	"$(sql 'SELECT current_user, current_database()')"
assert_eq "server is on loopback" "127.0.0.1" "$(sql "SELECT host(inet_server_addr())")"
assert_eq "fsync is on" on "$(sql 'SHOW fsync')"
assert_eq "synchronous_commit is on" on "$(sql 'SHOW synchronous_commit')"

# The CLI records applied migrations in a table of its choosing; find it by name.
n_files=$(find "$HARNESS_REPO/sql/migrations" -name '*.sql' | wc -l)
mig_table=$(sql "SELECT format('%I.%I', table_schema, table_name) FROM information_schema.tables
                 WHERE table_name ILIKE '%migration%' ORDER BY 1 LIMIT 1")
if [ -n "$mig_table" ]; then
	assert_ge "migrations recorded in $mig_table" "$n_files" "$(sql "SELECT count(*) FROM $mig_table")"
else
	fail "no table recording the applied migrations (looked for *migration*)"
fi
assert_eq "migrated schema present (coldtrace.devices)" t \
	"$(sql "SELECT to_regclass('coldtrace.devices') IS NOT NULL")"

# --- broker: accounts and ACL -----------------------------------------------------------
ingest_pw=$COLDTRACE_MQTT_PASSWORD_FILE
tag=$$-$RANDOM

register_device dev-a && pass "device dev-a registered and accepted by the broker"
register_device dev-b && pass "device dev-b registered and accepted by the broker"
pw_a=$(device_password_file dev-a)

# The ingest's view of the uplinks; -d prints the SUBACK, so we know when it listens
# (stdbuf: mosquitto_sub flushes its stdout after messages only, not after debug lines).
HARNESS_SPAWN_NAME=ingest-sub harness_spawn stdbuf -oL mosquitto_sub -h "$COLDTRACE_MQTT_HOST" \
	-p "$COLDTRACE_MQTT_PORT" -u "$COLDTRACE_MQTT_USERNAME" -P "$(head -n 1 "$ingest_pw")" \
	-i "test-ingest-$tag" -q 1 -v -d -t 'coldtrace/v1/dev/+/up'
sub_log=$SPAWNED_LOG
wait_for_log "ingest account subscribed to coldtrace/v1/dev/+/up" 20 "$sub_log" SUBACK "$SPAWNED_PID"

mqtt_pub dev-a "$pw_a" -q 1 -t coldtrace/v1/dev/dev-a/up -m "own-$tag"
wait_for "device publishes on its own up topic; the ingest account receives it" 20 \
	grep -qxF "coldtrace/v1/dev/dev-a/up own-$tag" "$sub_log" &&
	pass "device publishes on its own up topic; the ingest account receives it"

# A denied QoS 1 publish is acknowledged and dropped by mosquitto, so the publisher cannot
# tell. Publish a marker on dev-a's own topic afterwards: messages reach the subscriber in
# the order the broker handled them, so once the marker is in, the spoof would be too.
mqtt_pub dev-a "$pw_a" -q 1 -t coldtrace/v1/dev/dev-b/up -m "spoof-$tag"
mqtt_pub dev-a "$pw_a" -q 1 -t coldtrace/v1/dev/dev-a/up -m "marker-$tag"
if wait_for "marker after the spoofed publish arrives" 20 \
	grep -qxF "coldtrace/v1/dev/dev-a/up marker-$tag" "$sub_log"; then
	if grep -qF "spoof-$tag" "$sub_log"; then
		fail "a device can publish on another device's topic"
	else
		pass "a device cannot publish on another device's topic"
	fi
fi

assert_fails "anonymous connection refused" mosquitto_pub -h "$COLDTRACE_MQTT_HOST" \
	-p "$COLDTRACE_MQTT_PORT" -q 1 -t coldtrace/v1/dev/dev-a/up -m anon
bad_pw=$HARNESS_DIR/bad.password
echo not-the-password >"$bad_pw"
assert_fails "wrong password refused" mqtt_can_connect dev-a "$bad_pw"
assert_fails "unknown user refused" mqtt_can_connect nobody-here "$pw_a"

# --- broker: persistence across a restart ------------------------------------------------
ack="{\"v\":1,\"device\":\"dev-a\",\"acked_seq\":$RANDOM}"
mqtt_pub "$COLDTRACE_MQTT_USERNAME" "$ingest_pw" -q 1 -r -t coldtrace/v1/dev/dev-a/ack -m "$ack"
assert_eq "device reads its retained ack" "$ack" \
	"$(mqtt_sub dev-a "$pw_a" -t coldtrace/v1/dev/dev-a/ack -C 1 -W 10)"

# A persistent session (fixed id, clean_session false) that is away while a device publishes.
session=test-persist-$tag
HARNESS_SPAWN_NAME=persist-sub harness_spawn stdbuf -oL mosquitto_sub -h "$COLDTRACE_MQTT_HOST" \
	-p "$COLDTRACE_MQTT_PORT" -u "$COLDTRACE_MQTT_USERNAME" -P "$(head -n 1 "$ingest_pw")" \
	-i "$session" -c -q 1 -v -d -t 'coldtrace/v1/dev/+/up'
wait_for_log "persistent subscriber subscribed" 20 "$SPAWNED_LOG" SUBACK "$SPAWNED_PID"
stop_pid "$SPAWNED_PID"
mqtt_pub dev-a "$pw_a" -q 1 -t coldtrace/v1/dev/dev-a/up -m "queued-$tag"

assert_ok "devstack broker-stop" devstack broker-stop
assert_fails "broker is down" mqtt_can_connect dev-a "$pw_a"
assert_ok "devstack broker-start" devstack broker-start
wait_for "broker back on the same port" 30 mqtt_can_connect dev-a "$pw_a" &&
	pass "broker back on the same port"

assert_eq "retained ack survives a broker restart" "$ack" \
	"$(mqtt_sub dev-a "$pw_a" -t coldtrace/v1/dev/dev-a/ack -C 1 -W 10)"

HARNESS_SPAWN_NAME=persist-sub harness_spawn stdbuf -oL mosquitto_sub -h "$COLDTRACE_MQTT_HOST" \
	-p "$COLDTRACE_MQTT_PORT" -u "$COLDTRACE_MQTT_USERNAME" -P "$(head -n 1 "$ingest_pw")" \
	-i "$session" -c -q 1 -v -t 'coldtrace/v1/dev/+/up'
wait_for "message queued for a persistent session survives a broker restart" 20 \
	grep -qxF "coldtrace/v1/dev/dev-a/up queued-$tag" "$SPAWNED_LOG" &&
	pass "message queued for a persistent session survives a broker restart"

# --- PostgreSQL restart keeps data and port ----------------------------------------------
assert_ok "devstack pg-stop" devstack pg-stop
assert_fails "database is down" sql 'SELECT 1'
assert_ok "devstack pg-start" devstack pg-start
assert_eq "database back on the same port with its data" 2 \
	"$(sql "SELECT count(*) FROM coldtrace.devices WHERE id IN ('dev-a', 'dev-b')")"

harness_end
