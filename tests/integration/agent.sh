#!/usr/bin/env bash
# dnsguardd and dnsguardctl end to end, with the real binaries in a workstation
# namespace next to a designated resolver (unbound) and a rogue one (dnsmasq):
# apply enforces, plan shows a change, a bad policy changes nothing, an unconfirmed
# apply rolls back by itself and a confirmed one stays, kill -9 leaves the rules in
# place and a restarted agent reports the same generation without drift, a hand edit
# shows as drift, disable removes the rules.
source "$(dirname "$0")/lib.sh"
require_root

workstation_topology

agent_ns=$ws  # dnsguardctl runs in the workstation namespace, also before the agent
q() { in_ns "$ws" dig +tries=1 +time=2 "$@" www.example.test; }
# dig exits non-zero when refused, so its output is checked, not its status.
answered_by_rogue() { grep -q '^www\.example\.test\..*203\.0\.113\.99' <<<"$(q @203.0.113.53 2>&1)"; }
rogue_refused() { grep -q 'connection refused' <<<"$(q @203.0.113.53 2>&1)"; }

check_output "dnsguardctl without an agent exits 2 and says how to start one" 'Is dnsguardd running' ctl status
check_status "exit status 2 when the agent is unreachable" 2 ctl status

start_agent "$ws"
check_output "a fresh agent enforces nothing" '^enforcing +no' ctl status

echo "# apply enforces"
check_output "apply commits generation 1" 'applied workstation-lockdown version 1 .* as generation 1' \
  ctl apply "$SOURCE_DIR/policies/workstation.toml"
check_output "the designated resolver answers" '^www\.example\.test\..*192\.0\.2\.80' q @192.0.2.53
check_output "the designated resolver answers over TCP and IPv6" '^www\.example\.test\..*192\.0\.2\.80' q +tcp @fd00:53::53
check "the rogue resolver is refused" rogue_refused
check_output "status shows the policy, its hash and no drift" \
  'policy +workstation-lockdown version 1' ctl status
check_output "status shows the kernel's queue backend" '^queue backend +(xt-NFQUEUE|nft-queue)' ctl status
check_output "stats count the refused queries" 'egress_dns_denied +[1-9]' ctl stats

echo "# denied attempts become events (policies/workstation.toml has log_denied = true)"
# (Not through in_ns: $! must be the follower itself for the kill to reach it.)
ip netns exec "$ws" "$CTL" events --follow --kind bypass >"$TEST_TMP/follow.out" 2>&1 &
follower=$!
_pids+=("$follower")
q @203.0.113.53 >/dev/null 2>&1
bypass_seen() { grep -q 'user root sent udp to 203\.0\.113\.53:53, denied by egress_dns_denied' "$TEST_TMP/follow.out"; }
wait_for "events --follow to show the bypass attempt live" 10 bypass_seen
check "a dig to the rogue resolver is a bypass event naming the destination and the user" bypass_seen
kill "$follower"
wait "$follower" 2>/dev/null
check_output "events -o json carries the fields" '"kind":"bypass".*"uid":0.*"destination":"203\.0\.113\.53"' \
  ctl -o json events --kind bypass

echo "# plan and a bad policy"
sed 's/addresses = \["192.0.2.53", "fd00:53::53"\]/addresses = ["192.0.2.53", "fd00:53::53", "203.0.113.53"]/' \
  "$SOURCE_DIR/policies/workstation.toml" >"$TEST_TMP/open.toml"
check_output "plan shows the element a change adds" '\+ element resolver_corp_v4 203\.0\.113\.53' ctl plan "$TEST_TMP/open.toml"
check_output "plan names the generation it was made against" 'against generation 1' ctl plan "$TEST_TMP/open.toml"
check_output "a stale plan is refused" 'plan was made against 7' ctl apply "$TEST_TMP/open.toml" --expect-generation 7
in_ns "$ws" nft list table inet dnsguard >"$TEST_TMP/table.before"
printf '[policy]\nname = "broken"\nversion = 2\n[egress]\n[[egress.resolvers]]\nname = "x"\naddresses = ["192.0.2.300"]\n' >"$TEST_TMP/bad.toml"
check_output "a bad policy is refused with file:line:col" \
  'bad\.toml:7:14: egress\.resolvers\[0\]\.addresses\[0\]: "192\.0\.2\.300" is not an IPv4' ctl apply "$TEST_TMP/bad.toml"
check_status "a bad policy exits 1" 1 ctl apply "$TEST_TMP/bad.toml"
in_ns "$ws" nft list table inet dnsguard >"$TEST_TMP/table.after"
check "a bad policy changes nothing in the kernel" cmp "$TEST_TMP/table.before" "$TEST_TMP/table.after"

echo "# confirm-within"
check_output "a --confirm-within that would overflow is refused, not wrapped" 'at most a week' \
  ctl apply "$TEST_TMP/open.toml" --confirm-within 71582789m
# 10 s: the window must hold the check below, and the deadline counts from before the
# commit (ASan builds and a busy machine make both slower).
check_output "apply --confirm-within 10s waits for a confirmation" 'waiting for confirmation' \
  ctl apply "$TEST_TMP/open.toml" --confirm-within 10s
check "the new policy is in force meanwhile" answered_by_rogue
wait_for "the agent to roll back by itself" 30 rogue_refused
check_output "status shows the restored policy" 'policy +workstation-lockdown version 1' ctl status
check_output "the timeout is an event" 'confirm_timeout .* not confirmed in time' ctl events
check_output "apply --confirm-within again" 'waiting for confirmation' ctl apply "$TEST_TMP/open.toml" --confirm-within 10s
check_output "confirm keeps it" 'confirmed; it stays' ctl confirm
sleep 11  # past the 10 s deadline: the property under test is that nothing happens then
check "a confirmed policy stays after its deadline" answered_by_rogue
check_output "rollback restores the previous policy" 'restored workstation-lockdown version 1' ctl rollback
check "after rollback the rogue resolver is refused again" rogue_refused

echo "# kill -9 and restart"
generation=$(ctl -o json status | sed -n 's/.*"generation": "\([0-9]*\)".*/\1/p')
kill -9 "$agent_pid"
wait "$agent_pid" 2>/dev/null
check "with the agent killed, the rules stay enforced" rogue_refused
start_agent "$ws"
check_output "the restarted agent reports the same generation" "^generation +$generation\$" ctl status
check_output "and no drift" '^drift +none' ctl status
check_output "a second agent does not steal a live socket" 'already serving' \
  in_ns "$ws" "$DAEMON" --socket "$DNSGUARD_SOCKET" --state-dir "$TEST_TMP/other-state"

echo "# drift and disable"
in_ns "$ws" nft add rule inet dnsguard egress udp dport 5353 accept
check_output "a hand edit shows as drift" '^drift +YES' ctl status
check_output "disable removes the rules" 'rules removed' ctl disable
check "with the rules removed the rogue resolver answers" answered_by_rogue
check_output "status says nothing is enforced" '^enforcing +no' ctl status
kill "$agent_pid"
wait "$agent_pid"
status=$?
check "SIGTERM stops the agent with exit status 0 (in the sanitizer build: no leaks)" test "$status" -eq 0
check_output "SIGTERM stops the agent cleanly" 'stopping; the rules stay in place' cat "$TEST_TMP/agent.log"
finish
