#!/usr/bin/env bash
# The inspector against a hostile local process (uid 65534, standard library Python):
# the shapes that crashed or slipped past it before. Every blocked name exists in
# unbound's data with its own address (192.0.2.66, fd00:53::66), so that address in any
# answer means the blocked query reached the resolver.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link
unbound_data='bad.example.test. 300 IN A 192.0.2.66
bad.example.test. 300 IN AAAA fd00:53::66
txt.example.test. 300 IN TXT hello'
# The proxy opens one upstream connection per client connection; the hold test opens
# hundreds.
unbound_config='  incoming-num-tcp: 600
  tcp-idle-timeout: 60000'
start_unbound "$res" corp 192.0.2.53 fd00:53::53
# A designated resolver whose large answers arrive in two parts, a second apart.
addr "$res" to-ws 192.0.2.54/24
start_bg "$res" "$TEST_TMP/slow.log" /usr/bin/python3 "$SOURCE_DIR/tests/integration/slow_resolver.py" 192.0.2.54 1
wait_for "the slow resolver" 10 grep -q listening "$TEST_TMP/slow.log"

write_policy() {  # write_policy FILE DNSTAP
  {
    corp_policy hostile 1 192.0.2.53 192.0.2.54 fd00:53::53
    printf '[inspect]\nenabled = true\nblock_domains = ["bad.example.test"]\ndeny_qtypes = ["ANY", "NULL"]\n'
    [[ $2 == dnstap ]] && printf '[telemetry]\ndnstap = "file:%s"\n' "$TEST_TMP/dnstap.fstrm"
  } >"$1"
}
write_policy "$TEST_TMP/dnstap.toml" dnstap
write_policy "$TEST_TMP/plain.toml" plain

# hostile ARGS...: the client as uid 65534 in the workstation; its output in $TEST_TMP/h.out.
hostile() {
  in_ns "$ws" setpriv --reuid 65534 --regid 65534 --clear-groups \
    /usr/bin/python3 "$SOURCE_DIR/tests/integration/hostile_client.py" "$@" >"$TEST_TMP/h.out" 2>&1
}
# expect DESCRIPTION PATTERN: the last client output matches; and no answer in it
# carries a blocked name's address.
expect() {
  cp "$TEST_TMP/h.out" "$TEST_TMP/last.out"
  grep -Eq -- "$2" "$TEST_TMP/h.out" && ! grep -Eq '192\.0\.2\.66|fd00:53::66' "$TEST_TMP/h.out"
  _report $(($? == 0)) "$1" "no match for /$2/, or a blocked name's address"
}
q() { in_ns "$ws" dig +tries=1 +time=2 "$@" 2>&1; }
# memory_check DESCRIPTION GROWTH_KIB LIMIT_KIB: check_memory_flat, which in the sanitizer
# build stops the agent to let LeakSanitizer judge; it is started again for what follows.
memory_check() {
  check_memory_flat "$@"
  if sanitized_agent; then start_agent "$ws"; fi
}
alive() { kill -0 "$agent_pid"; }
stat_of() { ctl stats | awk -v k="$1" '$1 == k { print $2 }'; }

start_agent "$ws"
check_output "apply the policy with dnstap" 'as generation 1' ctl apply "$TEST_TMP/dnstap.toml"

echo "# a 1-byte TCP segment, with dnstap on and off"
hostile onebyte 192.0.2.53
check "the agent is alive after a 1-byte segment (dnstap on)" alive
check_output "...and a blocked name still gets NXDOMAIN" 'status: NXDOMAIN' q @192.0.2.53 bad.example.test
check_output "apply the policy without dnstap" 'as generation 2' ctl apply "$TEST_TMP/plain.toml"
hostile onebyte fd00:53::53
check "the agent is alive after a 1-byte segment (dnstap off, IPv6)" alive
check_output "...and a blocked name over TCP still gets NXDOMAIN" 'status: NXDOMAIN' q +tcp @192.0.2.53 bad.example.test

echo "# pipelining: blocked queries behind an allowed one in one write"
for server in 192.0.2.53 fd00:53::53; do
  hostile pipeline "$server" www.example.test:A bad.example.test:A bad.example.test:AAAA
  expect "$server: the allowed query is answered by unbound" 'id=4096 rcode=NOERROR a=192\.0\.2\.80$'
  expect "$server: the blocked A behind it gets NXDOMAIN" 'id=4097 rcode=NXDOMAIN a=$'
  expect "$server: the blocked AAAA behind that too" 'id=4098 rcode=NXDOMAIN a=$'
  hostile pipeline "$server" www.example.test:A www.example.test:ANY txt.example.test:NULL
  expect "$server: ANY behind an allowed query is refused" 'id=4097 rcode=REFUSED'
  expect "$server: NULL behind it is refused" 'id=4098 rcode=REFUSED'
