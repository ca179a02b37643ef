#!/usr/bin/env bash
# Starts a PostgreSQL 15 test peer under DIR ($1): a CA made with openssl,
# a server certificate for localhost/127.0.0.1, TLS required (hostnossl
# rejected), SCRAM user `tether` with a random password and certificate user
# `certuser`; listens on 127.0.0.1 and 127.0.0.2 at a free high port.
# Env: PG_LISTEN (addresses), PG_SERVER_CERT=other (serve the certificate
# for other.invalid instead). Writes shell assignments to DIR/env and
# prints them. Stop with pg_stop.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=${1:?usage: pg_start.sh DIR}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -x "$PGBIN/initdb" ] || { echo "pg_start: $PGBIN/initdb missing (package postgresql-15)" >&2; exit 2; }
id postgres >/dev/null 2>&1 || { echo "pg_start: no postgres user" >&2; exit 2; }
command -v openssl >/dev/null || { echo "pg_start: openssl missing" >&2; exit 2; }
trap 'echo "pg_start: failed at line $LINENO (logs in $dir)" >&2' ERR
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tls=$dir/tls
mkdir -p -m 700 "$tls"
# The server runs as postgres: it must be able to traverse to DIR (a
# mktemp -d parent is 0700). Search permission only, no listing.
d=$dir
while [ "$d" != / ]; do
	d=$(dirname "$d")
	[ -O "$d" ] && chmod o+x "$d"
done

# --- certificates: CA, server (localhost, 127.0.0.1), client (certuser) ---
ossl() { openssl "$@" >/dev/null 2>&1; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl req -x509 "${ec[@]}" -days 2 -subj /CN=tether-test-ca \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$tls/ca.key" -out "$tls/ca.crt"
issue() {   # issue NAME SUBJECT [EXTFILE-LINE]
	local name=$1 subj=$2 ext=${3:-}
	ossl req "${ec[@]}" -subj "$subj" -keyout "$tls/$name.key" -out "$tls/$name.csr"
	printf '%s\n' "$ext" >"$tls/$name.ext"
	ossl x509 -req -in "$tls/$name.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
		-CAcreateserial -days 2 -extfile "$tls/$name.ext" -out "$tls/$name.crt"
}
issue server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
issue other /CN=other.invalid "subjectAltName=DNS:other.invalid"
issue client /CN=certuser ""
chmod 600 "$tls"/*.key

# --- cluster ---
password=$(openssl rand -hex 16)
db=$dir/db
chown postgres: "$dir"
runuser -u postgres -- "$PGBIN/initdb" -D "$db" -U postgres --auth-local=peer \
	--auth-host=reject -E UTF8 --locale=C.UTF-8 -N >"$dir/initdb.log" 2>&1
install -o postgres -m 600 "$tls/server.key" "$db/server.key"
install -o postgres -m 644 "$tls/server.crt" "$db/server.crt"
install -o postgres -m 644 "$tls/other.crt" "$db/other.crt"
install -o postgres -m 600 "$tls/other.key" "$db/other.key"
install -o postgres -m 644 "$tls/ca.crt" "$db/ca.crt"
cat >"$db/pg_hba.conf" <<HBA
local     all  all                    peer
hostssl   all  certuser  127.0.0.0/8  cert
hostssl   all  all       127.0.0.0/8  scram-sha-256
hostnossl all  all       127.0.0.0/8  reject
HBA

port=
for attempt in 1 2 3 4 5; do
	port=$(peer_free_port)
	cat >"$db/postgresql.auto.conf" <<CONF
listen_addresses = '${PG_LISTEN:-127.0.0.1,127.0.0.2}'
port = $port
unix_socket_directories = '$dir'
ssl = on
ssl_cert_file = '${PG_SERVER_CERT:-server}.crt'
ssl_key_file = '${PG_SERVER_CERT:-server}.key'
ssl_ca_file = 'ca.crt'
password_encryption = 'scram-sha-256'
fsync = off
max_connections = 20
shared_buffers = 16MB
log_connections = on
CONF
	chown postgres: "$db/postgresql.auto.conf"
	if runuser -u postgres -- "$PGBIN/pg_ctl" -D "$db" -l "$dir/server.log" -w -t 30 start \
		>/dev/null 2>&1; then
		break
	fi
	port=
done
[ -n "$port" ] || { echo "pg_start: server did not start, see $dir/server.log" >&2; exit 1; }

# Roles from stdin, so the password is never in an argv.
runuser -u postgres -- "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres \
	-d postgres >/dev/null <<SQL
SET password_encryption = 'scram-sha-256';
CREATE ROLE tether LOGIN PASSWORD '$password';
CREATE ROLE certuser LOGIN;
CREATE DATABASE app OWNER tether;
GRANT CONNECT ON DATABASE app TO certuser;
SQL

pid=$(head -n1 "$db/postmaster.pid")
cat >"$dir/env" <<ENV
PG_PID=$pid
PG_DIR=$dir
PGPORT=$port
PG_HOST=127.0.0.1
PG_DATABASE=app
PG_USER=tether
PG_PASSWORD=$password
PG_CERT_USER=certuser
PG_CA=$tls/ca.crt
PG_CLIENT_CERT=$tls/client.crt
PG_CLIENT_KEY=$tls/client.key
PG_OTHER_CERT=$tls/other.crt
ENV
cat "$dir/env"
