#!/usr/bin/env bash
# Installs what dnsguard needs, builds it, and runs every test: unit tests (no root
# needed) and integration tests (root; each runs in network namespaces of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
./scripts/build.sh
cd "${DNSGUARD_BUILD_DIR:-build}"
ctest --output-on-failure
