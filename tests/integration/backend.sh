#!/usr/bin/env bash
# The nft backend against a real kernel, in a namespace of its own:
# - every shipped and golden policy compiles to text that `nft -c` accepts, and the
#   backend's netlink transaction produces exactly the table `nft -f` of that text does;
# - a transaction the kernel rejects leaves the previous table byte-for-byte in place
#   and names the offending rule;
# - an unrelated table is never touched, by apply or by removal;
# - read-back sees a hand edit of our table (drift);
# - 100,000 prefixes apply in one transaction.
source "$(dirname "$0")/lib.sh"
require_root

make_ns host
make_ns scratch
listing() { in_ns "$1" nft list table inet dnsguard; }

native_queue=$(in_ns "$scratch" "$NFT_TOOL" probe | awk '$1 == "native_queue" { print $2 }')
# Compiled text uses the native `queue` statement. On a kernel without nft_queue the
# only errors nft -c may report are the kernel refusing those statements; the agent
# lowers them to the xtables target there (tests/integration/inspector.sh).
only_queue_refused() {
  local errors queue_errors
  in_ns "$scratch" nft -c -f "$1" >"$TEST_TMP/nft-c.out" 2>&1 && return 0
  errors=$(grep -c 'Error:' "$TEST_TMP/nft-c.out")
  queue_errors=$(grep -A1 'Error: Could not process rule: No such file or directory' "$TEST_TMP/nft-c.out" | grep -c ' queue flags ')
  ((native_queue == 0 && errors > 0 && errors == queue_errors))
}

