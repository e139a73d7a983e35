#!/usr/bin/env bash
# Workstation lockdown end to end: a workstation namespace, a designated resolver
# running unbound and a rogue resolver running dnsmasq. After policies/workstation.toml
# is applied through the nft backend, DNS reaches unbound over UDP, TCP and IPv6, while
# the rogue resolver and DoT to it fail at once (reject), and the counters show it.
source "$(dirname "$0")/lib.sh"
require_root

workstation_topology
# Something listening on 853 at both, so a refused DoT connection is our rule's doing.
start_bg "$rogue" "$TEST_TMP/dot-rogue.log" socat TCP-LISTEN:853,fork,reuseaddr,bind=203.0.113.53 SYSTEM:true
start_bg "$rogue" "$TEST_TMP/dot-rogue6.log" socat TCP6-LISTEN:853,fork,reuseaddr,bind=[fd00:66::53] SYSTEM:true
start_bg "$res" "$TEST_TMP/dot-res.log" socat TCP-LISTEN:853,fork,reuseaddr,bind=192.0.2.53 SYSTEM:true
dot() { in_ns "$ws" socat -u /dev/null "TCP:$1:853,connect-timeout=3"; }
dot6() { in_ns "$ws" socat -u /dev/null "TCP6:[$1]:853,connect-timeout=3"; }
wait_for "DoT listener on the rogue host" 10 dot 203.0.113.53
wait_for "DoT listener (IPv6) on the rogue host" 10 dot6 fd00:66::53
wait_for "DoT listener on the designated resolver" 10 dot 192.0.2.53

q() { in_ns "$ws" dig +tries=1 +time=3 "$@" www.example.test; }

echo "# before the policy: both resolvers answer"
check_output "rogue resolver answers without a policy" '^www\.example\.test\..*203\.0\.113\.99' q @203.0.113.53

echo "# apply policies/workstation.toml"
check "policy applies in one transaction" in_ns "$ws" "$NFT_TOOL" apply "$SOURCE_DIR/policies/workstation.toml"

echo "# designated resolver: UDP, TCP, IPv6"
check_output "UDP to the designated resolver is answered" '^www\.example\.test\..*192\.0\.2\.80' q @192.0.2.53
check_output "TCP to the designated resolver is answered" '^www\.example\.test\..*192\.0\.2\.80' q +tcp @192.0.2.53
check_output "UDP over IPv6 to the designated resolver is answered" '^www\.example\.test\..*192\.0\.2\.80' q @fd00:53::53
check_output "TCP over IPv6 to the designated resolver is answered" '^www\.example\.test\..*192\.0\.2\.80' q +tcp @fd00:53::53
check "DoT to the designated resolver connects" dot 192.0.2.53

echo "# rogue resolver: refused at once"
check_output "UDP to the rogue resolver is refused" 'connection refused' q @203.0.113.53
check_output "TCP to the rogue resolver is refused" 'connection refused' q +tcp @203.0.113.53
check_output "UDP over IPv6 to the rogue resolver is refused" 'connection refused' q @fd00:66::53
check_output "TCP over IPv6 to the rogue resolver is refused" 'connection refused' q +tcp @fd00:66::53
check_output "DoT to the rogue host is refused" 'Connection refused' dot 203.0.113.53
check_output "DoT over IPv6 to the rogue host is refused" 'Connection refused' dot6 fd00:66::53

echo "# the refusals were counted by the named counters"
check "egress_dns_denied counted the rogue queries" test "$(counter "$ws" egress_dns_denied)" -ge 4
check "egress_dot_denied counted the DoT attempts" test "$(counter "$ws" egress_dot_denied)" -ge 2

echo "# remove the table: the rogue resolver is reachable again"
check "table removed" in_ns "$ws" "$NFT_TOOL" remove
check_output "rogue resolver answers after removal" '^www\.example\.test\..*203\.0\.113\.99' q @203.0.113.53
finish
