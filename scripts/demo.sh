#!/usr/bin/env bash
# The dnsguard demo: installs and builds, then locks down DNS on a "workstation" that
# lives in a private network namespace, next to a designated resolver (unbound) and a
# rogue one (dnsmasq). dnsguardd runs inside the workstation namespace and dnsguardctl
# drives it. Nothing on the host changes: every namespace, process, file and rule is
# removed at the end, also on failure or Ctrl-C. Every step checks what it shows: a
# step that does not show it fails the demo (exit 1).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} != --no-build ]]; then
  build_log=$(mktemp /tmp/dnsguard-demo-build.XXXXXX.log)
  echo "installing packages and building (output in $build_log) ..."
  if ! { ./scripts/install-deps.sh && ./scripts/build.sh; } >"$build_log" 2>&1; then
    tail -30 "$build_log"
    echo "demo failed: the build did not succeed (full output in $build_log)"
    exit 1
  fi
fi
export DNSGUARD_BUILD_DIR=${DNSGUARD_BUILD_DIR:-$PWD/build}
set +e
source tests/integration/lib.sh
require_root

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# show EXPECTED CMD...: prints the command and its output; the output must match the
# regular expression EXPECTED, or the demo stops as failed.
show() {
  local expected=$1 out
  shift
  printf '$ %s\n' "$*"
  out=$("$@" 2>&1)
  printf '%s\n' "$out"
  if ! grep -Eq -- "$expected" <<<"$out"; then
    echo "demo failed: expected output matching /$expected/"
    exit 1
  fi
}

say "1. A policy with mistakes is refused, each one with file:line:col, the key, and a hint"
cat >"$TEST_TMP/typo.toml" <<'TOML'
[policy]
name = "workstation-lockdown"
version = 1

[egress]
default = "deny"

[[egress.resolvers]]
name = "corp-dns"
addresses = ["192.0.2.300", "192.0.2.7/24"]
protocol = ["udp"]
TOML
show 'did you mean "protocols"' "$CTL" validate "$TEST_TMP/typo.toml"

policy=policies/workstation-inspect.toml
say "2. The inspecting workstation policy is valid; the rules it compiles to (egress chain)"
show 'ok \(policy workstation-inspect' "$CTL" validate "$policy"
show 'chain egress' bash -c "'$CTL' compile '$policy' | sed -n '/chain egress {/,/^	}/p'"

say "3. A workstation, a designated resolver (unbound) and a rogue one (dnsmasq)"
unbound_data="bad.example. 300 IN A 192.0.2.66"   # so only the agent can make it NXDOMAIN
workstation_topology
q() { in_ns "$ws" dig +tries=1 +time=3 "$@" 2>&1 | grep -E '^[a-z]+\.example|status:|refused|timed out'; }
echo "before the policy, any resolver answers:"
show '^www\.example\.test\..*203\.0\.113\.99' q @203.0.113.53 www.example.test

say "4. Start dnsguardd in the workstation namespace"
start_agent "$ws"
show 'enforcing +no' ctl status

say "5. Plan, then apply the policy (one atomic netlink transaction)"
show 'against generation 0' bash -c "ip netns exec $ws '$CTL' plan '$policy' | head -8"
echo "  ..."
show 'as generation 1' ctl apply "$policy"

say "6. DNS to the designated resolver works: UDP, TCP (through the agent's proxy), IPv6"
show '^www\.example\.test\..*192\.0\.2\.80' q @192.0.2.53 www.example.test
show '^www\.example\.test\..*192\.0\.2\.80' q +tcp @192.0.2.53 www.example.test
show '^www\.example\.test\..*192\.0\.2\.80' q @fd00:53::53 www.example.test

say "7. DNS to the rogue resolver fails at once (ICMP unreachable, TCP reset)"
show 'refused|unreachable' q @203.0.113.53 www.example.test
show 'refused|unreachable' q +tcp @203.0.113.53 www.example.test

say "8. A blocked name gets NXDOMAIN from the agent, though the resolver has an answer"
show 'status: NXDOMAIN' q @192.0.2.53 bad.example

say "9. What the agent reports: status, counters, events"
show 'generation +1' ctl status
show 'egress_dns_denied +[1-9]' bash -c "ip netns exec $ws '$CTL' stats | grep -E '^(egress_dns_denied|inspect_packets|inspect_verdict_(accept|nxdomain)|inspect_answers_injected|inspect_tcp_connections) '"
# NFLOG delivers the kernel's log lines asynchronously: wait until they are events.
bypass_events() { (($(ctl events --kind bypass | grep -c 'denied by') >= 2)); }
wait_for "the refused lookups to reach the event log" 10 bypass_events
show 'gen 1 +user root sent udp to 203\.0\.113\.53:53' ctl events --kind bypass
show 'gen 1 +block bad\.example' ctl events --kind block

say "10. Clean up: the rules, the agent, the peers and the namespaces go away"
show '^rules removed \(generation 2\)' ctl disable
echo "demo finished; nothing was changed on this host"
exit 0  # the cleanup removes the namespaces and ends the processes
