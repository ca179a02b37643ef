#!/usr/bin/env bash
# Starts a MariaDB 10.11 test peer under DIR ($1) (PEERS.md 4): a CA made
# with openssl, a server certificate for localhost/127.0.0.1, TLS required
# (require_secure_transport), password user `tether` (REQUIRE SSL) and
# client-certificate user `certuser` (REQUIRE X509, no password); listens on
# 127.0.0.1 and 127.0.0.2 at a free high port. Writes shell assignments to
# DIR/env and prints them. Stop with mariadb_stop.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

dir=${1:?usage: mariadb_start.sh DIR}
MARIADBD=${MARIADBD:-$(command -v mariadbd || echo /usr/sbin/mariadbd)}
[ -x "$MARIADBD" ] || { echo "mariadb_start: mariadbd missing (package mariadb-server)" >&2; exit 2; }
command -v mariadb-install-db >/dev/null || { echo "mariadb_start: mariadb-install-db missing" >&2; exit 2; }
command -v openssl >/dev/null || { echo "mariadb_start: openssl missing" >&2; exit 2; }
trap 'echo "mariadb_start: failed at line $LINENO (logs in $dir)" >&2' ERR
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
tls=$dir/tls
mkdir -p -m 700 "$tls"

# --- certificates: CA, server (localhost, 127.0.0.1), client (certuser) ---
ossl() { openssl "$@" >/dev/null 2>&1; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ossl req -x509 "${ec[@]}" -days 2 -subj /CN=tether-test-ca \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$tls/ca.key" -out "$tls/ca.crt"
# A second CA that signed nothing the server uses: the "wrong CA".
ossl req -x509 "${ec[@]}" -days 2 -subj /CN=tether-other-ca \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
	-keyout "$tls/other-ca.key" -out "$tls/other-ca.crt"
issue() {   # issue NAME SUBJECT [EXTFILE-LINE]
	local name=$1 subj=$2 ext=${3:-}
	ossl req "${ec[@]}" -subj "$subj" -keyout "$tls/$name.key" -out "$tls/$name.csr"
	printf '%s\n' "$ext" >"$tls/$name.ext"
	ossl x509 -req -in "$tls/$name.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" \
		-CAcreateserial -days 2 -extfile "$tls/$name.ext" -out "$tls/$name.crt"
}
issue server /CN=localhost "subjectAltName=DNS:localhost,IP:127.0.0.1"
issue client /CN=certuser ""
chmod 600 "$tls"/*.key

# --- data directory (as root: PEERS.md 4, --user=root needs no chown) ---
data=$dir/data
mariadb-install-db --no-defaults --user=root --datadir="$data" \
	--auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1

password=$(openssl rand -hex 16)
port=
pid=
for attempt in 1 2 3 4 5; do
	port=$(peer_free_port)
	rm -f "$dir/mariadbd.pid"
	setsid "$MARIADBD" --no-defaults --user=root --datadir="$data" --socket="$dir/sock" \
		--pid-file="$dir/mariadbd.pid" --port="$port" \
		--bind-address="${MARIADB_LISTEN:-127.0.0.1,127.0.0.2}" \
		--skip-name-resolve --log-error="$dir/err.log" \
		--ssl-ca="$tls/ca.crt" --ssl-cert="$tls/server.crt" --ssl-key="$tls/server.key" \
		--require-secure-transport=ON --innodb-buffer-pool-size=32M \
		--innodb-log-file-size=8M --skip-log-bin --max-connect-errors=100000 \
		</dev/null >/dev/null 2>&1 &
	pid=$!
	echo "$pid" >"$dir/mariadbd.pid.start"
	if peer_wait_port "$port" 20 && kill -0 "$pid" 2>/dev/null; then
		break
	fi
	peer_kill_tree "$pid"
	port=
done
[ -n "$port" ] || { echo "mariadb_start: server did not start, see $dir/err.log" >&2; exit 1; }

# Users from stdin, so the password is never in an argv.
mariadb --no-defaults --socket="$dir/sock" -uroot <<SQL
CREATE USER 'tether'@'127.0.0.0/255.0.0.0' IDENTIFIED BY '$password' REQUIRE SSL;
GRANT ALL ON *.* TO 'tether'@'127.0.0.0/255.0.0.0';
CREATE USER 'certuser'@'127.0.0.0/255.0.0.0' REQUIRE X509;
CREATE DATABASE app;
SQL

cat >"$dir/env" <<ENV
MARIADB_PID=$pid
MARIADB_DIR=$dir
MARIADB_PORT=$port
MARIADB_HOST=127.0.0.1
MARIADB_USER=tether
MARIADB_PASSWORD=$password
MARIADB_CERT_USER=certuser
MARIADB_CA=$tls/ca.crt
MARIADB_OTHER_CA=$tls/other-ca.crt
MARIADB_CLIENT_CERT=$tls/client.crt
MARIADB_CLIENT_KEY=$tls/client.key
ENV
cat "$dir/env"
