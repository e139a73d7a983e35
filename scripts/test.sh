#!/usr/bin/env bash
# Installs what dnsguard needs, builds it, and runs every test: unit tests (no root
# needed) and integration tests (root; each runs in network namespaces of its own);
# then the same tests against an AddressSanitizer + UndefinedBehaviorSanitizer build,
# and each fuzz target for a short while (FUZZ_SECONDS, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
(cd "${DNSGUARD_BUILD_DIR:-build}" && ctest --output-on-failure)
echo "== sanitizers (ASan, LSan, UBSan)"
./scripts/sanitize.sh
echo "== fuzzing"
./scripts/fuzz.sh "${FUZZ_SECONDS:-20}"
