#!/usr/bin/env bash
# A policy reload storm: 100 applies in a row (alternating two inspecting policies with
# different block lists) while dnsperf keeps 2,000 queries/s flowing through the
# inspector. No query may be lost or answered wrongly, and nothing may leak: the agent's
# file descriptors and threads are the same after the storm as after the
# first apply, its memory is flat, and the kernel table is exactly what one apply makes.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link
unbound_data='blocked-a.example.test. 300 IN A 192.0.2.81
blocked-b.example.test. 300 IN A 192.0.2.82'
start_unbound "$res" corp 192.0.2.53

policy() {  # policy FILE VERSION BLOCKED_NAME
  echo "$3" >"$TEST_TMP/list-$2.txt"
  {
    corp_policy storm "$2"
    cat <<TOML
[inspect]
enabled = true
queues = 2
block_lists = ["list-$2.txt"]
[inspect.tunneling]
enabled = true
TOML
  } >"$1"
}
policy "$TEST_TMP/a.toml" 1 blocked-a.example.test
policy "$TEST_TMP/b.toml" 2 blocked-b.example.test
for i in $(seq 100); do echo "www.example.test A"; done >"$TEST_TMP/allowed.txt"

q() { in_ns "$ws" dig +tries=1 +time=2 @192.0.2.53 "$1" 2>&1; }

start_agent "$ws"
check_output "first apply" 'as generation 1' ctl apply "$TEST_TMP/a.toml"
check_output "policy a blocks its name" 'status: NXDOMAIN' q blocked-a.example.test
# Warm up (the first queries create the per-thread buffers), then take the baseline.
in_ns "$ws" dnsperf -s 192.0.2.53 -d "$TEST_TMP/allowed.txt" -l 2 -Q 2000 >/dev/null 2>&1
ctl apply "$TEST_TMP/b.toml" >/dev/null && ctl apply "$TEST_TMP/a.toml" >/dev/null
rss_before=$(agent_status VmRSS)
fds_before=$(agent_fds)
threads_before=$(agent_status Threads)
ip netns exec "$ws" nft list table inet dnsguard 2>/dev/null | sed 's/handle [0-9]*//' >"$TEST_TMP/table-before.txt"

# The load runs until the storm is over (SIGINT ends dnsperf with its report; -l only
# bounds it); the storm waits for it to start.
start_load "$TEST_TMP/allowed.txt" "$TEST_TMP/load.out" 300 2000 5
# Each generation must carry live queries before the next apply replaces it, so the
# load covers the whole storm however fast the applies go.
generation_inspected() { (($(inspected_packets) > generation_packets + 20)); }
storm_ok=1
generations_with_load=0
storm_start=$SECONDS
for i in $(seq 100); do
  if ((i % 2)); then p=b; else p=a; fi
  ctl apply "$TEST_TMP/$p.toml" >"$TEST_TMP/apply.out" 2>&1 || { storm_ok=0; cat "$TEST_TMP/apply.out"; break; }
  generation_packets=$(inspected_packets)
  deadline=$((SECONDS + 5))
  until generation_inspected || ((SECONDS >= deadline)); do sleep 0.01; done
  generation_inspected && generations_with_load=$((generations_with_load + 1))
done
echo "   100 applies in $((SECONDS - storm_start)) s"
check "100 applies in a row under load all succeeded" test "$storm_ok" -eq 1
check "every one of the 100 generations inspected live queries" test "$generations_with_load" -eq 100
check_output "the agent counted them" '^generation +103$' ctl status
storm_running() { kill -0 "$load" 2>/dev/null; }
check "the load was still running when the storm ended" storm_running
sleep 1  # one more second of load after the last apply, then dnsperf reports
kill -INT "$load"
wait "$load"
echo "   dnsperf: $(dnsperf_count 'Queries sent' "$TEST_TMP/load.out") sent, $(dnsperf_count 'Queries completed' "$TEST_TMP/load.out") completed," \
  "$(dnsperf_count 'Queries lost' "$TEST_TMP/load.out") lost, in flight at the end: $(dnsperf_count 'Queries interrupted' "$TEST_TMP/load.out" | grep . || echo 0)," \
  "NOERROR $(dnsperf_rcode NOERROR "$TEST_TMP/load.out")"
check "no query lost during the storm" test "$(dnsperf_count 'Queries lost' "$TEST_TMP/load.out")" -eq 0
check "every completed query answered NOERROR by unbound" \
  test "$(dnsperf_rcode NOERROR "$TEST_TMP/load.out")" -eq "$(dnsperf_count 'Queries completed' "$TEST_TMP/load.out")"
check "and the load was real: over 2,000 queries" test "$(dnsperf_count 'Queries completed' "$TEST_TMP/load.out")" -gt 2000

# Nothing leaked: file descriptors, threads, kernel objects; memory flat.
ip netns exec "$ws" nft list table inet dnsguard 2>/dev/null | sed 's/handle [0-9]*//' >"$TEST_TMP/table-after.txt"
echo "   agent: RSS $rss_before -> $(agent_status VmRSS) KiB, fds $fds_before -> $(agent_fds), threads $threads_before -> $(agent_status Threads)"
# (The last ctl's connection may still be closing; a leak would be one or more an apply.)
fds_back() { (($(agent_fds) <= fds_before)); }
wait_for "the agent's open files to settle" 10 fds_back
check "the same open file descriptors" fds_back
# gRPC may start or retire a pool thread on its own; a leak would be one per apply.
check "no threads leaked (within gRPC's own pool changes)" test "$(agent_status Threads)" -le $((threads_before + 2))
rss_growth=$(($(agent_status VmRSS) - rss_before))
check "the kernel table is what one apply makes" diff "$TEST_TMP/table-before.txt" "$TEST_TMP/table-after.txt"
check_output "the last policy (a) is in force" 'status: NXDOMAIN' q blocked-a.example.test
check_output "and b's name is not blocked" 'status: NOERROR' q blocked-b.example.test
check_memory_flat "memory flat: under 4 MiB growth over 100 applies" "$rss_growth" 4096
finish
