#!/usr/bin/env bash
# Recursive resolver host end to end: unbound (running as user unbound) forwards
# example.test to an upstream dnsmasq. With policies/resolver.toml applied on the
# resolver host: an allowed client is answered and an unlisted one is not; only the
# unbound user may send DNS out (root's own dig to the upstream is refused); a UDP
# flood from one source goes over its rate limit and is dropped in the kernel while the
# resolver keeps answering.
source "$(dirname "$0")/lib.sh"
require_root

make_ns res
make_ns client
make_ns stranger
make_ns upstream
link "$client" eth0 "$res" to-client
link "$stranger" eth0 "$res" to-stranger
link "$upstream" eth0 "$res" to-upstream
addr "$client" eth0 192.0.2.10/24;         addr "$res" to-client 192.0.2.53/24
addr "$stranger" eth0 203.0.113.10/24;     addr "$res" to-stranger 203.0.113.53/24
addr "$upstream" eth0 198.51.100.53/24;    addr "$res" to-upstream 198.51.100.1/24

start_dnsmasq "$upstream" upstream 198.51.100.80 198.51.100.53

# unbound drops to user unbound after binding, so its config must be readable by it.
conf_dir=$(mktemp -d /tmp/dnsguard-unbound.XXXXXX)
chmod 755 "$conf_dir"
trap 'rm -rf "$conf_dir"; cleanup' EXIT
cat >"$conf_dir/unbound.conf" <<CONF
server:
  interface: 192.0.2.53
  interface: 203.0.113.53
  port: 53
  do-daemonize: no
  chroot: ""
  username: "unbound"
  pidfile: ""
  directory: "/"
  use-syslog: no
  logfile: ""
  do-ip6: no
  access-control: 0.0.0.0/0 allow
  module-config: "iterator"
  cache-max-ttl: 0
  cache-max-negative-ttl: 0
  local-zone: "test." nodefault   # RFC 6761 names are served locally by default
  domain-insecure: "example.test."
forward-zone:
  name: "example.test."
  forward-addr: 198.51.100.53
remote-control:
  control-enable: no
CONF
chmod 644 "$conf_dir/unbound.conf"
start_bg "$res" "$TEST_TMP/unbound.log" unbound -d -c "$conf_dir/unbound.conf"
q() { in_ns "$1" dig +tries=1 +time=2 "@$2" "$3"; }
answered() { output_has '^www\.example\.test\..*198\.51\.100\.80' q "$@"; }
wait_for "unbound answers through the upstream" 15 answered "$client" 192.0.2.53 www.example.test

echo "# before the policy: anyone may query, and root may query the upstream directly"
check "the stranger is answered without a policy" answered "$stranger" 203.0.113.53 www.example.test
check "root reaches the upstream without a policy" answered "$res" 198.51.100.53 www.example.test

echo "# apply policies/resolver.toml on the resolver host"
check "policy applies" in_ns "$res" "$NFT_TOOL" apply "$SOURCE_DIR/policies/resolver.toml"

check_output "an allowed client is answered (unbound recursed as user unbound)" \
  '^www\.example\.test\..*198\.51\.100\.80' q "$client" 192.0.2.53 www.example.test
check_output "a client outside allow_from gets no answer" 'timed out' q "$stranger" 203.0.113.53 www.example.test
check "ingress_udp_denied counted it" test "$(counter "$res" ingress_udp_denied)" -ge 1
check_output "root on the resolver host cannot query the upstream itself" 'connection refused' \
  q "$res" 198.51.100.53 www.example.test

echo "# a flood from one source goes over per_source_qps = 50, burst = 100"
# A query for flood.example.test, written raw so 400 datagrams leave within a moment.
flood='\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x05flood\x07example\x04test\x00\x00\x01\x00\x01'
in_ns "$client" bash -c "for i in \$(seq 400); do printf '$flood' >/dev/udp/192.0.2.53/53; done"
check "ingress_rate_limited dropped part of the flood" test "$(counter "$res" ingress_rate_limited)" -ge 100
wait_for "the client's rate limit to refill" 10 answered "$client" 192.0.2.53 www.example.test
check_output "the resolver still answers after the flood" '^www\.example\.test\..*198\.51\.100\.80' \
  q "$client" 192.0.2.53 www.example.test
finish
