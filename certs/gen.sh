#!/bin/bash
# Generate modemsim's test PKI: a CA, server and client certificates, and deliberately broken
# variants for negative tests. See certs/README.md; OUTDIR/README lists every file.
#
#   certs/gen.sh OUTDIR [--names "host1,*.wild.example,..."] [--force]
#
# Idempotent: OUTDIR/.complete holds a hash of the inputs (the names and this script); when it
# matches, nothing is done. Concurrent runs on the same OUTDIR serialise on OUTDIR.lock, and a
# new PKI is built in a temporary sibling directory and moved into place only when complete, so
# a reader never sees half a PKI.
#
# Written for OpenSSL 3.0 (Debian 12). Its `openssl x509` has no -not_before/-not_after (added
# in 3.4), so every certificate is issued with `openssl ca`, whose -startdate/-enddate set any
# validity window, including windows in the past (expired) and in the future (not yet valid).
set -euo pipefail

# Default server names besides localhost/127.0.0.1/::1, so firmware configured for a cloud
# endpoint runs unchanged once its host name resolves to the test broker. AWS IoT data endpoints
# are "<prefix>-ats.iot.<region>.amazonaws.com" and a wildcard covers one label only (RFC 6125
# 6.4.3), hence one wildcard per region; "*.amazonaws.com" covers single-label service names.
DEFAULT_NAMES="*.iot.us-east-1.amazonaws.com,*.iot.us-east-2.amazonaws.com,\
*.iot.us-west-2.amazonaws.com,*.iot.eu-west-1.amazonaws.com,*.iot.eu-central-1.amazonaws.com,\
*.iot.ap-southeast-1.amazonaws.com,*.iot.ap-northeast-1.amazonaws.com,*.amazonaws.com,\
*.azure-devices.net,broker.modemsim.test,*.modemsim.test"

# Password of the encrypted client keys (client-rsa-enc.key, client-rsa-enc-pkcs8.key).
KEY_PASSWORD="modemsim"

# Validity windows. Good certificates start a day in the past so a clock a little behind the
# host's still accepts them. The broken windows are fixed dates and stay in UTCTime (before
# 2050, RFC 5280 4.1.2.5) so a parser fails on the date, not on the time encoding.
GOOD_DAYS=3650
# The CAs' window contains both broken windows, so those certificates fail on their own dates
# only (verifying at a time inside their window succeeds; the tests check that).
CA_START="191231000000Z"
CA_END="491231235959Z"
EXPIRED_START="200101000000Z"
EXPIRED_END="200102000000Z"
NOTYET_START="490101000000Z"
NOTYET_END="491231235959Z"

usage() {
	echo "usage: $0 OUTDIR [--names \"a.example,*.b.example\"] [--force]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
OUTDIR=$1
shift
NAMES=$DEFAULT_NAMES
FORCE=0
while [ $# -gt 0 ]; do
	case $1 in
	--names)
		[ $# -ge 2 ] || usage
		NAMES=$2
		shift 2
		;;
	--force)
		FORCE=1
		shift
		;;
	*) usage ;;
	esac
done

