#!/usr/bin/env bash
# SIGKILL of the agent under query load (bounded dnsperf runs, 1000 queries/s for 6 s):
# with fail = "open" no queries are lost beyond those in flight; with fail = "closed"
# nothing passes unchecked while the agent is down; in both the egress rules stay
# enforced throughout, and a restarted agent resumes inspection.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link
ip -n "$ws" route add 203.0.113.0/24 dev to-res  # a rogue resolver's route, so only our rule stops it

unbound_data='bad.example.test. 300 IN A 192.0.2.66'
start_unbound "$res" corp 192.0.2.53

policy() {  # policy FILE FAIL
  {
    corp_policy under-load 1
    cat <<TOML
[inspect]
enabled = true
fail = "$2"
block_domains = ["bad.example.test"]
TOML
  } >"$1"
}
policy "$TEST_TMP/open.toml" open
policy "$TEST_TMP/closed.toml" closed
for i in $(seq 50); do echo "www.example.test A"; done >"$TEST_TMP/allowed.txt"
for i in $(seq 50); do echo "bad.example.test A"; done >"$TEST_TMP/blocked.txt"

rogue_refused() { grep -q 'connection refused' <<<"$(in_ns "$ws" dig +tries=1 +time=1 @203.0.113.53 x.example 2>&1)"; }
agent_serving() { ctl status >/dev/null 2>&1; }

# load_with_kill QUERIES OUT: 10 s of load (3 s timeout a query, so a slow answer on a
# busy machine is not a loss); the agent dies about 2 s in and is back about 1 s later.
load_with_kill() {
  start_load "$1" "$2" 10 1000 3
  sleep 1.5  # dnsperf runs on its own clock; the kill must land in the middle of its run
  kill -0 "$load" 2>/dev/null && echo yes >"$2.running-at-kill" || echo no >"$2.running-at-kill"
  kill -9 "$agent_pid"
  wait "$agent_pid" 2>/dev/null
  rogue_refused && echo refused >"$TEST_TMP/during-outage" || echo open >"$TEST_TMP/during-outage"
  start_agent "$ws"
  wait "$load"
}

start_agent "$ws"
echo "# fail open"
check_output "apply (fail open)" 'as generation 1' ctl apply "$TEST_TMP/open.toml"
load_with_kill "$TEST_TMP/allowed.txt" "$TEST_TMP/open.out"
lost=$(dnsperf_count "Queries lost" "$TEST_TMP/open.out")
sent=$(dnsperf_count "Queries sent" "$TEST_TMP/open.out")
echo "   dnsperf: $sent sent, $lost lost"
check_output "the load was still running when the agent was killed" '^yes$' cat "$TEST_TMP/open.out.running-at-kill"
check "the load ran: over 5,000 queries sent" test "${sent:-0}" -ge 5000
# In flight: the packets queued to the dying agent, which the kernel drops when its queue
# socket goes away - the time a killed process takes to tear down (tens of ms).
# An AddressSanitizer process takes longer to die (its shadow memory goes too).
in_flight_ms=100
sanitized_agent && in_flight_ms=300
check "no queries lost beyond those in flight (at most $in_flight_ms ms of load)" test "${lost:-999}" -le "$in_flight_ms"
check_output "the egress rules stayed enforced while the agent was down" '^refused$' cat "$TEST_TMP/during-outage"
check_output "the restarted agent reports the same generation, no drift" '^generation +1$' ctl status
check_output "and inspects again" 'status: NXDOMAIN' in_ns "$ws" dig +tries=1 +time=2 @192.0.2.53 bad.example.test

echo "# fail closed"
check_output "apply (fail closed)" 'as generation 2' ctl apply "$TEST_TMP/closed.toml"
load_with_kill "$TEST_TMP/blocked.txt" "$TEST_TMP/closed.out"
noerror=$(dnsperf_rcode NOERROR "$TEST_TMP/closed.out")
nxdomain=$(dnsperf_rcode NXDOMAIN "$TEST_TMP/closed.out")
echo "   dnsperf: NXDOMAIN ${nxdomain:-0}, NOERROR ${noerror:-0}, lost $(dnsperf_count "Queries lost" "$TEST_TMP/closed.out")"
check_output "the load was still running when the agent was killed" '^yes$' cat "$TEST_TMP/closed.out.running-at-kill"
check "no blocked query got through unchecked (no NOERROR from unbound)" test "${noerror:-0}" -eq 0
check "the blocked queries before and after the outage got NXDOMAIN" test "${nxdomain:-0}" -ge 3000
check_output "the egress rules stayed enforced while the agent was down" '^refused$' cat "$TEST_TMP/during-outage"
check "the agent serves again" agent_serving
finish
