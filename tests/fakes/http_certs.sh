#!/usr/bin/env bash
# Makes the TLS material for the HTTP fakes under DIR ($1): a test CA, a
# server certificate for localhost/127.0.0.1 issued by it, a client
# certificate (for mTLS) issued by it, and an unrelated CA ("wrong CA").
# Exit 2 when openssl is missing (the tests skip).
set -euo pipefail
dir=${1:?usage: http_certs.sh DIR}
command -v openssl >/dev/null || { echo "http_certs: openssl missing" >&2; exit 2; }
mkdir -p -m 700 "$dir"
ossl() { openssl "$@" >/dev/null 2>&1; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
for ca in ca other-ca; do
	ossl req -x509 "${ec[@]}" -days 2 -subj "/CN=tether-test-$ca" \
		-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-keyout "$dir/$ca.key" -out "$dir/$ca.crt"
done
issue() {   # issue NAME SUBJECT EXT
	ossl req "${ec[@]}" -subj "$2" -keyout "$dir/$1.key" -out "$dir/$1.csr"
	printf '%s\n' "$3" >"$dir/$1.ext"
	ossl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
		-CAcreateserial -days 2 -extfile "$dir/$1.ext" -out "$dir/$1.crt"
}
issue server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
issue client /CN=tether-client "extendedKeyUsage=clientAuth"
chmod 600 "$dir"/*.key
echo "ok"
