#!/usr/bin/env bash
# Test PKI for the Kafka TLS front (tests/fakes/kafka_front.py), under DIR:
# ca.pem (+ca.key), server.pem/server.key for CN=localhost with SANs
# IP:127.0.0.1 and DNS:localhost, client.pem/client.key signed by the CA,
# and other_ca.pem, a CA that signed nothing here. EC P-256, 2 days.
set -euo pipefail
dir=${1:?usage: kafka_certs.sh DIR}
mkdir -p "$dir"
cd "$dir"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -days 2 -subj /CN=tether-test-kafka-ca -keyout ca.key -out ca.pem 2>/dev/null
openssl req -x509 $ec -days 2 -subj /CN=tether-test-other-ca -keyout other_ca.key -out other_ca.pem 2>/dev/null
openssl req $ec -subj /CN=localhost -keyout server.key -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n' >server.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-extfile server.ext -out server.pem 2>/dev/null
openssl req $ec -subj /CN=tether-client -keyout client.key -out client.csr 2>/dev/null
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' >client.ext
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
	-extfile client.ext -out client.pem 2>/dev/null
rm -f ./*.csr ./*.ext ./*.srl
chmod 600 ./*.key
