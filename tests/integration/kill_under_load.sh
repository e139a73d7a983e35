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
  cat >"$1" <<TOML
[policy]
name = "under-load"
version = 1
[egress]
[[egress.resolvers]]
name = "corp"
addresses = ["192.0.2.53"]
[inspect]
enabled = true
fail = "$2"
block_domains = ["bad.example.test"]
TOML
}
policy "$TEST_TMP/open.toml" open
policy "$TEST_TMP/closed.toml" closed
for i in $(seq 50); do echo "www.example.test A"; done >"$TEST_TMP/allowed.txt"
for i in $(seq 50); do echo "bad.example.test A"; done >"$TEST_TMP/blocked.txt"

rogue_refused() { grep -q 'connection refused' <<<"$(in_ns "$ws" dig +tries=1 +time=1 @203.0.113.53 x.example 2>&1)"; }
agent_serving() { ctl status >/dev/null 2>&1; }
inspected() { ctl stats | awk '$1 == "inspect_packets" { print $2 }'; }

# load_with_kill QUERIES OUT: 6 s of load; the agent dies at 2 s and is back at 3 s.
load_with_kill() {
  in_ns "$ws" dnsperf -s 192.0.2.53 -d "$1" -l 6 -Q 1000 -t 1 >"$2" 2>&1 &
  local load=$!
  _pids+=("$load")
  local before
  before=$(inspected)
  load_flowing() { (($(inspected) > before + 100)); }
  wait_for "the load to reach the inspector" 5 load_flowing
  sleep 1.5  # dnsperf runs on its own clock; the kill must land in the middle of its run
  kill -9 "$agent_pid"
  wait "$agent_pid" 2>/dev/null
  rogue_refused && echo refused >"$TEST_TMP/during-outage" || echo open >"$TEST_TMP/during-outage"
  start_agent "$ws"
  wait "$load"
}
field() { awk -v k="$1" '$0 ~ k { gsub(/[(%)]/, ""); print $3; exit }' "$2"; }

start_agent "$ws"
echo "# fail open"
check_output "apply (fail open)" 'as generation 1' ctl apply "$TEST_TMP/open.toml"
load_with_kill "$TEST_TMP/allowed.txt" "$TEST_TMP/open.out"
lost=$(field "Queries lost" "$TEST_TMP/open.out")
sent=$(field "Queries sent" "$TEST_TMP/open.out")
echo "   dnsperf: $sent sent, $lost lost"
check "about 6000 queries were sent" test "${sent:-0}" -ge 5000
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
noerror=$(awk '/Response codes/ { for (i = 1; i <= NF; i++) if ($i == "NOERROR") print $(i + 1) }' "$TEST_TMP/closed.out")
nxdomain=$(awk '/Response codes/ { for (i = 1; i <= NF; i++) if ($i == "NXDOMAIN") print $(i + 1) }' "$TEST_TMP/closed.out")
echo "   dnsperf: NXDOMAIN ${nxdomain:-0}, NOERROR ${noerror:-0}, lost $(field "Queries lost" "$TEST_TMP/closed.out")"
check "no blocked query got through unchecked (no NOERROR from unbound)" test "${noerror:-0}" -eq 0
check "the blocked queries before and after the outage got NXDOMAIN" test "${nxdomain:-0}" -ge 3000
check_output "the egress rules stayed enforced while the agent was down" '^refused$' cat "$TEST_TMP/during-outage"
check "the agent serves again" agent_serving
finish
