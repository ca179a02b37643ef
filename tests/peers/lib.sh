# Shared helpers for the test peers (sourced). Loopback only, bounded waits.

# Prints a TCP port on 127.0.0.1 that nothing listens on right now (the
# caller retries if it is taken by the time the server binds it).
peer_free_port() {
	local p i
	for i in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>/dev/tcp/127.0.0.1/$p) 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "no free port found" >&2
	return 1
}

# peer_wait_port PORT SECONDS: waits until 127.0.0.1:PORT accepts.
peer_wait_port() {
	local port=$1 n=$(($2 * 20)) i
	for i in $(seq 1 "$n"); do
		(exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# peer_kill_tree PID: TERM then KILL a process and its descendants (by
# pid, found through /proc), each wait bounded.
peer_descendants() {
	local table
	table=$(awk '{ print $1, $4 }' /proc/[0-9]*/stat 2>/dev/null || true)
	local todo=$1 next p c ppid
	while [ -n "$todo" ]; do
		next=
		for p in $todo; do
			while read -r c ppid; do
				[ "$ppid" = "$p" ] && { echo "$c"; next="$next $c"; }
			done <<<"$table"
		done
		todo=$next
	done
}

# A zombie (state Z) waiting for its reaper counts as gone.
peer_alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

peer_kill_tree() {
	local pid=$1 all i p
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
	all="$pid $(peer_descendants "$pid")"
	kill -TERM $all 2>/dev/null || true
	for i in $(seq 1 100); do
		local alive=
		for p in $all; do peer_alive "$p" && alive=1; done
		[ -z "$alive" ] && return 0
		sleep 0.05
	done
	kill -KILL $all 2>/dev/null || true
}
