#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/compile.hpp"

namespace dnsguard::compiler {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::optional<uint32_t> fake_users(const std::string& name) {
  if (name == "unbound") return 101;
  return std::nullopt;
}

policy::Policy load(std::string_view text) {
  auto r = policy::load_policy_text(text, "test.toml", {fake_users});
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : join_errors(r.errors()));
  return r.ok() ? r.value() : policy::Policy{};
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every shipped policy and every case under tests/golden has a golden nft file.
// DNSGUARD_UPDATE_GOLDEN=1 rewrites them; review the diff before committing.
TEST(CompilerGolden, EveryPolicyMatchesItsGoldenFile) {
  const std::filesystem::path root = DNSGUARD_SOURCE_DIR;
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> cases;
  for (const auto& dir : {root / "policies", root / "tests/golden"})
    for (const auto& e : std::filesystem::directory_iterator(dir))
      if (e.path().extension() == ".toml")
        cases.emplace_back(e.path(), root / "tests/golden" /
                                         ((dir == root / "policies" ? "policies-" : "") +
                                          e.path().stem().string() + ".nft"));
  ASSERT_GE(cases.size(), 5u);
  const bool update = std::getenv("DNSGUARD_UPDATE_GOLDEN") != nullptr;
  for (const auto& [toml, golden] : cases) {
    auto r = policy::load_policy_file(toml.string(), {fake_users});
    ASSERT_TRUE(r.ok()) << toml << '\n' << (r.ok() ? "" : join_errors(r.errors()));
    const std::string nft = ir::render_nft(compile(r.value()));
    if (update) std::ofstream(golden) << nft;
    EXPECT_EQ(nft, read_file(golden)) << "golden mismatch for " << toml;
  }
}

TEST(Compiler, IsDeterministic) {
  const auto p = load(R"([policy]
name = "d"
version = 3
[egress]
[[egress.resolvers]]
name = "b"
addresses = ["198.51.100.0/24", "192.0.2.1", "fd00::1"]
[[egress.resolvers]]
name = "a"
addresses = ["203.0.113.5"]
)");
  EXPECT_EQ(ir::render_nft(compile(p)), ir::render_nft(compile(p)));
}

TEST(Compiler, MonitorModeCountsAndLogsButNeverBlocks) {
  const auto nft = ir::render_nft(compile(load(R"([policy]
name = "m"
version = 1
[egress]
default = "monitor"
[egress.encrypted_dns]
block_dot = true
doh_endpoints = ["198.51.100.10"]
)")));
  EXPECT_THAT(nft, Not(HasSubstr("reject")));
  EXPECT_THAT(nft, Not(HasSubstr(" drop")));
  EXPECT_THAT(nft, HasSubstr("udp dport 53 counter name \"egress_dns_denied\" comment"));
  EXPECT_THAT(nft, HasSubstr("log prefix \"dnsguard egress_dns_denied \" group 53"));
}

TEST(Compiler, UsersRestrictEachAllowRuleBySocketOwner) {
  const auto rs = compile(load(R"([policy]
name = "u"
version = 1
[egress]
[[egress.resolvers]]
name = "internet"
addresses = ["0.0.0.0/0"]
protocols = ["udp"]
users = ["unbound", 0]
)"));
  int allows = 0;
  for (const auto& r : rs.rules) {
    if (r.verdict != ir::Verdict::accept || !r.address) continue;
    ++allows;
    ASSERT_TRUE(r.socket_uid);
  }
  EXPECT_EQ(allows, 2);  // uid 0 and uid 101, UDP only
}

// A resolver whose name starts another's ("corp", "corp_vpn") gets only its own sets in
// the forward chain's inspection rules.
TEST(Compiler, ForwardInspectionUsesEachResolversOwnSets) {
  const auto rs = compile(load(R"([policy]
name = "f"
version = 1
[egress]
[[egress.resolvers]]
name = "corp"
addresses = ["192.0.2.53"]
[[egress.resolvers]]
name = "corp_vpn"
addresses = ["198.51.100.53"]
[inspect]
enabled = true
)"));
  std::map<std::string, int> uses;  // set -> forward rules
  for (const auto& r : rs.rules)
    if (r.chain == "forward" && r.address) ++uses[r.address->set];
  EXPECT_EQ(uses["resolver_corp_v4"], 2);      // UDP and TCP
  EXPECT_EQ(uses["resolver_corp_vpn_v4"], 2);  // not 4: corp's rules do not take it
  EXPECT_EQ(uses.size(), 2u);
}

TEST(Compiler, DropActionAndNoLoggingUnlessAsked) {
  const auto nft = ir::render_nft(compile(load(R"([policy]
name = "d"
version = 1
[egress]
deny_action = "drop"
[[egress.resolvers]]
name = "r"
addresses = ["192.0.2.53"]
)")));
  EXPECT_THAT(nft, HasSubstr("udp dport 53 counter name \"egress_dns_denied\" drop"));
  EXPECT_THAT(nft, HasSubstr("tcp dport 853 counter name \"egress_dot_denied\" drop"));
  EXPECT_THAT(nft, Not(HasSubstr("log ")));
  EXPECT_THAT(nft, Not(HasSubstr("ingress")));
}

TEST(Compiler, EveryDenyRuleHasANamedCounterThatIsDeclared) {
  const auto rs = compile(load(R"([policy]
name = "c"
version = 1
[egress]
[[egress.resolvers]]
name = "r"
addresses = ["192.0.2.53"]
[egress.encrypted_dns]
block_dot = true
doh_endpoints = ["198.51.100.10"]
[ingress.recursion]
allow_from = ["192.0.2.0/24"]
[ingress.zone_transfer]
secondaries = ["198.51.100.2"]
[ingress.rate_limit]
per_source_qps = 5
)"));
  for (const auto& r : rs.rules) {
    const bool denies = r.verdict == ir::Verdict::drop || r.verdict == ir::Verdict::reject_tcp_reset ||
                        r.verdict == ir::Verdict::reject_icmp_port_unreachable;
    if (!denies) continue;
    ASSERT_TRUE(r.counter) << r.comment;
    EXPECT_TRUE(std::any_of(rs.counters.begin(), rs.counters.end(),
                            [&](const ir::Counter& c) { return c.name == *r.counter; }))
        << *r.counter;
  }
}

}  // namespace
}  // namespace dnsguard::compiler
