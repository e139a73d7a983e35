#!/usr/bin/env bash
# Builds everything with AddressSanitizer (LeakSanitizer included) and
# UndefinedBehaviorSanitizer into build-asan and runs every test against that build:
# the unit tests, and the integration tests with a sanitized dnsguardd.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DDNSGUARD_SANITIZE=ON -DDNSGUARD_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-asan -j2 >/dev/null
cd build-asan
# halt_on_error: any report fails the test that triggered it.
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  ctest --output-on-failure
