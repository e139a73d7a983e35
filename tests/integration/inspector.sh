#!/usr/bin/env bash
# The NFQUEUE inspector end to end: dnsguardd in a workstation namespace, unbound as the
# designated resolver. Every name the test blocks exists in unbound's data, so an
# NXDOMAIN can only come from the inspector. Checks blocked names (exact, wildcard,
# block list) over UDP, IPv6 and TCP (through the agent's proxy), denied record types, the other block
# responses, stats, and both fail modes with the agent killed and back.
source "$(dirname "$0")/lib.sh"
require_root

resolver_link

unbound_data='bad.example.test. 300 IN A 192.0.2.66
x.tracker.example.test. 300 IN A 192.0.2.67
listed.example.test. 300 IN A 192.0.2.68
txt.example.test. 300 IN TXT hello'
start_unbound "$res" corp 192.0.2.53 fd00:53::53

echo "listed.example.test" >"$TEST_TMP/list.txt"
write_policy() {  # write_policy FILE FAIL BLOCK_RESPONSE
  {
    corp_policy inspected 1 192.0.2.53 fd00:53::53
    cat <<TOML
[inspect]
enabled = true
queues = 2
fail = "$2"
block_response = "$3"
block_domains = ["bad.example.test", "*.tracker.example.test"]
block_lists = ["list.txt"]
deny_qtypes = ["ANY", "NULL"]
[telemetry]
events = "stdout"
dnstap = "file:$TEST_TMP/dnstap.fstrm"
metrics = "127.0.0.1:9153"
TOML
  } >"$1"
}
write_policy "$TEST_TMP/open.toml" open nxdomain
write_policy "$TEST_TMP/refused.toml" open refused
write_policy "$TEST_TMP/sinkhole.toml" open sinkhole
write_policy "$TEST_TMP/closed.toml" closed nxdomain

q() { in_ns "$ws" dig +tries=1 +time=2 "$@" 2>&1; }
kill_agent() {
  kill -9 "$agent_pid"
  wait "$agent_pid" 2>/dev/null
}
answered() { grep -q "^www\.example\.test\..*192\.0\.2\.80" <<<"$(q @192.0.2.53 www.example.test)"; }
unanswered() { grep -q 'timed out' <<<"$(q @192.0.2.53 www.example.test)"; }

start_agent "$ws"
check_output "apply the inspecting policy" 'as generation 1' ctl apply "$TEST_TMP/open.toml"

echo "# allowed and blocked names"
check_output "an allowed name gets unbound's answer" '^www\.example\.test\..*192\.0\.2\.80' q @192.0.2.53 www.example.test
check_output "a blocked name gets NXDOMAIN at the first try" 'status: NXDOMAIN' q +retry=0 @192.0.2.53 bad.example.test
check_output "...answered from the resolver's address" 'SERVER: 192\.0\.2\.53#53' q +retry=0 @192.0.2.53 bad.example.test
check_output "a wildcard match gets NXDOMAIN" 'status: NXDOMAIN' q @192.0.2.53 x.tracker.example.test
check_output "a block-list name gets NXDOMAIN" 'status: NXDOMAIN' q @192.0.2.53 listed.example.test
check_output "over IPv6 too" 'status: NXDOMAIN' q @fd00:53::53 bad.example.test
check_output "an allowed name over IPv6" '^www\.example\.test\..*192\.0\.2\.80' q @fd00:53::53 www.example.test
check_output "over TCP (the agent's proxy) a blocked name gets NXDOMAIN" 'status: NXDOMAIN' q +tcp @192.0.2.53 bad.example.test
check_output "...answered from the resolver's address" 'SERVER: 192\.0\.2\.53#53\(.*\) \(TCP\)' q +tcp @192.0.2.53 bad.example.test
check_output "over TCP and IPv6 too" 'status: NXDOMAIN' q +tcp @fd00:53::53 bad.example.test
check_output "over TCP an allowed name is answered" '^www\.example\.test\..*192\.0\.2\.80' q +tcp @192.0.2.53 www.example.test

echo "# record types"
check_output "an unlisted type (TXT) is answered by unbound" 'hello' q @192.0.2.53 txt.example.test TXT
check_output "a denied type (NULL) is refused" 'status: REFUSED' q @192.0.2.53 txt.example.test NULL
# dig asks ANY over TCP unless told otherwise.
check_output "a denied type (ANY) over UDP is refused" 'status: REFUSED' q +notcp @192.0.2.53 www.example.test ANY
check_output "a denied type (ANY) over TCP is refused" 'status: REFUSED' q +tcp @192.0.2.53 www.example.test ANY

