#!/usr/bin/env bash
# The dnsguard demo: installs and builds, then locks down DNS on a "workstation" that
# lives in a private network namespace, next to a designated resolver (unbound) and a
# rogue one (dnsmasq). dnsguardd runs inside the workstation namespace and dnsguardctl
# drives it. Nothing on the host changes: every namespace, process, file and rule is
# removed at the end, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} != --no-build ]]; then
  ./scripts/install-deps.sh
  ./scripts/build.sh
fi
export DNSGUARD_BUILD_DIR=${DNSGUARD_BUILD_DIR:-$PWD/build}
set +e
source tests/integration/lib.sh
require_root

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

say "1. A policy with a mistake is refused with file:line:col and the key"
cat >"$TEST_TMP/typo.toml" <<'TOML'
[policy]
name = "workstation-lockdown"
version = 1

[egress]
default = "deny"

[[egress.resolvers]]
name = "corp"
addresses = ["192.0.2.300", "192.0.2.7/24"]
protcols = ["udp"]
TOML
run "$CTL" validate "$TEST_TMP/typo.toml" 2>&1

say "2. The workstation policy, and the nft transaction it compiles to"
run "$CTL" validate policies/workstation.toml
"$CTL" compile policies/workstation.toml | sed -n '/chain egress/,/^	}/p'

say "3. A workstation, a designated resolver (unbound) and a rogue one (dnsmasq)"
workstation_topology
q() { in_ns "$ws" dig +tries=1 +time=3 "$@" www.example.test 2>&1 | grep -E '^www|error|refused|timed out' ; }
echo "before the policy, any resolver answers:"
run q @203.0.113.53

say "4. Start dnsguardd in the workstation namespace"
export DNSGUARD_SOCKET="$TEST_TMP/run/dnsguard.sock"
start_bg "$ws" "$TEST_TMP/dnsguardd.log" "$BUILD_DIR/agent/daemon/dnsguardd" \
  --socket "$DNSGUARD_SOCKET" --state-dir "$TEST_TMP/state"
ctl() { in_ns "$ws" "$CTL" "$@"; }
wait_for "dnsguardd to serve" 10 ctl status
run ctl status

say "5. Plan, then apply the policy (one atomic netlink transaction)"
run ctl plan policies/workstation.toml | head -8
echo "  ..."
run ctl apply policies/workstation.toml | head -2

say "6. DNS to the designated resolver works: UDP, TCP, IPv6"
run q @192.0.2.53
run q +tcp @192.0.2.53
run q @fd00:53::53

say "7. DNS to the rogue resolver fails at once"
run q @203.0.113.53
run q +tcp @203.0.113.53

say "8. What the agent reports"
run ctl status
run ctl stats
run ctl events

say "9. Clean up: the rules, the agent, the peers and the namespaces go away"
run ctl disable
echo "demo finished; nothing was changed on this host"
