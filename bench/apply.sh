#!/usr/bin/env bash
# Apply benchmark: time to commit a policy with N resolver prefixes (set elements)
# through dnsguard's netlink backend versus `nft -f` of the equivalent `dnsguardctl
# compile` output, side by side, in a private network namespace; then the same policy
# applied through a running dnsguardd (`dnsguardctl apply`) with the agent's resident
# memory after the apply and at its peak. Then the idle agent's memory with the shipped
# workstation policies. Prints Markdown tables; the best of $REPEAT runs counts (one run
# from 1,000,000 up). Usage: bench/apply.sh [N ...]   (default: 1000 10000 100000 1000000)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DNSGUARD_BUILD_DIR:-build}
repeat=${REPEAT:-3}
sizes=("$@")
((${#sizes[@]})) || sizes=(1000 10000 100000 1000000)

ns="dgbench$$"
tmp=$(mktemp -d)
agent=
stop_agent() {
  [[ -n $agent ]] || return 0
  kill "$agent" 2>/dev/null
  wait "$agent" 2>/dev/null || true
  agent=
}
trap 'stop_agent; ip netns del "$ns" 2>/dev/null; rm -rf "$tmp"' EXIT
ip netns add "$ns"
ip -n "$ns" link set lo up
export DNSGUARD_SOCKET="$tmp/agent.sock"
ctl() { ip netns exec "$ns" "$build/cli/dnsguardctl" "$@"; }
start_agent() {
  rm -rf "$tmp/state"
  ip netns exec "$ns" "$build/agent/daemon/dnsguardd" --socket "$DNSGUARD_SOCKET" --state-dir "$tmp/state" \
    >"$tmp/agent.log" 2>&1 &
  agent=$!
  for _ in $(seq 100); do ctl status >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "the agent did not start:" >&2
  cat "$tmp/agent.log" >&2
  exit 1
}
mib() { awk -v k="$2" '$1 == k":" { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

now_ms() { echo $(($(date +%s%N) / 1000000)); }
best_of() {  # best_of RUNS CMD...: fastest wall time in ms over RUNS runs
  local runs=$1 best=999999999 t0 t i
  shift
  for ((i = 0; i < runs; i++)); do
    t0=$(now_ms)
    "$@" >/dev/null
    t=$(($(now_ms) - t0))
    ((t < best)) && best=$t
  done
  echo "$best"
}

echo "| prefixes | dnsguard backend (ms) | nft -f (ms) | compile to text (ms) | dnsguardctl apply via the agent (ms) | agent RSS after (MiB) | agent peak RSS (MiB) |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for n in "${sizes[@]}"; do
  runs=$repeat
  ((n >= 1000000)) && runs=1  # a million prefixes once is enough
  policy="$tmp/p$n.toml"
  {
    printf '[policy]\nname = "bench"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = "many"\naddresses = [\n'
    awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "  \"fd00:%x:%x::/48\",\n", int(i / 32768), (i % 32768) * 2 }'
    printf ']\n'
  } >"$policy"
  "$build/cli/dnsguardctl" compile "$policy" >"$tmp/p$n.nft"
  ours=$(best_of "$runs" ip netns exec "$ns" "$build/tests/dnsguard-nft-tool" apply "$policy")
  theirs=$(best_of "$runs" ip netns exec "$ns" nft -f "$tmp/p$n.nft")
  compile=$(best_of "$runs" "$build/cli/dnsguardctl" compile "$policy")
  ip netns exec "$ns" nft delete table inet dnsguard
  start_agent
  t0=$(now_ms)
  ctl apply "$policy" >/dev/null
  via_agent=$(($(now_ms) - t0))
  rss=$(mib "$agent" VmRSS)
  peak=$(mib "$agent" VmHWM)
  stop_agent
  ip netns exec "$ns" nft delete table inet dnsguard
  echo "| $n | $ours | $theirs | $compile | $via_agent | $rss | $peak |"
done

# The idle agent: started, a shipped policy applied, then left alone for a few seconds.
echo
echo "| idle agent with | RSS (MiB) | of which private (RssAnon) | of which shared library pages (RssFile) | PSS (MiB) | threads | open fds |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for p in policies/workstation.toml policies/workstation-inspect.toml; do
  start_agent
  ctl apply "$p" >/dev/null
  sleep 3
  pss=$(awk '$1 == "Pss:" { printf "%.1f", $2 / 1024 }' "/proc/$agent/smaps_rollup")
  echo "| $p | $(mib "$agent" VmRSS) | $(mib "$agent" RssAnon) | $(mib "$agent" RssFile) | $pss |" \
    "$(awk '$1 == "Threads:" { print $2 }' "/proc/$agent/status") | $(ls "/proc/$agent/fd" | wc -l) |"
  stop_agent
  ip netns exec "$ns" nft delete table inet dnsguard
done
