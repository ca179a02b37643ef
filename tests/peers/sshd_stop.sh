#!/usr/bin/env bash
# Stops the sshd test peer started by sshd_start.sh DIR, with the
# per-connection sshd processes it forked.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=${1:?usage: sshd_stop.sh DIR}
[ -f "$dir/sshd.pid.start" ] || exit 0
peer_kill_tree "$(cat "$dir/sshd.pid.start")"
rm -f "$dir/sshd.pid.start"
exit 0