case $OUTDIR in
/*) ;;
*) OUTDIR=$PWD/$OUTDIR ;;
esac
OUTDIR=${OUTDIR%/}

# subjectAltName lines for the good server certificates. An address gets an IP entry (RFC 2818
# 3.1), and an IPv4 address also a DNS entry with the same text: mbedTLS 2.28, the simulator's
# TLS library, matches a host name against DNS entries only (checked here: "127.0.0.1" fails
# against an IP entry alone), so firmware that connects to an address and checks the name
# still passes.
san="DNS.1 = localhost
DNS.2 = 127.0.0.1
IP.1 = 127.0.0.1
IP.2 = ::1"
d=3
ip=3
IFS=, read -r -a name_list <<<"$NAMES"
for n in "${name_list[@]}"; do
	n=$(echo "$n" | tr -d '[:space:]')
	[ -n "$n" ] || continue
	if [[ $n =~ ^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*$ ]]; then
		# IPv6: no DNS twin, a colon has no place in a DNS name.
		san="$san
IP.$ip = $n"
		ip=$((ip + 1))
		continue
	elif [[ $n =~ ^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$ ]]; then
		san="$san
IP.$ip = $n"
		ip=$((ip + 1))
	elif [[ ! $n =~ ^[A-Za-z0-9*_.-]+$ ]]; then
		echo "$0: not a host name or address: $n" >&2
		exit 2
	fi
	san="$san
DNS.$d = $n"
	d=$((d + 1))
done

SELF=$(readlink -f "$0")
INPUTS=$(printf 'names=%s\nscript=%s\n' "$NAMES" "$(sha256sum <"$SELF" | cut -d' ' -f1)" |
	sha256sum | cut -d' ' -f1)

mkdir -p "$(dirname "$OUTDIR")"
exec 9>"$OUTDIR.lock"
flock -w 300 9 || {
	echo "$0: timed out waiting for $OUTDIR.lock" >&2
	exit 1
}

if [ $FORCE -eq 0 ] && [ -f "$OUTDIR/.complete" ] &&
	[ "$(cat "$OUTDIR/.complete")" = "$INPUTS" ]; then
	exit 0
fi

TMP=$(mktemp -d "$OUTDIR.tmp.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
W=$TMP/.work
mkdir -p "$W/new"
: >"$W/index.txt"
# A random positive 64-bit serial start, so two generated PKIs never share issuer+serial.
printf '10%s\n' "$(openssl rand -hex 7)" >"$W/serial"

cat >"$W/openssl.cnf" <<EOF
[ca]
default_ca = ca_default

[ca_default]
database = $W/index.txt
new_certs_dir = $W/new
serial = $W/serial
default_md = sha256
policy = policy_any
unique_subject = no
email_in_dn = no
# Keep the subject's field order as requested.
preserve = yes
# Extensions come from -extensions only, never from the request.
copy_extensions = none

[policy_any]
organizationName = optional
organizationalUnitName = optional
commonName = optional

[req]
distinguished_name = req_dn
prompt = no

[req_dn]
CN = unused

[ext_ca]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

# keyEncipherment: the M95 offers only RSA key exchange suites, where the client encrypts the
# premaster secret to this key (RFC 5246 7.4.2); mbedTLS checks the bit for those suites.
[ext_server_rsa]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @san_good

# keyAgreement too, for the static ECDH_ECDSA suites (RFC 8422 5.10).
[ext_server_ec]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyAgreement
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = @san_good

[ext_server_wronghost]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = DNS:wrong-host.invalid

[ext_client]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid

[san_good]
$san
EOF

OSSL_CNF=$W/openssl.cnf
export OPENSSL_CONF=$OSSL_CNF

rsa_key() { openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"; }
ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; }

# issue KEY SUBJECT EXTENSIONS START END OUT [CA_CERT CA_KEY]  (no CA: self-signed)
issue() {
	local key=$1 subj=$2 ext=$3 start=$4 end=$5 out=$6 cacert=${7:-} cakey=${8:-}
	openssl req -new -config "$OSSL_CNF" -key "$key" -subj "$subj" -out "$W/req.csr"
	if [ -z "$cacert" ]; then
		openssl ca -batch -config "$OSSL_CNF" -selfsign -keyfile "$key" -in "$W/req.csr" \
			-extensions "$ext" -startdate "$start" -enddate "$end" -notext \
			-out "$out" 2>"$W/ca.log" || { cat "$W/ca.log" >&2; return 1; }
	else
		openssl ca -batch -config "$OSSL_CNF" -cert "$cacert" -keyfile "$cakey" \
			-in "$W/req.csr" -extensions "$ext" -startdate "$start" -enddate "$end" \
			-notext -out "$out" 2>"$W/ca.log" || { cat "$W/ca.log" >&2; return 1; }
	fi
}

now_minus_day=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
good_end=$(date -u -d "$GOOD_DAYS days" +%Y%m%d%H%M%SZ)
O="/O=modemsim test PKI"

# The CAs.
rsa_key ca.key
issue ca.key "$O/CN=modemsim test CA" ext_ca "$CA_START" "$CA_END" ca.pem
rsa_key other-ca.key
issue other-ca.key "$O/CN=modemsim other CA" ext_ca "$CA_START" "$CA_END" other-ca.pem

# Good servers.
rsa_key server.key
issue server.key "$O/CN=broker.modemsim.test" ext_server_rsa "$now_minus_day" "$good_end" \
	server.pem ca.pem ca.key
ec_key server-ec.key
issue server-ec.key "$O/CN=broker.modemsim.test" ext_server_ec "$now_minus_day" "$good_end" \
	server-ec.pem ca.pem ca.key

# Broken servers; all use server.key so a broker can swap only the certificate.
issue server.key "$O/CN=broker.modemsim.test" ext_server_rsa "$EXPIRED_START" "$EXPIRED_END" \
	server-expired.pem ca.pem ca.key
issue server.key "$O/CN=broker.modemsim.test" ext_server_rsa "$NOTYET_START" "$NOTYET_END" \
	server-notyet.pem ca.pem ca.key
issue server.key "$O/CN=broker.modemsim.test" ext_server_rsa "$now_minus_day" "$good_end" \
	server-otherca.pem other-ca.pem other-ca.key
issue server.key "$O/CN=wrong-host.invalid" ext_server_wronghost "$now_minus_day" "$good_end" \
	server-wronghost.pem ca.pem ca.key

# Clients.
rsa_key client-rsa.key
issue client-rsa.key "$O/CN=modemsim-client-rsa" ext_client "$now_minus_day" "$good_end" \
	client-rsa.pem ca.pem ca.key
ec_key client-ec.key
issue client-ec.key "$O/CN=modemsim-client-ec" ext_client "$now_minus_day" "$good_end" \
	client-ec.pem ca.pem ca.key
ec_key client-otherca.key
issue client-otherca.key "$O/CN=modemsim-client-otherca" ext_client "$now_minus_day" \
	"$good_end" client-otherca.pem other-ca.pem other-ca.key
# A client certificate whose subject has no CN: a broker that takes the user name from the
# certificate (mosquitto use_identity_as_username) has no name to take.
ec_key client-nocn.key
issue client-nocn.key "$O/OU=no common name" ext_client "$now_minus_day" "$good_end" \
	client-nocn.pem ca.pem ca.key

# Encrypted copies of client-rsa.key, in the two forms mbedTLS 2.28 can decrypt: legacy PEM
# encryption (RFC 1421 Proc-Type/DEK-Info, AES-256-CBC), and PKCS#8 PBES2. OpenSSL 3's PBES2
# default cipher is AES-256-CBC, which mbedTLS 2.28.3 rejects (PKCS5_FEATURE_UNAVAILABLE,
# checked on this machine; its pkcs5.c knows only DES and 3DES), hence -v2 des3. The PRF is
# HMAC-SHA1, the one every PBES2 reader has (RFC 8018 A.2 default).
# (openssl rsa prints "writing RSA key" on stderr; errors still fail the script.)
openssl rsa -in client-rsa.key -traditional -aes256 -passout "pass:$KEY_PASSWORD" \
	-out client-rsa-enc.key 2>/dev/null
openssl pkcs8 -topk8 -in client-rsa.key -v2 des3 -v2prf hmacWithSHA1 \
	-passout "pass:$KEY_PASSWORD" -out client-rsa-enc-pkcs8.key

# Other encodings of the CA, and broken CA files.
cp ca.pem ca-lf.pem
sed 's/$/\r/' ca.pem >ca-crlf.pem
head -c -1 ca.pem >ca-nonl.pem
openssl x509 -in ca.pem -outform DER -out ca.der
cat ca.pem other-ca.pem >ca-bundle.pem
# Header line, eight full base64 lines, then 32 characters of the ninth: a cut in the middle
# of the base64 body, with no END line (a transfer that stopped early).
{
	sed -n 1,9p ca.pem
	sed -n 10p ca.pem | head -c 32
} >ca-truncated.pem

cat >README <<EOF
modemsim test PKI, generated by certs/gen.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ)
with $(openssl version).
TEST ONLY: every private key here is throwaway and readable by all (mode 0644) so a broker
that drops privileges can still read it. Encrypted keys use the password "$KEY_PASSWORD".
Good server certificates name: localhost, 127.0.0.1 (as IP and as DNS entry), ::1, $NAMES

file	purpose
ca.pem	test CA certificate (RSA 2048, self-signed, PEM with LF line endings)
ca.key	test CA private key
ca.der	ca.pem in DER
ca-lf.pem	byte-identical copy of ca.pem (LF line endings)
ca-crlf.pem	ca.pem with CRLF line endings; otherwise identical
ca-nonl.pem	ca.pem without its final newline
ca-truncated.pem	ca.pem cut in the middle of the base64 body, no END line (does not parse)
ca-bundle.pem	ca.pem followed by other-ca.pem
other-ca.pem	an unrelated CA (RSA 2048); nothing signed by it verifies against ca.pem
other-ca.key	its private key
server.pem	server certificate (RSA 2048, signed by ca.pem, SANs above; for RSA key exchange)
server.key	its private key; also the key of every server-*.pem below except server-ec.pem
server-ec.pem	server certificate (EC P-256, signed by ca.pem, SANs above; for ECDHE-ECDSA)
server-ec.key	its private key
server-expired.pem	as server.pem but valid only $EXPIRED_START to $EXPIRED_END (expired)
server-notyet.pem	as server.pem but valid only $NOTYET_START to $NOTYET_END (not yet valid)
server-otherca.pem	as server.pem but signed by other-ca.pem (unknown issuer)
server-wronghost.pem	signed by ca.pem, but its only name is wrong-host.invalid (host name mismatch)
client-rsa.pem	client certificate (RSA 2048, CN=modemsim-client-rsa, signed by ca.pem)
client-rsa.key	its private key (PKCS#8, unencrypted)
client-rsa-enc.key	client-rsa.key encrypted: legacy PEM, AES-256-CBC, password "$KEY_PASSWORD"
client-rsa-enc-pkcs8.key	client-rsa.key encrypted: PKCS#8 PBES2 3DES/HMAC-SHA1, password "$KEY_PASSWORD"
client-ec.pem	client certificate (EC P-256, CN=modemsim-client-ec, signed by ca.pem)
client-ec.key	its private key
client-otherca.pem	client certificate (EC P-256, CN=modemsim-client-otherca) signed by other-ca.pem
client-otherca.key	its private key
client-nocn.pem	client certificate (EC P-256, signed by ca.pem) whose subject has no CN
client-nocn.key	its private key
EOF

rm -rf "$W"
# Test keys only: 0644 so mosquitto can read them even after dropping to its own user.
chmod 0755 .
chmod 0644 ./*
printf '%s\n' "$INPUTS" >.complete
cd /
# Two renames, so the old PKI is gone and the new one in place within microseconds.
OLD=
if [ -e "$OUTDIR" ]; then
	OLD=$(mktemp -d "$OUTDIR.old.XXXXXX")
	mv "$OUTDIR" "$OLD/pki"
fi
mv "$TMP" "$OUTDIR"
trap - EXIT
[ -z "$OLD" ] || rm -rf "$OLD"
echo "$0: generated $OUTDIR"
