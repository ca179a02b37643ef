#!/usr/bin/env bash
# Stops the MariaDB test peer started by mariadb_start.sh DIR: SIGTERM (a
# clean shutdown), bounded wait, then SIGKILL.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=${1:?usage: mariadb_stop.sh DIR}
[ -f "$dir/mariadbd.pid.start" ] || exit 0
pid=$(cat "$dir/mariadbd.pid.start")
peer_kill_tree "$pid"
exit 0