done

tcp_event_of_nobody() { output_has '"protocol": *"tcp".*"uid": *65534|"uid": *65534.*"protocol": *"tcp"' ctl -o json events --kind block; }
check "TCP block events name the uid behind the connection (sock_diag)" tcp_event_of_nobody

echo "# split and byte-wise TCP"
for shape in split bytewise; do
  hostile "$shape" 192.0.2.53 www.example.test:A
  expect "$shape: a legitimate query is answered" 'id=4096 rcode=NOERROR a=192\.0\.2\.80$'
  hostile "$shape" fd00:53::53 bad.example.test:AAAA
  expect "$shape: a blocked query gets NXDOMAIN (IPv6)" 'id=4096 rcode=NXDOMAIN a=$'
  hostile "$shape" 192.0.2.53 www.example.test:ANY
  expect "$shape: a denied type is refused" 'id=4096 rcode=REFUSED'
done

echo "# one UDP_SEGMENT (GSO) send carrying an allowed and a blocked query"
hostile gso 192.0.2.53 www.example.test:A bad.example.test:A
expect "the allowed half is answered by unbound" 'id=4096 rcode=NOERROR a=192\.0\.2\.80$'
expect "the blocked half gets NXDOMAIN" 'id=4097 rcode=NXDOMAIN a=$'
hostile gso fd00:53::53 bad.example.test:A www.example.test:A
expect "over IPv6, blocked first" 'id=4096 rcode=NXDOMAIN a=$'

echo "# opcodes other than QUERY"
hostile udp 192.0.2.53 example.test:6 4
expect "a NOTIFY is refused by the inspector" 'id=8192 rcode=REFUSED'
hostile udp 192.0.2.53 example.test:6 5
expect "an UPDATE is refused" 'id=8192 rcode=REFUSED'
check_output "stats count them" 'inspect_rule_denied_opcode +2 ' ctl stats

echo "# the proxy's own port"
in_ns "$ws" setpriv --reuid 65534 --regid 65534 --clear-groups /usr/bin/python3 -c '
import socket, struct, sys
q = struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0) + b"\x03bad\x07example\x04test\x00\x00\x01\x00\x01"
s = socket.create_connection(("127.0.0.1", 553), timeout=3)
s.sendall(struct.pack(">H", len(q)) + q)
try:
    print("got", len(s.recv(100)))
except OSError as e:
    print("error", e)
' >"$TEST_TMP/direct.out" 2>&1
check_output "a direct connection to the proxy gets nothing" '^got 0$|error' cat "$TEST_TMP/direct.out"
check_output "...and is counted as refused" 'inspect_tcp_refused +[1-9]' ctl stats

echo "# files that are not block lists"
{ corp_policy shadow 5; printf '[inspect]\nenabled = true\nblock_lists = ["/etc/shadow"]\n'; } >"$TEST_TMP/shadow.toml"
check_output "plan with /etc/shadow as a block list says it is not a list" 'not a block list' ctl plan "$TEST_TMP/shadow.toml"
cp "$TEST_TMP/last.out" "$TEST_TMP/shadow.out"
check_output "...and quotes none of it (the error is there, root's line is not)" 'not a block list' \
  bash -c "grep -v 'root:' '$TEST_TMP/shadow.out' && ! grep -q 'root:' '$TEST_TMP/shadow.out'"
printf 'ok.example\nbad..example\nfine.example\n' >"$TEST_TMP/typo.txt"
{ corp_policy typo 6; printf '[inspect]\nenabled = true\nblock_lists = ["%s"]\n' "$TEST_TMP/typo.txt"; } >"$TEST_TMP/typo.toml"
check_status "dnsguardd --check-policy (ExecStartPre) loads the lists and refuses a bad line" 1 \
  "$DAEMON" --check-policy "$TEST_TMP/typo.toml"
check_output "...naming file, line and word" 'typo\.txt:2:1: "bad\.\.example" is not a domain name' \
  "$CTL" validate "$TEST_TMP/typo.toml"

echo "# the proxy's answers and the resolver's on one stream"
hostile interleave 192.0.2.54 www.example.test:TXT bad.example.test:A
expect "a blocked query's answer does not land inside a large answer still arriving" 'id=4097 rcode=NXDOMAIN'
expect "...and the large answer arrives whole" 'id=4096 rcode=NOERROR'