echo "# other block responses, swapped in on apply"
check_output "block_response = refused" 'as generation 2' ctl apply "$TEST_TMP/refused.toml"
check_output "a blocked name is REFUSED" 'status: REFUSED' q @192.0.2.53 bad.example.test
check_output "block_response = sinkhole" 'as generation 3' ctl apply "$TEST_TMP/sinkhole.toml"
check_output "a blocked name gets the sinkhole address" '^bad\.example\.test\..*60.*IN.*A.*0\.0\.0\.0' q @192.0.2.53 bad.example.test
check_output "a blocked AAAA gets the IPv6 sinkhole" '^bad\.example\.test\..*AAAA.*::$' q @192.0.2.53 bad.example.test AAAA

echo "# events"
check_output "a blocked name is a block event naming the client, the name and the rule" \
  'block bad\.example\.test from 192\.0\.2\.10 \(root\): inspect\.block_domains' ctl events --kind block
check_output "events filter by domain (and names below it)" 'x\.tracker\.example\.test' ctl events --domain tracker.example.test
check_output "with [telemetry] events = stdout the agent writes JSON lines" \
  '^\{"time":.*"kind":"block".*"qname":"listed\.example\.test"' cat "$TEST_TMP/agent.log"

echo "# stats"
check_output "stats count blocked names" 'inspect_rule_blocked_domain +[1-9]' ctl stats
check_output "stats count the block list" "inspect_list $TEST_TMP/list.txt +[1-9]" ctl stats
check_output "stats count denied types" 'inspect_rule_denied_qtype +[1-9]' ctl stats
check_output "stats count the TCP proxy's connections" 'inspect_tcp_connections +[1-9]' ctl stats

