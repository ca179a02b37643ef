#!/usr/bin/env bash
# Starts an OpenSSH sshd test peer under DIR ($1) on 127.0.0.1 at a free
# high port (PEERS.md 1): its own ed25519 host key, public-key auth only,
# AuthorizedKeysFile DIR/authorized_keys (empty at start), TCP forwarding
# allowed. Writes shell assignments to DIR/env and prints them.
# Stop with sshd_stop.sh DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=${1:?usage: sshd_start.sh DIR}
SSHD=${SSHD:-/usr/sbin/sshd}
[ -x "$SSHD" ] || { echo "sshd_start: $SSHD missing (package openssh-server)" >&2; exit 2; }
trap 'echo "sshd_start: failed at line $LINENO (logs in $dir)" >&2' ERR
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p -m 755 /run/sshd   # privilege separation directory

rm -f "$dir/hostkey" "$dir/hostkey.pub"
ssh-keygen -q -t ed25519 -N '' -C tether-test-host -f "$dir/hostkey"
: >"$dir/authorized_keys"
chmod 600 "$dir/authorized_keys"
fingerprint=$(ssh-keygen -lf "$dir/hostkey.pub" | cut -d' ' -f2)

port=
for attempt in 1 2 3 4 5; do
	port=$(peer_free_port)
	cat >"$dir/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $dir/hostkey
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AllowTcpForwarding yes
PermitOpen any
MaxAuthTries 6
LogLevel VERBOSE
CONF
	"$SSHD" -t -f "$dir/sshd_config"
	rm -f "$dir/sshd.pid"
	# -D: no daemonising, so $! is sshd itself; setsid detaches it from
	# the caller's terminal and process group.
	setsid "$SSHD" -D -f "$dir/sshd_config" -E "$dir/sshd.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	echo "$pid" >"$dir/sshd.pid.start"
	if peer_wait_port "$port" 5 && kill -0 "$pid" 2>/dev/null; then
		break
	fi
	peer_kill_tree "$pid"
	port=
done
[ -n "$port" ] || { echo "sshd_start: sshd did not start, see $dir/sshd.log" >&2; exit 1; }

cat >"$dir/env" <<ENV
SSHD_PID=$pid
SSHD_DIR=$dir
SSHD_PORT=$port
SSHD_HOST=127.0.0.1
SSHD_USER=$(id -un)
SSHD_HOST_KEY=$fingerprint
SSHD_AUTHORIZED_KEYS=$dir/authorized_keys
ENV
cat "$dir/env"
