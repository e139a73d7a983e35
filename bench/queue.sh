#!/usr/bin/env bash
# Queue benchmark (see queue_bench.cpp): queries/s and added latency through the output
# hook with no queue rule, with a minimal one-verdict-per-packet consumer, and with the
# dnsguard inspector (one queue thread, a decision on every query, 100,000 blocked names
# loaded). Runs in private namespaces; bounded in count. Prints a Markdown table.
#   sudo bench/queue.sh [COUNT] [WINDOW]      defaults: 200000 queries, 64 in flight
set -euo pipefail
cd "$(dirname "$0")/.."
build=${DNSGUARD_BUILD_DIR:-build}
count=${1:-200000}
window=${2:-64}
latency_count=20000
flood_count=${FLOOD_COUNT:-300000}

c="dgqb$$-client"; s="dgqb$$-server"
tmp=$(mktemp -d)
echo_pid=
cleanup() {
  set +e
  if [[ -n $echo_pid ]]; then
    kill "$echo_pid" 2>/dev/null
    wait "$echo_pid" 2>/dev/null
  fi
  ip netns del "$c" 2>/dev/null
  ip netns del "$s" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
ip netns add "$c"; ip netns add "$s"
ip link add eth0 netns "$c" type veth peer name eth0 netns "$s"
ip -n "$c" link set lo up; ip -n "$s" link set lo up
ip -n "$c" link set eth0 up; ip -n "$s" link set eth0 up
ip -n "$c" addr add 192.0.2.10/24 dev eth0; ip -n "$s" addr add 192.0.2.53/24 dev eth0
ip netns exec "$s" "$build/bench/queue_bench" echo 192.0.2.53 &
echo_pid=$!

awk 'BEGIN { for (i = 0; i < 100000; i++) printf "0.0.0.0 ad%d.tracker.example\n", i }' >"$tmp/list.txt"
policy() {  # policy FILE INSPECT
  cat >"$1" <<TOML
[policy]
name = "bench"
version = 1
[egress]
[[egress.resolvers]]
name = "r"
addresses = ["192.0.2.53"]
[inspect]
enabled = $2
queues = 1
block_lists = ["list.txt"]
block_domains = ["bad.example"]
deny_qtypes = ["ANY"]
TOML
}
policy "$tmp/plain.toml" false
policy "$tmp/inspect.toml" true

runs=${RUNS:-3}
measure() {  # measure MODE POLICY COUNT WINDOW -> the result line of the median run (by qps)
  ip netns exec "$c" "$build/tests/dnsguard-nft-tool" apply "$2" >/dev/null
  for ((r = 0; r < runs; r++)); do
    ip netns exec "$c" "$build/bench/queue_bench" run "$1" 192.0.2.53 "$3" "$4" "$tmp/inspect.toml"
  done | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^qps=/) print substr($i, 5), $0 }' |
    sort -n | sed -n "$(((runs + 1) / 2))p" | cut -d' ' -f2-
}
field() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$2"; }

echo "| consumer | queries/s (window $window) | consumer CPU µs/query | queries/s per core | p50 RTT µs | p99 RTT µs | added p50 µs |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
base_p50=
for mode in none plain dnsguard; do
  pol="$tmp/inspect.toml"
  [[ $mode == none ]] && pol="$tmp/plain.toml"
  tput=$(measure "$mode" "$pol" "$count" "$window")
  lat=$(measure "$mode" "$pol" "$latency_count" 1)
  qps=$(field qps "$tput")
  cpu=$(field consumer_cpu_us_per_query "$tput")
  p50=$(field p50_us "$lat"); p99=$(field p99_us "$lat")
  [[ -z $base_p50 ]] && base_p50=$p50
  per_core=$(awk -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", 1e6 / c; else print "-" }')
  added=$(awk -v a="$p50" -v b="$base_p50" 'BEGIN { printf "%.1f", a - b }')
  echo "| $mode | $qps | ${cpu} | $per_core | $p50 | $p99 | $added |"
done

# Saturation: the client floods, the server drops everything at once (so the path after
# the verdict is short), and the consumer works through a queue that never runs dry.
ip netns exec "$s" nft -f - <<'NFT'
table ip sink {
  chain pre {
    type filter hook prerouting priority -300; policy accept;
    udp dport 53 drop
  }
}
NFT
echo
echo "| consumer, saturated | queries/s | consumer CPU µs/query | queries/s per core | packets per read |"
echo "| --- | ---: | ---: | ---: | ---: |"
for mode in plain dnsguard; do
  line=$(measure "$mode" "$tmp/inspect.toml" "$flood_count" 0)
  cpu=$(field consumer_cpu_us_per_query "$line")
  per_core=$(awk -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", 1e6 / c; else print "-" }')
  echo "| $mode | $(field qps "$line") | $cpu | $per_core | $(field batch "$line") |"
done