echo "# Prometheus metrics"
metrics() { in_ns "$ws" curl -sf http://127.0.0.1:9153/metrics; }
wait_for "the metrics endpoint" 10 metrics
metrics >"$TEST_TMP/metrics.txt"
# The exposition format: HELP and TYPE per family, then "name{labels} value" lines.
valid_exposition() {
  awk '
    /^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* / { help[$3] = 1; next }
    /^# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped)$/ { type[$3] = 1; next }
    /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+0-9.eInf]+$/ {
      name = $0; sub(/[{ ].*/, "", name)
      if (!(name in help)) sub(/_(bucket|sum|count)$/, "", name)  # a histogram'"'"'s series
      if (!(name in help) || !(name in type)) { print "no HELP/TYPE: " $0; bad = 1 }
      n++; next }
    { print "bad line: " $0; bad = 1 }
    END { exit bad || n == 0 }' "$1"
}
check "the metrics are valid Prometheus exposition text" valid_exposition "$TEST_TMP/metrics.txt"
blocked_by_stats=$(ctl stats | awk '$1 == "inspect_rule_blocked_domain" { print $2 }')
# Every metric family the agent exports is explained in docs/telemetry.md.
undocumented_metrics() {
  local family missing=0
  for family in $(awk '$1 == "#" && $2 == "TYPE" { print $3 }' "$TEST_TMP/metrics.txt"); do
    grep -qF "\`$family" "$SOURCE_DIR/docs/telemetry.md" || { echo "not in docs/telemetry.md: $family"; missing=1; }
  done
  return $missing
}
check "every metric family is documented in docs/telemetry.md" undocumented_metrics
check_output "metrics count the blocked names like stats do" \
  "^dnsguard_inspector_decisions_total\\{rule=\"blocked_domain\"\\} $blocked_by_stats\$" metrics
check_output "metrics show the rule counters and the generation" '^dnsguard_policy_generation 3$' metrics
check_output "metrics show how long the last apply took" '^dnsguard_policy_apply_duration_seconds [0-9]+(\.[0-9]+)?(e-?[0-9]+)?$' metrics
check_output "status shows it too" '^last apply took +[0-9.]+ ms$' ctl status
# The latency histogram counts every packet the inspector handled, in cumulative buckets.
latency_consistent() {
  metrics >"$TEST_TMP/m.txt"
  local packets count inf
  packets=$(awk '$1 == "dnsguard_inspector_packets_total" { print $2 }' "$TEST_TMP/m.txt")
  count=$(awk '$1 == "dnsguard_inspector_latency_seconds_count" { print $2 }' "$TEST_TMP/m.txt")
  inf=$(awk '$1 == "dnsguard_inspector_latency_seconds_bucket{le=\"+Inf\"}" { print $2 }' "$TEST_TMP/m.txt")
  echo "packets $packets, histogram count $count, +Inf bucket $inf"
  ((packets > 0 && count == packets && inf == count)) &&
    awk '/^dnsguard_inspector_latency_seconds_bucket/ { if ($2 < last) exit 1; last = $2 }' "$TEST_TMP/m.txt"
}
check "the inspector latency histogram counts every packet, buckets cumulative" latency_consistent

echo "# hostile packets: a bounded barrage of malformed DNS through the queue"
malformed_before=$(ctl stats | awk '$1 == "inspect_rule_malformed" { print $2 }')
{  # a query whose name has five 63-octet labels: 320 octets, over the 255 limit
  printf '\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00'
  for l in 1 2 3 4 5; do printf '\x3f'; head -c 63 /dev/zero | tr '\0' a; done
  printf '\x00\x00\x01\x00\x01'
} >"$TEST_TMP/long-name"
in_ns "$ws" bash -c '
  send() { printf "$1" >/dev/udp/192.0.2.53/53; }
  for i in $(seq 300); do head -c $((RANDOM % 300 + 1)) /dev/urandom >/dev/udp/192.0.2.53/53; done
  for i in $(seq 100); do
    send "\x12\x34\x01\x00\x00"                                                       # truncated header
    send "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\xc0\x0c\x00\x01\x00\x01"       # pointer to itself
    send "\x12\x34\x01\x00\x13\x88\x00\x00\x00\x00\x00\x00\x01a\x00\x00\x01\x00\x01"      # 5000 questions
    send "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x7fabc"                    # label type 01
  done
  for i in $(seq 100); do cat "$1" >/dev/udp/192.0.2.53/53; done                       # 320-octet name
' barrage "$TEST_TMP/long-name"

malformed_grew() {
  local now
  now=$(ctl stats | awk '$1 == "inspect_rule_malformed" { print $2 }')
  ((now - malformed_before >= 500))
}
wait_for "the inspector to count at least 500 malformed queries" 10 malformed_grew
check "the inspector counted at least 500 malformed queries" malformed_grew
check "the agent is still up" ctl status
check "normal queries are still answered" answered
check_output "and blocked names still blocked" 'status: NOERROR|0\.0\.0\.0' q @192.0.2.53 bad.example.test

echo "# fail open: DNS flows while the inspector is down"
check_output "back to nxdomain, fail open" 'as generation 4' ctl apply "$TEST_TMP/open.toml"
kill_agent
check "with the agent killed, lookups still work" answered
check_output "...and blocked names are not inspected" '^bad\.example\.test\..*192\.0\.2\.66' q @192.0.2.53 bad.example.test
start_agent "$ws"
check_output "the restarted agent blocks again" 'status: NXDOMAIN' q @192.0.2.53 bad.example.test

echo "# fail closed: nothing passes unchecked"
check_output "fail closed" 'as generation 5' ctl apply "$TEST_TMP/closed.toml"
check "lookups work while the agent runs" answered
kill_agent
check "with the agent killed, lookups fail" unanswered
start_agent "$ws"
wait_for "lookups to work again once the agent is back" 10 answered
check_output "and blocking resumes" 'status: NXDOMAIN' q @192.0.2.53 bad.example.test

echo "# a bad list file is an apply error, and changes nothing"
sed 's|list.txt|missing.txt|' "$TEST_TMP/open.toml" >"$TEST_TMP/missing.toml"
check_output "a missing list file is refused" 'cannot read list file' ctl apply "$TEST_TMP/missing.toml"
printf 'ok.example\nthis is not a domain\n' >"$TEST_TMP/broken.txt"
sed 's|list.txt|broken.txt|' "$TEST_TMP/open.toml" >"$TEST_TMP/broken.toml"
check_output "a broken list line is refused with file:line" 'broken\.txt:2:1:' ctl apply "$TEST_TMP/broken.toml"
check_output "the running policy is unchanged" '^generation +5$' ctl status
kill "$agent_pid"
wait "$agent_pid"
status=$?
check "SIGTERM stops the agent with exit status 0 (in the sanitizer build: no leaks)" test "$status" -eq 0

echo "# dnstap: what the last agent saw, decoded by BIND's dnstap-read"
check_output "dnstap-read shows the client queries" 'CQ 192\.0\.2\.10:[0-9]+ -> 192\.0\.2\.53:53 UDP [0-9]+b bad\.example\.test/IN/A' \
  dnstap-read "$TEST_TMP/dnstap.fstrm"
check_output "and the answers the inspector made up" 'CR 192\.0\.2\.10:[0-9]+ <- 192\.0\.2\.53:53 UDP [0-9]+b bad\.example\.test/IN/A' \
  dnstap-read "$TEST_TMP/dnstap.fstrm"
check_output "allowed queries are there too" 'CQ .* www\.example\.test/IN/A' dnstap-read "$TEST_TMP/dnstap.fstrm"
finish
