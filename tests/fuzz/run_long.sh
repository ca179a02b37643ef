#!/usr/bin/env bash
# Runs every libFuzzer target for longer than ctest does and prints, per
# target, libFuzzer's final statistics: executions, exec/s, coverage, new
# inputs, and whether it crashed (artifacts land in work-<target>/).
# Usage: tests/fuzz/run_long.sh [SECONDS per target, default 300] [TARGET...]
#   TETHER_FUZZ_BUILD  fuzz build tree (default: build-test-fuzz, as
#                      scripts/test.sh makes it; built here if missing)
#   TETHER_FUZZ_JOBS   targets run at once (default 1)
# New inputs go to the build tree's work-<target>/, never to the committed
# corpora; copy the interesting ones (and every crash) by hand.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
seconds=${1:-300}
shift || true
build=${TETHER_FUZZ_BUILD:-build-test-fuzz}
jobs=${TETHER_FUZZ_JOBS:-1}
if [ ! -f "$build/CMakeCache.txt" ]; then
	src=$(tests/fuzz/protobuf-c-source.sh "$build/protobuf-c" 2>/dev/null) || src=
	CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DTETHER_FUZZ=ON \
		-DTETHER_PROTOBUF_C_SOURCE="$src" >/dev/null || exit 1
fi
# Keep going past a target that does not build (its binary, if any, is old).
cmake --build "$build" -j"$(nproc)" --target tether_fuzz_all -- -k >/dev/null 2>&1 ||
	echo "warning: some fuzz targets did not build; running what exists" >&2
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for f in tests/fuzz/fuzz_*.c; do
		t=$(basename "$f" .c)
		[ -x "$build/bin/$t" ] && targets+=("$t")
	done
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:suppressions=$root/tests/fuzz/ubsan.supp
logs=$(mktemp -d)
run_one() {
	local t=$1 work=$build/tests/fuzz/work-$1 dict=()
	mkdir -p "$work"
	[ -f tests/fuzz/dict/$t.dict ] && dict=(-dict=tests/fuzz/dict/$t.dict)
	"$build/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$work/" "${dict[@]}" \
		"$work" "tests/fuzz/corpus/$t" >"$logs/$t.log" 2>&1
	echo $? >"$logs/$t.rc"
}
running=0
for t in "${targets[@]}"; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait
printf '%-20s %10s %9s %7s %6s %s\n' target runs exec/s cov new result
status=0
for t in "${targets[@]}"; do
	l=$logs/$t.log
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$l")
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$l")
	new=$(sed -n 's/^stat::new_units_added: *//p' "$l")
	cov=$(grep -o 'cov: [0-9]*' "$l" | tail -1 | cut -d' ' -f2)
	if [ "$(cat "$logs/$t.rc")" = 0 ]; then
		res=ok
	else
		res="FAILED ($(grep -m1 -o 'ERROR: [A-Za-z]*: [^ ]*.*\|runtime error.*\|invariant broken.*' "$l" | head -c 80)) log: $l"
		status=1
	fi
	printf '%-20s %10s %9s %7s %6s %s\n' "$t" "${runs:-?}" "${eps:-?}" "${cov:-?}" "${new:-?}" "$res"
done
[ $status = 0 ] && rm -rf "$logs"
exit $status
