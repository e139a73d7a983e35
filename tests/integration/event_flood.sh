#!/usr/bin/env bash
# A flood of blocked queries (bounded: 3 dnsperf runs of 60,000 queries at 6,000/s) with
# every block an event and the events written to stdout as JSON lines. The packet path
# must not notice: every query answered NXDOMAIN by the inspector, none lost, with the
# events on as with them off; the events are sampled (at most 100/s pass, the rest are
# counted and reported as "suppressed") and the agent's memory stays flat from one flood
# to the next.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link
start_unbound "$res" corp 192.0.2.53

policy() {  # policy FILE EVENTS(true|false)
  {
    corp_policy flood 1
    printf '[inspect]\nenabled = true\nblock_domains = ["*.flood.example.test"]\n'
    if [[ $2 == true ]]; then printf '[telemetry]\nevents = "stdout"\nmetrics = "127.0.0.1:9153"\n'; fi
  } >"$1"
}
policy "$TEST_TMP/logged.toml" true
policy "$TEST_TMP/quiet.toml" false
# 60,000 different blocked names, so no cache anywhere answers for the inspector.
awk 'BEGIN { for (i = 0; i < 60000; i++) printf "q%d.flood.example.test A\n", i }' >"$TEST_TMP/blocked.txt"

metric() { in_ns "$ws" curl -sf http://127.0.0.1:9153/metrics | awk -v m="$1" '$1 == m { print $2 }'; }
# flood NAME: one pass over the 60,000 names at up to 6,000 queries/s (10 s), 5 s timeout
# each (a generous one: a loss then means no answer, not a slow one on a busy machine).
flood() {
  in_ns "$ws" dnsperf -s 192.0.2.53 -d "$TEST_TMP/blocked.txt" -n 1 -Q 6000 -t 5 >"$TEST_TMP/$1.out" 2>&1
  echo "   $1: $(dnsperf_count 'Queries completed' "$TEST_TMP/$1.out") completed, $(dnsperf_count 'Queries lost' "$TEST_TMP/$1.out") lost," \
    "NXDOMAIN $(dnsperf_rcode NXDOMAIN "$TEST_TMP/$1.out"), $(grep -o 'Average Latency (s):.*' "$TEST_TMP/$1.out" | head -1)"
}
all_answered() {  # all_answered NAME: 60,000 completed, none lost, all NXDOMAIN
  [[ $(dnsperf_count 'Queries completed' "$TEST_TMP/$1.out") == 60000 && $(dnsperf_count 'Queries lost' "$TEST_TMP/$1.out") == 0 &&
     $(dnsperf_rcode NXDOMAIN "$TEST_TMP/$1.out") == 60000 ]]
}

start_agent "$ws"
check_output "apply with every block an event on stdout" 'as generation 1' ctl apply "$TEST_TMP/logged.toml"
wait_for "the metrics endpoint" 10 metric dnsguard_policy_generation

floods_start=$SECONDS
flood first
check "first flood: every query answered NXDOMAIN by the inspector, none lost" all_answered first
rss_after_first=$(agent_status VmRSS)
flood second
check "second flood: the same" all_answered second
rss_after_second=$(agent_status VmRSS)
floods_seconds=$((SECONDS - floods_start + 1))  # rounded up
echo "   agent RSS: $rss_after_first KiB after the first flood, $rss_after_second KiB after the second"

# Every block is either written or counted as suppressed; the writer may still be
# draining its queue when dnsperf ends.
blocks_logged() { grep -c '"kind":"block"' "$TEST_TMP/agent.log"; }
all_blocks_accounted() { (($(blocks_logged) + $(metric dnsguard_events_suppressed_total) == 120000)); }
wait_for "every block written or counted as suppressed" 10 all_blocks_accounted
blocks_logged=$(blocks_logged)
suppressed=$(metric dnsguard_events_suppressed_total)
echo "   120,000 blocks in $floods_seconds s: $blocks_logged block events written, ${suppressed:-?} suppressed"
# The sampler's budget over the floods: its burst of 200 and 100 a second.
check "events are sampled: at most 100/s (burst 200) of the blocks were written" \
  test "$blocks_logged" -le $((200 + 100 * floods_seconds))
check "and the rest counted as suppressed (written + suppressed = 120,000)" all_blocks_accounted
check_output "the suppressed counts are reported as events" '"kind":"suppressed".*"count":"[0-9]+"' \
  grep '"kind":"suppressed"' "$TEST_TMP/agent.log"
check "the event ring stays bounded (4096)" test "$(ctl events | wc -l)" -le 4096

check_output "apply the same policy without events on stdout" 'as generation 2' ctl apply "$TEST_TMP/quiet.toml"
flood quiet
check "without logging: the same result (the packet path did not depend on it)" all_answered quiet
check "ordinary lookups answered after the floods" \
  bash -c "ip netns exec $ws dig +short +tries=1 +time=2 @192.0.2.53 www.example.test | grep -qx 192.0.2.80"
check_memory_flat "memory is flat from one flood to the next (under 2 MiB growth)" \
  $((rss_after_second - rss_after_first)) 2048
finish
