#!/usr/bin/env bash
# Apply benchmark: time to commit a policy with N resolver prefixes through dnsguard's
# netlink backend versus `nft -f` of the equivalent `dnsguardctl compile` output, side
# by side, in a private network namespace. Prints a Markdown table; the best of
# $REPEAT runs counts. Usage: bench/apply.sh [N ...]   (default: 1000 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DNSGUARD_BUILD_DIR:-build}
repeat=${REPEAT:-3}
sizes=("$@")
((${#sizes[@]})) || sizes=(1000 10000 100000)

ns="dgbench$$"
tmp=$(mktemp -d)
trap 'ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
ip netns add "$ns"

now_ms() { echo $(($(date +%s%N) / 1000000)); }
best_of() {  # best_of CMD...: fastest wall time in ms over $repeat runs
  local best=999999999 t0 t
  for ((i = 0; i < repeat; i++)); do
    t0=$(now_ms)
    "$@" >/dev/null
    t=$(($(now_ms) - t0))
    ((t < best)) && best=$t
  done
  echo "$best"
}

echo "| prefixes | dnsguard backend (ms) | nft -f (ms) | compile to text (ms) |"
echo "| ---: | ---: | ---: | ---: |"
for n in "${sizes[@]}"; do
  policy="$tmp/p$n.toml"
  {
    printf '[policy]\nname = "bench"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = "many"\naddresses = [\n'
    awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "  \"fd00:%x:%x::/48\",\n", int(i / 32768), (i % 32768) * 2 }'
    printf ']\n'
  } >"$policy"
  "$build/cli/dnsguardctl" compile "$policy" >"$tmp/p$n.nft"
  ours=$(best_of ip netns exec "$ns" "$build/tests/dnsguard-nft-tool" apply "$policy")
  theirs=$(best_of ip netns exec "$ns" nft -f "$tmp/p$n.nft")
  compile=$(best_of "$build/cli/dnsguardctl" compile "$policy")
  echo "| $n | $ours | $theirs | $compile |"
done
