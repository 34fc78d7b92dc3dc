#!/usr/bin/env bash
# test_install: `make install DESTDIR=… PREFIX=/usr` lays out a tree a package or an admin can
# use: every program (coldtrace-api when the API is in the tree), the SQL, the sample config
# and examples, systemd units pointing at the installed programs with the hardening and stop
# behaviour we rely on (they pass `systemd-analyze verify` where it exists), the sysusers.d
# entry, the OpenAPI document when there is one; and the installed CLI runs. A second install
# with PREFIX=/usr/local rewrites the units' paths. No stack is needed.
set -uo pipefail
# shellcheck source=tests/lib/harness.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
# shellcheck source=tests/lib/nostack.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib/nostack.sh"

nostack_begin install
REPO=$HARNESS_REPO
BUILD=${BUILD:-build}
root=$HARNESS_DIR/root

if ! make -C "$REPO" -s install BUILD="$BUILD" DESTDIR="$root" PREFIX=/usr \
	>"$HARNESS_DIR/logs/install.log" 2>&1; then
	fail "make install DESTDIR=… PREFIX=/usr (log $HARNESS_DIR/logs/install.log)"
	tail -n 20 "$HARNESS_DIR/logs/install.log" | sed 's/^/#   /'
	nostack_end
	exit 1
fi
pass "make install DESTDIR=… PREFIX=/usr"

# --- programs ------------------------------------------------------------------------------
programs=(coldtrace coldtrace-ingest coldtrace-monitor coldtrace-sim)
api=0
if compgen -G "$REPO/services/api/*.c" >/dev/null; then
	api=1
	programs+=(coldtrace-api)
fi
for p in "${programs[@]}"; do
	if [ -f "$root/usr/bin/$p" ] && [ -x "$root/usr/bin/$p" ]; then
		pass "program $p installed in /usr/bin, executable"
	else
		fail "program $p missing or not executable in $root/usr/bin"
	fi
done
assert_eq "nothing but the programs in /usr/bin" "$(printf '%s\n' "${programs[@]}" | sort)" \
	"$(ls -1 "$root/usr/bin" | sort)"

help=$("$root/usr/bin/coldtrace" --help 2>&1)
rc=$?
assert_eq "installed coldtrace --help exits 0" 0 "$rc"
assert_match "installed coldtrace --help prints its usage" '[Uu]sage' "$help"

# --- data ------------------------------------------------------------------------------
share=$root/usr/share/coldtrace
missing=0
for f in "$REPO"/sql/migrations/*.sql; do
	[ -f "$share/sql/migrations/$(basename "$f")" ] || { missing=$((missing + 1)); note "missing migration $(basename "$f")"; }
done
for f in "$REPO"/sql/*.sql; do
	[ -f "$share/sql/$(basename "$f")" ] || { missing=$((missing + 1)); note "missing $(basename "$f")"; }
done
assert_eq "every migration and re-runnable SQL file installed under /usr/share/coldtrace/sql" 0 "$missing"
for f in coldtrace.conf.sample coldtrace.env.sample coldtrace-api.conf make-certs.sh; do
	assert_ok "example $f installed" test -s "$share/examples/$f"
done
assert_ok "sysusers.d entry for the coldtrace user" grep -q '^u coldtrace ' "$root/usr/lib/sysusers.d/coldtrace.conf"

openapi=()
for f in "$REPO"/services/api/openapi.*; do
	[ -f "$f" ] && openapi+=("$(basename "$f")")
done
if [ ${#openapi[@]} -gt 0 ]; then
	for f in "${openapi[@]}"; do
		assert_ok "OpenAPI document $f installed" cmp -s "$REPO/services/api/$f" "$share/$f"
	done
else
	skip "no services/api/openapi.* in the tree yet: OpenAPI install not checked"
fi

# --- systemd units -------------------------------------------------------------------------
unitdir=$root/usr/lib/systemd/system
units=(coldtrace-ingest coldtrace-monitor)
[ $api = 0 ] || units+=(coldtrace-api)
for u in "${units[@]}"; do
	f=$unitdir/$u.service
	if ! [ -f "$f" ]; then
		fail "unit $u.service not installed in /usr/lib/systemd/system"
		continue
	fi
	pass "unit $u.service installed"
	assert_ok "$u: ExecStart is the installed /usr/bin/$u" grep -qx "ExecStart=/usr/bin/$u" "$f"
	assert_ok "$u: ExecStart names an installed program" test -x "$root$(sed -n 's/^ExecStart=//p' "$f" | cut -d' ' -f1)"
	bad=0
	for line in Type=simple User=coldtrace KillSignal=SIGTERM Restart=on-failure \
		NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
		'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'CapabilityBoundingSet=' \
		'EnvironmentFile=-/etc/coldtrace/coldtrace.env' \
		'Environment=COLDTRACE_CONFIG=/etc/coldtrace/coldtrace.conf' \
		'Environment=COLDTRACE_SQL_DIR=/usr/share/coldtrace/sql'; do
		grep -qxF -- "$line" "$f" || { bad=1; fail "$u: no line '$line'"; }
	done
	[ $bad = 1 ] || pass "$u: user, stop signal, restart policy, hardening and config lines present"
done
if [ $api = 0 ]; then
	assert_fails "no API unit without the API" test -e "$unitdir/coldtrace-api.service"
fi

if command -v systemd-analyze >/dev/null 2>&1; then
	# Against this machine's systemd, with ExecStart pointed into the installed tree (--root
	# would need a whole system's units there: sysinit.target and the like).
	mkdir -p "$HARNESS_DIR/verify"
	for u in "${units[@]}"; do
		sed "s|^ExecStart=/|ExecStart=$root/|" "$unitdir/$u.service" >"$HARNESS_DIR/verify/$u.service"
		if out=$(systemd-analyze verify "$HARNESS_DIR/verify/$u.service" 2>&1) && [ -z "$out" ]; then
			pass "systemd-analyze verify $u.service"
		else
			fail "systemd-analyze verify $u.service: $out"
		fi
	done
else
	skip "systemd-analyze not installed: units not verified"
fi

# --- another prefix ------------------------------------------------------------------------
root2=$HARNESS_DIR/root-local
if make -C "$REPO" -s install BUILD="$BUILD" DESTDIR="$root2" PREFIX=/usr/local \
	>"$HARNESS_DIR/logs/install-local.log" 2>&1; then
	f=$root2/usr/local/lib/systemd/system/coldtrace-ingest.service
	assert_ok "PREFIX=/usr/local: unit runs /usr/local/bin/coldtrace-ingest" \
		grep -qx 'ExecStart=/usr/local/bin/coldtrace-ingest' "$f"
	assert_ok "PREFIX=/usr/local: config in /usr/local/etc/coldtrace" \
		grep -qx 'Environment=COLDTRACE_CONFIG=/usr/local/etc/coldtrace/coldtrace.conf' "$f"
	assert_ok "PREFIX=/usr/local: SQL dir under /usr/local/share" \
		grep -qx 'Environment=COLDTRACE_SQL_DIR=/usr/local/share/coldtrace/sql' "$f"
	assert_eq "PREFIX=/usr/local: nothing installed outside DESTDIR/usr/local" usr/local \
		"$(cd "$root2" && find . -mindepth 2 -maxdepth 2 | sed 's|^\./||')"
else
	fail "make install PREFIX=/usr/local (log $HARNESS_DIR/logs/install-local.log)"
fi

nostack_end
