#!/usr/bin/env bash
# deps.sh: make sure the Debian 12 packages coldtrace needs to build and test are installed
# (`make deps`, run before `make check`, `make demo`, `make bench`).
#
# Fast path: one dpkg-query for the whole list, nothing else, when all is present.
# Missing packages are installed with apt-get when we are root; otherwise the exact command
# to run is printed and we exit 1. No system service is started by the installation: a
# policy-rc.d that refuses every start is put in place for its duration (unless one exists).
#
# Package names checked against Debian 12 (bookworm): there is no postgresql-contrib-15 —
# postgresql-15 carries contrib (btree_gist …). `pgtap` brings pg_prove, `postgresql-15-pgtap`
# the extension for our server version. nodejs/npm are only for the benchmark peer and are
# optional: a NodeSource nodejs provides npm itself, so they are checked by command.
set -euo pipefail

required=(
	build-essential pkg-config
	libpq-dev postgresql-15 postgresql-15-postgis-3 pgtap postgresql-15-pgtap
	mosquitto mosquitto-clients libmosquitto-dev
	libjsmn-dev libcjson-dev libcmocka-dev libsodium-dev libssl-dev libxml2-dev
	libmicrohttpd-dev libcurl4-openssl-dev libxml2-utils
	chromium fonts-wqy-microhei wrk clang libclang-rt-14-dev
	python3 procps iproute2 curl
)

# Prints the packages of "$@" that are not installed.
missing_of() {
	local out
	# dpkg-query exits non-zero when a package is unknown to dpkg; its stdout still lists
	# the known ones, so an unknown package is simply absent from the "installed" set.
	out=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "$@" 2>/dev/null || true)
	local p
	for p in "$@"; do
		if ! grep -qx "$p installed" <<<"$out"; then
			printf '%s\n' "$p"
		fi
	done
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	echo "deps: dpkg-query not found; this script knows Debian 12 only." >&2
	echo "deps: install the equivalents of: ${required[*]}" >&2
	exit 1
fi

mapfile -t missing < <(missing_of "${required[@]}")

optional=()
command -v node >/dev/null 2>&1 || optional+=(nodejs)
command -v npm >/dev/null 2>&1 || optional+=(npm)

if ((${#missing[@]} == 0 && ${#optional[@]} == 0)); then
	exit 0
fi

# Installing the optional packages is tried once (a marker under build/ remembers it), so a
# machine whose apt sources lack them does not pay an `apt-get update` on every `make check`.
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
marker="$repo/${BUILD:-build}/.deps-optional-tried"
if ((${#missing[@]} == 0)); then
	if [ "$(id -u)" -ne 0 ] || [ -e "$marker" ]; then
		echo "deps: optional (benchmark peer only) not installed: ${optional[*]}" >&2
		exit 0
	fi
fi

apt_cmd="apt-get update && apt-get install -y --no-install-recommends"

if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing packages: ${missing[*]}" >&2
	echo "deps: install them with:" >&2
	echo "  sudo sh -c 'DEBIAN_FRONTEND=noninteractive $apt_cmd ${missing[*]}'" >&2
	if ((${#optional[@]})); then
		echo "deps: optional, for the benchmark peer only: sudo apt-get install -y ${optional[*]}" >&2
	fi
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Keep maintainer scripts from starting services (postgresql's "15 main" cluster, the system
# mosquitto): our stacks run their own instances on free loopback ports.
export RUNLEVEL=1
guard=/usr/sbin/policy-rc.d
guard_ours=0
if [ ! -e "$guard" ]; then
	printf '#!/bin/sh\n# temporary, from coldtrace contrib/deps.sh\nexit 101\n' >"$guard"
	chmod 755 "$guard"
	guard_ours=1
fi
cleanup() {
	if [ "$guard_ours" = 1 ]; then
		rm -f "$guard"
	fi
}
trap cleanup EXIT

apt-get update
if ((${#missing[@]})); then
	echo "deps: installing: ${missing[*]}" >&2
	apt-get install -y --no-install-recommends "${missing[@]}"
fi
if ((${#optional[@]})); then
	echo "deps: installing optional (benchmark peer): ${optional[*]}" >&2
	mkdir -p "$(dirname "$marker")" && touch "$marker"
	if ! apt-get install -y --no-install-recommends "${optional[@]}"; then
		echo "deps: warning: could not install ${optional[*]}; the Node.js benchmark peer will be skipped" >&2
	fi
fi

mapfile -t still < <(missing_of "${required[@]}")
if ((${#still[@]})); then
	echo "deps: still missing after apt-get: ${still[*]}" >&2
	exit 1
fi
echo "deps: all required packages installed" >&2
