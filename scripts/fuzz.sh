#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) into build-fuzz and runs each
# for SECONDS (default 60) from its checked-in seeds. Exits non-zero on any finding;
# the crashing input is left in build-fuzz/findings/.
# Usage: scripts/fuzz.sh [SECONDS [TARGET...]]   (targets: dns packet tcp_stream decide policy api)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(dns packet tcp_stream decide policy api)
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DDNSGUARD_FUZZ=ON -DDNSGUARD_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j2 >/dev/null
mkdir -p build-fuzz/findings
seeds() {  # extra seed directories per target
  case $1 in
    policy) echo "policies tests/golden" ;;
    *) echo "tests/fuzz/seeds/$1" ;;
  esac
}
status=0
passed=0
failed=0
for target in "${targets[@]}"; do
  corpus=build-fuzz/corpus/$target
  mkdir -p "$corpus"
  extra=$(seeds "$target")
  [[ $target == decide ]] && extra="tests/fuzz/seeds/dns"
  echo "== fuzz_$target for ${seconds}s"
  # shellcheck disable=SC2086
  if ! build-fuzz/tests/fuzz/fuzz_$target -max_total_time="$seconds" -print_final_stats=1 \
      -artifact_prefix=build-fuzz/findings/$target- "$corpus" $extra 2>build-fuzz/fuzz_$target.log; then
    echo "fuzz_$target FOUND A PROBLEM:"; tail -40 build-fuzz/fuzz_$target.log; status=1
    failed=$((failed + 1))
  else
    passed=$((passed + 1))
  fi
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' build-fuzz/fuzz_$target.log | sed 's/^/   /'
done
echo "fuzz: $passed passed, $failed failed"
exit $status