echo "# idle connections held open"
rss_before=$(agent_status VmRSS)
ip netns exec "$ws" setpriv --reuid 65534 --regid 65534 --clear-groups \
  /usr/bin/python3 "$SOURCE_DIR/tests/integration/hostile_client.py" hold 192.0.2.53 400 30 >"$TEST_TMP/hold.out" 2>&1 &
hold_pid=$!
_pids+=("$hold_pid")
wait_for "the client to hold its connections" 20 grep -q holding "$TEST_TMP/hold.out"
many_held() { (($(stat_of inspect_tcp_evicted) >= 300)); }
wait_for "the proxy to close the connections over one user's share" 20 many_held
ctl stats | grep -E "inspect_tcp_(open|evicted|refused|connections)" | sed "s/^/   /"
# (Connections of earlier checks may still be closing: allow them a few seconds.)
at_most_32_open() {
  local deadline=$((SECONDS + 10))
  until (($(stat_of inspect_tcp_open) <= 32)); do
    ((SECONDS >= deadline)) && return 1
    sleep 0.2
  done
}
check "one user keeps at most 32 connections" at_most_32_open
check_output "a TCP query from another user is answered meanwhile" '^www\.example\.test\..*192\.0\.2\.80' q +tcp @192.0.2.53 www.example.test
check_output "and a blocked one still blocked" 'status: NXDOMAIN' q +tcp @192.0.2.53 bad.example.test
# Another user's connection waiting on a slow answer outlives a flood of new ones.
in_ns "$ws" /usr/bin/python3 "$SOURCE_DIR/tests/integration/hostile_client.py" pipeline 192.0.2.54 www.example.test:TXT \
  >"$TEST_TMP/waiting.out" 2>&1 &
waiting=$!
hostile hold 192.0.2.53 100 0.5
wait "$waiting"
cp "$TEST_TMP/waiting.out" "$TEST_TMP/h.out"
expect "a connection waiting on its answer is not evicted by another user's flood" 'id=4096 rcode=NOERROR'
rss_after=$(agent_status VmRSS)
echo "   agent RSS ${rss_before} -> ${rss_after} kB with the proxy full"
kill "$hold_pid" 2>/dev/null
wait "$hold_pid" 2>/dev/null
memory_check "the agent's memory stays bounded with the proxy full" $((rss_after - rss_before)) 32768

echo "# a flood of half-open flows"
rss_before=$(agent_status VmRSS)
in_ns "$ws" /usr/bin/python3 "$SOURCE_DIR/tests/integration/hostile_client.py" synflood 192.0.2.10 192.0.2.53 20000 \
  >"$TEST_TMP/syn.out" 2>&1
check_output "20,000 bare SYNs to the resolver (redirected to the proxy) were sent" '^sent 20000' cat "$TEST_TMP/syn.out"
check_output "the proxy holds no connection for them" '^inspect_tcp_open +0 ' ctl stats
check_output "a TCP query is answered right after" '^www\.example\.test\..*192\.0\.2\.80' q +tcp @192.0.2.53 www.example.test
check_output "and a blocked one still blocked" 'status: NXDOMAIN' q +tcp @192.0.2.53 bad.example.test
rss_after=$(agent_status VmRSS)
echo "   agent RSS ${rss_before} -> ${rss_after} kB over the SYN flood"
memory_check "the agent's memory stays flat over the SYN flood" $((rss_after - rss_before)) 4096

echo "# the agent down and back while queries flow"
if kill -0 "$agent_pid" 2>/dev/null; then kill "$agent_pid"; wait "$agent_pid" 2>/dev/null; fi
hostile bind 127.0.0.1 553
expect "with the agent down, no unprivileged process can take the proxy's port" '^refused'
hostile bind ::1 553
expect "...over IPv6 either" '^refused'
for round in 1 2 3; do
  ip netns exec "$ws" setpriv --reuid 65534 --regid 65534 --clear-groups /usr/bin/python3 \
    "$SOURCE_DIR/tests/integration/hostile_client.py" stream 192.0.2.53 3 >"$TEST_TMP/stream.out" 2>&1 &
  stream=$!
  _pids+=("$stream")
  start_agent "$ws"  # the previous agent's rules queue to it from its first moment
  wait "$stream"
  check "round $round: the agent started under a stream of queries and lives" alive
  kill "$agent_pid"
  wait "$agent_pid" 2>/dev/null
done
start_agent "$ws"
check_output "and it enforces the policy again" 'status: NXDOMAIN' q +tcp @192.0.2.53 bad.example.test
finish
