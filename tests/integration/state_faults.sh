#!/usr/bin/env bash
# The state directory failing under the agent: a full disk and a read-only file system
# make apply fail with a clear error, and the rules in the kernel stay as they were.
# The agent runs in a mount namespace of its own whose state directory is a small tmpfs,
# so nothing on the host is filled or remounted.
source "$(dirname "$0")/lib.sh"
require_root

STATE="$TEST_TMP/state"
mkdir -p "$STATE"

make_ns ws
agent_ns=$ws
table() { in_ns "$ws" nft list table inet dnsguard; }

# 64 KiB of state: room for a small policy, not for a large one.
start_bg "$ws" "$TEST_TMP/agent.log" unshare -m sh -c \
  "mount -t tmpfs -o size=64k,mode=0700 dnsguard-test-state '$STATE' && exec '$DAEMON' --socket '$DNSGUARD_SOCKET' --state-dir '$STATE'"
agent_pid=${_pids[-1]}
wait_for "the agent to serve" 10 ctl status

check_output "a policy applies" 'as generation 1' ctl apply "$SOURCE_DIR/policies/workstation.toml"
table >"$TEST_TMP/table.before"

echo "# disk full"
{
  printf '[policy]\nname = "large"\nversion = 2\n[egress]\n[[egress.resolvers]]\nname = "many"\naddresses = [\n'
  awk 'BEGIN { for (i = 0; i < 5000; i++) printf "  \"fd00:%x::/32\",\n", i * 2 }'
  printf ']\n'
} >"$TEST_TMP/large.toml"
check_output "apply fails with the cause" 'cannot write state .*No space left on device' ctl apply "$TEST_TMP/large.toml"
check_status "and exits 1" 1 ctl apply "$TEST_TMP/large.toml"
table >"$TEST_TMP/table.full"
check "the rules are unchanged" cmp "$TEST_TMP/table.before" "$TEST_TMP/table.full"
check_output "the generation is unchanged" '^generation +1$' ctl status

echo "# read-only state directory"
nsenter -t "$agent_pid" -m mount -o remount,ro "$STATE"
check_output "apply fails with the cause" 'cannot write state .*Read-only file system' \
  ctl apply "$SOURCE_DIR/tests/golden/monitor.toml"
table >"$TEST_TMP/table.ro"
check "the rules are unchanged" cmp "$TEST_TMP/table.before" "$TEST_TMP/table.ro"
check_output "rollback and disable fail the same way" 'Read-only file system' ctl disable
check "and leave the rules too" bash -c "ip netns exec '$ws' nft list table inet dnsguard | cmp -s - '$TEST_TMP/table.before'"

echo "# writable again"
nsenter -t "$agent_pid" -m mount -o remount,rw "$STATE"
check_output "apply works again" 'as generation 2' ctl apply "$SOURCE_DIR/tests/golden/monitor.toml"
kill "$agent_pid"
wait "$agent_pid"
check "the agent stops cleanly" test $? -eq 0
finish
