#!/usr/bin/env bash
# Soak: dnsguardd under mixed traffic with periodic applies for a bounded time, in
# private namespaces. Traffic: dnsperf at 1,000 queries/s over a mix of allowed names,
# blocked names, denied types and encoded tunnel-like names; a query to a rogue resolver
# every second (bypass events); an apply every 30 s alternating two policies. Prints the
# agent's memory, threads and open file descriptors every minute, and a verdict: flat
# (RSS growth under 4 MiB from the first minute to the end, same fds, threads within
# gRPC's pool changes) or not. Queries under the tunnel-like names are dropped once the
# detector holds their domains, so dnsperf counts them lost. Usage: sudo bench/soak.sh [SECONDS]   (default 600)
source "$(dirname "$0")/../tests/integration/lib.sh"
require_root
duration=${1:-600}

workstation_topology
policy() {  # policy FILE VERSION
  cat >"$1" <<TOML
[policy]
name = "soak"
version = $2
[egress]
log_denied = true
[[egress.resolvers]]
name = "corp"
addresses = ["192.0.2.53", "fd00:53::53"]
[inspect]
enabled = true
queues = 2
block_domains = ["*.ads.example.test", "blocked$2.example.test"]
deny_qtypes = ["ANY", "NULL"]
[inspect.tunneling]
enabled = true
hold_seconds = 60
[telemetry]
events = "stdout"
metrics = "127.0.0.1:9153"
TOML
}
policy "$TEST_TMP/p1.toml" 1
policy "$TEST_TMP/p2.toml" 2
awk 'BEGIN {
  for (i = 0; i < 20000; i++) {
    r = i % 10
    if (r < 5) print "www.example.test A"
    else if (r < 7) printf "x%d.ads.example.test A\n", i
    else if (r == 7) print "www.example.test AAAA"
    else if (r == 8) print "www.example.test NULL"
    else printf "%08x%08x%08x.t%d.tunnel.test TXT\n", i * 2654435761 % 4294967296, i * 40503, i, i % 50
  }
}' >"$TEST_TMP/mix.txt"

start_agent "$ws"
ctl apply "$TEST_TMP/p1.toml" >/dev/null
sample() {
  printf '| %5d | %7.1f | %7.1f | %3d | %3d | %10s | %10s |\n' "$1" \
    "$(awk "BEGIN { print $(agent_status VmRSS) / 1024 }")" "$(awk "BEGIN { print $(agent_status VmHWM) / 1024 }")" \
    "$(agent_status Threads)" "$(agent_fds)" \
    "$(inspected_packets)" "$(ctl status | awk '$1 == "generation" { print $2 }')"
}

# (Not through in_ns: $! must be dnsperf itself so the cleanup's kill reaches it.)
ip netns exec "$ws" dnsperf -s 192.0.2.53 -d "$TEST_TMP/mix.txt" -l "$duration" -Q 1000 -q 2000 -t 2 >"$TEST_TMP/dnsperf.out" 2>&1 &
load=$!
_pids+=("$load")
echo "soak: $duration s of mixed traffic at 1,000 queries/s, an apply every 30 s, a rogue query every second"
echo
echo "| s | RSS MiB | peak MiB | threads | fds | inspected | generation |"
echo "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
start=$SECONDS
sample 0
first_minute_rss=
first_fds=
first_threads=
next_apply=30
next_sample=60
while ((SECONDS - start < duration)); do
  sleep 1
  in_ns "$ws" dig +tries=1 +time=1 @203.0.113.53 rogue.example.test >/dev/null 2>&1
  elapsed=$((SECONDS - start))
  if ((elapsed >= next_apply)); then
    ctl apply "$TEST_TMP/p$(((next_apply / 30) % 2 + 1)).toml" >/dev/null || echo "apply failed at $elapsed s"
    next_apply=$((next_apply + 30))
  fi
  if ((elapsed >= next_sample)); then
    sample "$elapsed"
    if [[ -z $first_minute_rss ]]; then
      first_minute_rss=$(agent_status VmRSS)
      first_fds=$(agent_fds)
      first_threads=$(agent_status Threads)
    fi
    next_sample=$((next_sample + 60))
  fi
done
wait "$load"
sample "$((SECONDS - start))"
echo
grep -E 'Queries (sent|completed|lost)|Response codes' "$TEST_TMP/dnsperf.out" | sed 's/^ */dnsperf: /'
first_minute_rss=${first_minute_rss:-$(agent_status VmRSS)}
first_fds=${first_fds:-$(agent_fds)}
first_threads=${first_threads:-$(agent_status Threads)}
growth=$(($(agent_status VmRSS) - first_minute_rss))
fds=$(agent_fds)
threads=$(agent_status Threads)
echo "from the first minute to the end: RSS $((growth)) KiB, fds $first_fds -> $fds, threads $first_threads -> $threads"
if ((growth < 4096 && fds == first_fds && threads <= first_threads + 2)); then
  echo "soak: flat"
else
  echo "soak: NOT flat"
  exit 1
fi
