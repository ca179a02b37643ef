#!/usr/bin/env bash
# Long kill -9 torture run: tests/torture.sh [ITERATIONS] (default 10000).
# Needs a built tree (./scripts/run.sh or ./scripts/test.sh made one).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD_DIR:-build-test-normal}
[ -x "$build/tests/integration/test_crash_torture" ] || {
	cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build "$build" -j"$(nproc)" --target test_crash_torture
}
TETHER_TORTURE_ITERATIONS=${1:-10000} exec "$build/tests/integration/test_crash_torture"