echo "# nft accepts the compiled text, and both paths build the same table"
for policy in "$SOURCE_DIR"/policies/*.toml "$SOURCE_DIR"/tests/golden/*.toml; do
  name=$(basename "$policy")
  "$CTL" compile "$policy" >"$TEST_TMP/$name.nft"
  if grep -q ' queue flags ' "$TEST_TMP/$name.nft" && ((native_queue == 0)); then
    check "$name: nft -c accepts the compiled text but for queue statements this kernel lacks" \
      only_queue_refused "$TEST_TMP/$name.nft"
    continue
  fi
  check "$name: nft -c accepts the compiled text" in_ns "$scratch" nft -c -f "$TEST_TMP/$name.nft"
  in_ns "$scratch" nft -f "$TEST_TMP/$name.nft" && listing "$scratch" >"$TEST_TMP/$name.by-nft"
  in_ns "$scratch" "$NFT_TOOL" apply "$policy" >/dev/null && listing "$scratch" >"$TEST_TMP/$name.by-backend"
  check "$name: backend transaction == nft -f of the compiled text" \
    diff -u "$TEST_TMP/$name.by-nft" "$TEST_TMP/$name.by-backend"
done

echo "# atomicity: a rejected transaction changes nothing"
in_ns "$host" nft -f - <<'NFT'
table inet other {
  set keep {
    type ipv4_addr
    elements = { 203.0.113.7 }
  }
  chain out {
    type filter hook output priority 10; policy accept;
    ip daddr @keep counter
  }
}
NFT
in_ns "$host" nft list table inet other >"$TEST_TMP/other.before"
check "first policy applies" in_ns "$host" "$NFT_TOOL" apply "$SOURCE_DIR/policies/workstation.toml"
listing "$host" >"$TEST_TMP/ours.before"
check_output "kernel rejects the transaction and the error names the injected rule" \
  'kernel rejected rule [0-9]+ of chain egress \(injected by the test\)' \
  in_ns "$host" "$NFT_TOOL" apply "$SOURCE_DIR/tests/golden/multi.toml" --inject-invalid-rule
listing "$host" >"$TEST_TMP/ours.after"
check "our table is byte-for-byte unchanged after the rejected transaction" \
  cmp "$TEST_TMP/ours.before" "$TEST_TMP/ours.after"
check "the rejected policy's rules are not there" bash -c "! grep -q dot_only '$TEST_TMP/ours.after'"
in_ns "$host" nft list table inet other >"$TEST_TMP/other.after-apply"
check "an unrelated table is unchanged after apply" cmp "$TEST_TMP/other.before" "$TEST_TMP/other.after-apply"

echo "# drift: read-back sees a hand edit"
in_ns "$host" "$NFT_TOOL" fingerprint >"$TEST_TMP/fp1"
in_ns "$host" "$NFT_TOOL" fingerprint >"$TEST_TMP/fp2"
check "two readings of an untouched table agree" cmp "$TEST_TMP/fp1" "$TEST_TMP/fp2"
in_ns "$host" nft add rule inet dnsguard egress udp dport 5353 accept
in_ns "$host" "$NFT_TOOL" fingerprint >"$TEST_TMP/fp3"
check "an added rule changes the reading" bash -c "! cmp -s '$TEST_TMP/fp1' '$TEST_TMP/fp3'"
in_ns "$host" "$NFT_TOOL" apply "$SOURCE_DIR/policies/workstation.toml" >/dev/null
in_ns "$host" nft add element inet dnsguard resolver_corp_v4 '{ 203.0.113.66 }'
in_ns "$host" "$NFT_TOOL" fingerprint >"$TEST_TMP/fp4"
check "an added set element changes the reading" bash -c "! cmp -s '$TEST_TMP/fp1' '$TEST_TMP/fp4'"
in_ns "$host" "$NFT_TOOL" apply "$SOURCE_DIR/policies/workstation.toml" >/dev/null
in_ns "$host" nft add chain inet dnsguard sneaky
in_ns "$host" "$NFT_TOOL" fingerprint >"$TEST_TMP/fp5"
check "an added empty chain changes the reading" bash -c "! cmp -s '$TEST_TMP/fp1' '$TEST_TMP/fp5'"
# An apply replaces the table in place; what was edited by hand must still go.
in_ns "$host" nft add table inet dnsguard '{ flags dormant; }'
in_ns "$host" "$NFT_TOOL" apply "$SOURCE_DIR/policies/workstation.toml" >/dev/null
in_ns "$host" "$NFT_TOOL" fingerprint >"$TEST_TMP/fp6"
check "an apply repairs every hand edit, a dormant flag and an extra chain included" cmp "$TEST_TMP/fp1" "$TEST_TMP/fp6"

echo "# removal"
check "remove deletes our table" in_ns "$host" "$NFT_TOOL" remove
check_output "our table is gone" 'No such file or directory' listing "$host"
check "remove is idempotent" in_ns "$host" "$NFT_TOOL" remove
in_ns "$host" nft list table inet other >"$TEST_TMP/other.after-remove"
check "an unrelated table is unchanged after removal" cmp "$TEST_TMP/other.before" "$TEST_TMP/other.after-remove"

echo "# 100,000 prefixes in one transaction"
{
  printf '[policy]\nname = "large"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = "many"\naddresses = [\n'
  # Disjoint /48s inside fd00::/8 (ULA), so none merge: 100,000 kernel intervals.
  awk 'BEGIN { for (i = 0; i < 100000; i++) printf "  \"fd00:%x:%x::/48\",\n", int(i / 32768), (i % 32768) * 2 }'
  printf ']\n'
} >"$TEST_TMP/large.toml"
check_output "100,000 prefixes apply without netlink errors" 'applied large version 1: [0-9]+ messages, 200001 set elements' \
  in_ns "$host" "$NFT_TOOL" apply "$TEST_TMP/large.toml"
in_ns "$host" nft list set inet dnsguard resolver_many_v6 | grep -oE 'fd00[0-9a-f:]*/48' | sort -u | wc -l >"$TEST_TMP/large.count"
check "the kernel holds all 100,000 prefixes" test "$(cat "$TEST_TMP/large.count")" -eq 100000
finish
