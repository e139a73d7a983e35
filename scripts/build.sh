#!/usr/bin/env bash
# Configures and builds dnsguard into ./build (or $DNSGUARD_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DNSGUARD_BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDNSGUARD_WERROR=ON
cmake --build "$build_dir" -j2
