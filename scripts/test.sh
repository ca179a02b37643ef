#!/usr/bin/env bash
# Second set-up command: install test dependencies, build the normal and the
# AddressSanitizer+UndefinedBehaviorSanitizer trees, and run the whole suite
# (unit + integration against real peers) through ctest in both.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
tether_install_deps test
jobs=$(nproc)
status=0
for flavour in normal sanitize; do
	dir=build-test-$flavour
	opts=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
	[ $flavour = sanitize ] && opts=(-DCMAKE_BUILD_TYPE=Debug -DTETHER_SANITIZE=ON)
	cmake -S . -B "$dir" "${opts[@]}" >/dev/null
	cmake --build "$dir" -j"$jobs"
	echo "=== ctest ($flavour build) ==="
	# Leak checks are off: children are killed on purpose in many tests.
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir "$dir" --output-on-failure --timeout 900 -j"$jobs" || status=1
done
# Coverage-guided fuzzing of every target for a short, bounded time, with
# protobuf-c built from its Debian source under the same instrumentation
# (Debian's library as a fallback when the source cannot be had).
pbc_src=$(tests/fuzz/protobuf-c-source.sh build-test-fuzz/protobuf-c) || {
	echo "warning: protobuf-c source unavailable; fuzzing with Debian's (uninstrumented) library"
	pbc_src=
}
CC=clang cmake -S . -B build-test-fuzz -DCMAKE_BUILD_TYPE=Debug -DTETHER_FUZZ=ON \
	-DTETHER_PROTOBUF_C_SOURCE="$pbc_src" -DTETHER_FUZZ_SECONDS="${TETHER_FUZZ_SECONDS:-20}" >/dev/null
cmake --build build-test-fuzz -j"$jobs" --target tether_fuzz_all
echo "=== ctest (fuzz, ${TETHER_FUZZ_SECONDS:-20} s per target) ==="
ctest --test-dir build-test-fuzz -L fuzz --output-on-failure -j"$jobs" || status=1
exit $status
