#!/usr/bin/env bash
# Reconfiguring the inspector under load: growing and shrinking its queues while
# dnsperf runs (bounded: 1000 queries/s for 12 s) never wedges the agent (apply and
# status answer within their timeout throughout) and loses no query beyond those in
# flight; a grow that cannot bind a queue (another process holds it) fails, changes
# nothing, and leaves inspection running.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link
unbound_data='bad.example.test. 300 IN A 192.0.2.66'
start_unbound "$res" corp 192.0.2.53

policy() {  # policy FILE QUEUES
  {
    corp_policy reconfigure 1
    printf '[inspect]\nenabled = true\nqueues = %s\nblock_domains = ["bad.example.test"]\n' "$2"
  } >"$1"
}
policy "$TEST_TMP/four.toml" 4
policy "$TEST_TMP/one.toml" 1
for i in $(seq 50); do echo "www.example.test A"; done >"$TEST_TMP/allowed.txt"
blocked() { grep -q 'status: NXDOMAIN' <<<"$(in_ns "$ws" dig +tries=1 +time=2 @192.0.2.53 bad.example.test 2>&1)"; }

start_agent "$ws"
check_output "apply one queue" 'as generation 1' ctl apply "$TEST_TMP/one.toml"

echo "# grow and shrink under load"
start_load "$TEST_TMP/allowed.txt" "$TEST_TMP/load.out" 12 1000 3
hung=0
cycles=0
while kill -0 "$load" 2>/dev/null && ((cycles < 8)); do
  timeout 10 ip netns exec "$ws" "$CTL" apply "$TEST_TMP/four.toml" >/dev/null 2>&1 || hung=$((hung + 1))
  timeout 5 ip netns exec "$ws" "$CTL" status >/dev/null 2>&1 || hung=$((hung + 1))
  timeout 10 ip netns exec "$ws" "$CTL" apply "$TEST_TMP/one.toml" >/dev/null 2>&1 || hung=$((hung + 1))
  timeout 5 ip netns exec "$ws" "$CTL" status >/dev/null 2>&1 || hung=$((hung + 1))
  cycles=$((cycles + 1))
done
wait "$load"
sent=$(dnsperf_count "Queries sent" "$TEST_TMP/load.out")
lost=$(dnsperf_count "Queries lost" "$TEST_TMP/load.out")
echo "   $cycles grow/shrink cycles during the load; dnsperf: $sent sent, $lost lost"
: >"$TEST_TMP/last.out"
_report $((hung == 0 && cycles >= 2)) "apply and status answered every time ($cycles cycles)" "$hung calls failed or hung"
# A queue that stops drops what it still holds: at most the packets in flight then.
_report $((lost <= 10 * cycles)) "no query lost beyond those in flight" "$lost lost over $cycles cycles"
bound_queues() { in_ns "$ws" cat /proc/net/netfilter/nfnetlink_queue | wc -l; }
check_output "the agent serves one queue again" '^1$' bound_queues
check "and blocks" blocked

echo "# a grow that cannot bind"
# Another program serves NFQUEUE 2 (a raw netlink bind, as root, like a second inspector).
cat >"$TEST_TMP/hold_queue.py" <<'PY'
import socket, struct, sys, time
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.bind((0, 0))
cmd = struct.pack("<HH", 8, 1) + struct.pack("BBH", 1, 0, 0)  # NFQA_CFG_CMD: BIND
body = struct.pack("BBH", socket.AF_UNSPEC, 0, socket.htons(2)) + cmd  # nfgenmsg, queue 2
hdr = struct.pack("=IHHII", 16 + len(body), (3 << 8) | 2, 1 | 4, 1, 0)  # NFQNL_MSG_CONFIG, REQUEST|ACK
s.send(hdr + body)
reply = s.recv(4096)
error = struct.unpack("=i", reply[16:20])[0]
print("bound" if error == 0 else "bind failed %d" % error, flush=True)
time.sleep(float(sys.argv[1]))
PY
ip netns exec "$ws" /usr/bin/python3 "$TEST_TMP/hold_queue.py" 60 >"$TEST_TMP/holder.out" 2>&1 &
holder=$!
_pids+=("$holder")
wait_for "another program to hold NFQUEUE 2" 10 grep -q '^bound' "$TEST_TMP/holder.out"
check_output "growing to four queues fails and names the queue" 'NFQUEUE 2.*another process serves this queue' \
  ctl apply "$TEST_TMP/four.toml"
check_output "the running policy is unchanged" "^generation +$((1 + 2 * cycles))$" ctl status
check "inspection still runs: a blocked name gets NXDOMAIN" blocked
check_output "and allowed names are answered" '192\.0\.2\.80' in_ns "$ws" dig +short +tries=1 +time=2 @192.0.2.53 www.example.test
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
check_output "once the queue is free the grow succeeds" 'as generation' ctl apply "$TEST_TMP/four.toml"
check "and inspection goes on" blocked
finish
