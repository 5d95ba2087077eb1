#!/usr/bin/env bash
# Builds tutti and runs the whole test suite (unit, integration, tiny
# benchmark runs). Installs missing Debian packages first. The exit status is
# the suite's.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -L unit    # extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)"

cd "$BUILD_DIR"
# Integration tests start real processes; two at a time suits a 2-core box.
exec ctest --output-on-failure -j 2 "$@"
