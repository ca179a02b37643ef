#!/usr/bin/env bash
# The README's walk-through with the real psql client against a real tetherd:
# output, error texts with SQLSTATE (VERBOSITY verbose), peer authentication,
# sandbox state of the children, clean shutdown, and no secret value in clear
# in the data dir or the logs.
# Usage: test_psql.sh /path/to/bin/tetherd
set -uo pipefail
TETHERD=$1
T=$(mktemp -d "${TMPDIR:-/tmp}/tether-psql-XXXXXX")
DATA=$T/data
failures=0
passes=0
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL -- -"$pid" 2>/dev/null
	[ -z "${TETHER_KEEP_TEST_DIRS:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { # check NAME EXPECTED ACTUAL
	if [ "$2" != "$3" ]; then
		fail "$1"; echo "--- expected"; echo "$2"; echo "--- actual"; echo "$3"
	else
		echo "ok: $1"; passes=$((passes + 1))
	fi
}

setsid "$TETHERD" --data-dir "$DATA" >"$T/out" 2>"$T/log" &
pid=$!
for _ in $(seq 1 200); do
	grep -q "tetherd ready" "$T/out" 2>/dev/null && break
	sleep 0.05
done
grep -q "tetherd ready" "$T/out" || { fail "tetherd did not become ready"; cat "$T/log"; exit 1; }

# The ready line carries the exact psql command; use its conninfo.
conninfo=$(sed -n 's/.*psql "\(.*\)".*/\1/p' "$T/out")
check "ready line names the data dir" "host=$(cd "$DATA" && pwd) port=6875 user=materialize dbname=materialize" "$conninfo"

q() { psql "$conninfo" -X -q -A -t -v VERBOSITY=verbose "$@" 2>&1; }

check "create secret" "" "$(q -c "CREATE SECRET pg_password AS 'psql-secret-0c7d1e'")"
check "alter secret" "" "$(q -c "ALTER SECRET pg_password AS decode('cHNxbC1zZWNyZXQtcm90YXRlZC1hYTQ1', 'base64')")"
check "show secrets" "pg_password|" "$(q -c "SHOW SECRETS")"
check "select mz_secrets" "pg_password" "$(q -c "SELECT name FROM mz_catalog.mz_secrets")"
check "duplicate is 42710" \
	'ERROR:  42710: secret "materialize.public.pg_password" already exists' \
	"$(q -c "CREATE SECRET pg_password AS 'x'" | head -1)"
check "syntax error is 42601" "ERROR:  42601" \
	"$(q -c "CREATE SECRET AS 'x'" | head -1 | cut -c1-13)"
check "write to catalog refused" "ERROR:  42704: unknown catalog item 'sqlite_master'" \
	"$(q -c "SELECT * FROM sqlite_master" | head -1)"
check "rename" "" "$(q -c "ALTER SECRET pg_password RENAME TO pg_pass")"
check "several statements in one query" "2" \
	"$(q -c "CREATE SECRET a1 AS 'psql-secret-0c7d1e'; CREATE SECRET a2 AS 'y'; SELECT count(*) FROM mz_secrets WHERE name LIKE 'a_'")"
check "drop several" "" "$(q -c "DROP SECRET a1, a2, pg_pass")"
check "unknown role refused" 'FATAL:  role "nobody_here" does not exist' \
	"$(psql "host=$DATA port=6875 user=nobody_here dbname=materialize" -X -c 'SELECT 1' -v VERBOSITY=verbose 2>&1 | grep -o 'FATAL:.*' | head -1)"

# Children are sandboxed.
for child in tether-vault tether-catalog; do
	cpid=$(pgrep -P "$pid" -x "$child" | head -1)
	[ -n "$cpid" ] || { fail "$child not running"; continue; }
	check "$child seccomp" "2" "$(awk '/^Seccomp:/{print $2}' /proc/$cpid/status)"
	check "$child no_new_privs" "1" "$(awk '/^NoNewPrivs:/{print $2}' /proc/$cpid/status)"
done

# Data dir permissions.
check "data dir mode" "700" "$(stat -c %a "$DATA")"
check "master key mode" "400" "$(stat -c %a "$DATA/vault/master.key")"
check "socket mode" "600" "$(stat -c %a "$DATA/.s.PGSQL.6875")"

kill -TERM "$pid"
for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
wait "$pid"; status=$?
check "SIGTERM exits 0" "0" "$status"
pid=
check "socket removed on shutdown" "no" "$([ -e "$DATA/.s.PGSQL.6875" ] && echo yes || echo no)"

for v in psql-secret-0c7d1e psql-secret-rotated-aa45; do
	if grep -rqa -- "$v" "$T"; then fail "secret value $v found in clear under $T"; else echo "ok: $v not in clear"; passes=$((passes + 1)); fi
done

echo "$passes passed, $failures failed"
[ $failures -eq 0 ]
