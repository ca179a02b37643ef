#!/usr/bin/env bash
# First set-up command: install dependencies, build, and start tetherd in the
# foreground on the embedded default data dir (./data, created on first
# start with a fresh master key). It prints the psql command to connect.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/deps.sh
tether_install_deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
exec build/bin/tetherd --data-dir "${TETHER_DATA_DIR:-./data}"
