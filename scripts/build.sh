#!/usr/bin/env bash
# Configures and builds dnsguard into ./build (or $DNSGUARD_BUILD_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${DNSGUARD_BUILD_DIR:-build}
# Release: what a packager builds, and the optimizer level where GCC warns the most.
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${DNSGUARD_BUILD_TYPE:-Release} -DDNSGUARD_WERROR=ON
cmake --build "$build_dir" -j2
