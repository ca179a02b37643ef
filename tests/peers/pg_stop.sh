#!/usr/bin/env bash
# Stops the PostgreSQL test peer started by pg_start.sh DIR (fast shutdown,
# then SIGKILL of the postmaster and its children if it lingers).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=${1:?usage: pg_stop.sh DIR}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
[ -f "$dir/db/postmaster.pid" ] || exit 0
pid=$(head -n1 "$dir/db/postmaster.pid")
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$dir/db" -m fast -w -t 10 stop >/dev/null 2>&1 ||
	peer_kill_tree "$pid"
exit 0
