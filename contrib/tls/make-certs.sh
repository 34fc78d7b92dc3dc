#!/usr/bin/env bash
# make-certs.sh: a private certificate authority and the certificates a local coldtrace stack
# needs for TLS, made with the openssl CLI. For development and tests (contrib/devstack
# --tls) and as a worked example; production certificates come from your own CA.
#
#   contrib/tls/make-certs.sh DIR [--days N] [--client-cn NAME] [--force]
#
# Writes into DIR (created, mode 700):
#   ca.crt, ca.key          the CA (ECDSA P-256), CN "coldtrace local CA"
#   server.crt, server.key  CN localhost, subjectAltName DNS:localhost, IP:127.0.0.1, IP:::1,
#                           extendedKeyUsage serverAuth (mosquitto, or nginx in front of the API)
#   client.crt, client.key  CN coldtrace-client (--client-cn), extendedKeyUsage clientAuth
#                           (for brokers with require_certificate true)
# Keys are mode 600, certificates 644. Idempotent: a certificate that still verifies against
# the CA and has more than a day left is kept, so a second run changes nothing; --force makes
# everything anew. A new CA re-issues both leaf certificates.
set -euo pipefail

die() {
	printf 'make-certs: error: %s\n' "$*" >&2
	exit 1
}
say() { printf 'make-certs: %s\n' "$*" >&2; }

dir='' days=825 client_cn=coldtrace-client force=0
while [ $# -gt 0 ]; do
	case "$1" in
	--days)
		days=${2:?--days needs a value}
		shift
		;;
	--client-cn)
		client_cn=${2:?--client-cn needs a value}
		shift
		;;
	--force) force=1 ;;
	-h | --help)
		sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*) die "unknown option $1" ;;
	*)
		[ -z "$dir" ] || die "one directory only"
		dir=$1
		;;
	esac
	shift
done
[ -n "$dir" ] || die "usage: make-certs.sh DIR [--days N] [--client-cn NAME] [--force]"
[[ "$days" =~ ^[0-9]+$ ]] || die "--days wants a number of days"
command -v openssl >/dev/null || die "openssl not found"

mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
umask 077

# valid CERT: present, verifies against ca.crt, more than a day left.
valid() {
	[ -s "$1" ] && [ -s "${1%.crt}.key" ] || return 1
	openssl x509 -in "$1" -noout -checkend 86400 >/dev/null 2>&1 || return 1
	[ "$1" = ca.crt ] || openssl verify -CAfile ca.crt "$1" >/dev/null 2>&1
}

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# issue NAME SUBJECT EXTENSIONS: NAME.key, NAME.crt signed by the CA.
issue() {
	local name=$1 subj=$2 ext=$3
	newkey "$name.key.tmp"
	openssl req -new -key "$name.key.tmp" -subj "$subj" -out "$name.csr.tmp"
	printf '%s\n' "$ext" >"$name.ext.tmp"
	openssl x509 -req -in "$name.csr.tmp" -CA ca.crt -CAkey ca.key -CAcreateserial \
		-days "$days" -sha256 -extfile "$name.ext.tmp" -out "$name.crt.tmp" 2>/dev/null
	rm -f "$name.csr.tmp" "$name.ext.tmp"
	chmod 600 "$name.key.tmp"
	chmod 644 "$name.crt.tmp"
	mv -f "$name.key.tmp" "$name.key"
	mv -f "$name.crt.tmp" "$name.crt"
	say "issued $dir/$name.crt ($subj)"
}

if [ $force = 1 ] || ! valid ca.crt; then
	newkey ca.key.tmp
	openssl req -x509 -new -key ca.key.tmp -sha256 -days "$((days + 365))" \
		-subj "/O=coldtrace/CN=coldtrace local CA" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" -out ca.crt.tmp
	chmod 600 ca.key.tmp
	chmod 644 ca.crt.tmp
	mv -f ca.key.tmp ca.key
	mv -f ca.crt.tmp ca.crt
	rm -f server.crt client.crt ca.srl
	say "new CA $dir/ca.crt"
fi

if [ $force = 1 ] || ! valid server.crt; then
	issue server "/O=coldtrace/CN=localhost" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash"
fi

if [ $force = 1 ] || ! valid client.crt ||
	[ "$(openssl x509 -in client.crt -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= //p')" != "$client_cn" ]; then
	issue client "/O=coldtrace/CN=$client_cn" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
authorityKeyIdentifier=keyid
subjectKeyIdentifier=hash"
fi

exit 0
