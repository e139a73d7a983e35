#!/usr/bin/env bash
# Authoritative primary end to end: BIND serves example.test and allows AXFR to anyone;
# after policies/primary.toml is applied on the primary, only the listed secondary
# (198.51.100.2 / fd00:53::2) gets the zone over TCP, an unlisted peer is refused, and
# plain UDP queries are still answered for everyone.
source "$(dirname "$0")/lib.sh"
require_root

make_ns primary
make_ns listed
make_ns unlisted
# The primary bridges both peers onto one segment.
ip -n "$primary" link add br0 type bridge
ip -n "$primary" link set br0 up
link "$listed" eth0 "$primary" p-listed
link "$unlisted" eth0 "$primary" p-unlisted
ip -n "$primary" link set p-listed master br0
ip -n "$primary" link set p-unlisted master br0
addr "$primary" br0 198.51.100.1/24;   addr "$primary" br0 fd00:53::1/64
addr "$listed" eth0 198.51.100.2/24;   addr "$listed" eth0 fd00:53::2/64
addr "$unlisted" eth0 198.51.100.3/24; addr "$unlisted" eth0 fd00:53::3/64

cat >"$TEST_TMP/example.test.zone" <<'ZONE'
$TTL 300
@   IN SOA ns1.example.test. hostmaster.example.test. 2026112201 3600 600 86400 300
    IN NS  ns1.example.test.
ns1 IN A   198.51.100.1
www IN A   198.51.100.80
secret-inventory IN TXT "only secondaries should see this"
ZONE
cat >"$TEST_TMP/named.conf" <<CONF
options {
  directory "$TEST_TMP";
  listen-on { 198.51.100.1; };
  listen-on-v6 { fd00:53::1; };
  recursion no;
  allow-transfer { any; };   // the firewall, not BIND, is under test
  pid-file none;
  dnssec-validation no;
};
zone "example.test" { type primary; file "$TEST_TMP/example.test.zone"; };
CONF
start_bg "$primary" "$TEST_TMP/named.log" named -g -c "$TEST_TMP/named.conf"
wait_for "BIND on 198.51.100.1" 20 in_ns "$listed" dig +short +tries=1 +time=1 @198.51.100.1 www.example.test
wait_for "BIND on fd00:53::1" 20 in_ns "$listed" dig +short +tries=1 +time=1 @fd00:53::1 www.example.test

axfr() { in_ns "$1" dig +tries=1 +time=3 "@$2" example.test AXFR; }

echo "# before the policy: anyone may transfer the zone"
check_output "unlisted peer can AXFR without a policy" 'secret-inventory' axfr "$unlisted" 198.51.100.1

echo "# apply policies/primary.toml on the primary"
check "policy applies" in_ns "$primary" "$NFT_TOOL" apply "$SOURCE_DIR/policies/primary.toml"

check_output "listed secondary gets the zone (IPv4)" 'secret-inventory' axfr "$listed" 198.51.100.1
check_output "listed secondary gets the zone (IPv6)" 'secret-inventory' axfr "$listed" fd00:53::1
check_output "unlisted peer's AXFR is refused (IPv4)" 'connection refused' axfr "$unlisted" 198.51.100.1
check_output "unlisted peer's AXFR is refused (IPv6)" 'connection refused' axfr "$unlisted" fd00:53::1
check_output "unlisted peer still gets UDP answers" '^www\.example\.test\..*198\.51\.100\.80' \
  in_ns "$unlisted" dig +tries=1 +time=3 @198.51.100.1 www.example.test
check "ingress_tcp_denied counted the refused transfers" test "$(counter "$primary" ingress_tcp_denied)" -ge 2
finish
