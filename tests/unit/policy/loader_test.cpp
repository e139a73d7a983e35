#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "policy/policy.hpp"

namespace dnsguard::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::optional<uint32_t> fake_users(const std::string& name) {
  if (name == "unbound") return 101;
  if (name == "root") return 0;
  return std::nullopt;
}

const LoadOptions kOptions{fake_users};

Result<Policy> load(std::string_view text) { return load_policy_text(text, "policy.toml", kOptions); }

std::vector<std::string> errors_of(std::string_view text) {
  auto r = load(text);
  EXPECT_FALSE(r.ok()) << "expected errors for:\n" << text;
  std::vector<std::string> out;
  if (!r.ok())
    for (const auto& e : r.errors()) out.push_back(e.to_string());
  return out;
}

constexpr std::string_view kHeader = "[policy]\nname = \"t\"\nversion = 1\n";

std::string with_header(std::string_view body) { return std::string(kHeader) + std::string(body); }

TEST(PolicyLoader, LoadsTheDesignExampleWithDefaultsFilledIn) {
  auto r = load(with_header(R"(
[egress]
log_denied = true
[[egress.resolvers]]
name = "corp"
addresses = ["fd00:53::53", "192.0.2.53", "198.51.100.0/24"]
users = ["unbound", 0]
[egress.encrypted_dns]
block_dot = true
doh_endpoints = ["198.51.100.10"]
[ingress.zone_transfer]
secondaries = ["198.51.100.2", "fd00:53::2"]
[ingress.rate_limit]
per_source_qps = 50
)"));
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  const Policy& p = r.value();
  EXPECT_EQ(p.name, "t");
  EXPECT_EQ(p.version, 1);
  ASSERT_TRUE(p.egress);
  EXPECT_EQ(p.egress->default_action, EgressDefault::deny);
  EXPECT_EQ(p.egress->deny_action, DenyAction::reject);
  ASSERT_EQ(p.egress->resolvers.size(), 1u);
  const Resolver& corp = p.egress->resolvers[0];
  // Sorted, IPv4 first; protocols default to plain DNS over UDP and TCP.
  ASSERT_EQ(corp.addresses.size(), 3u);
  EXPECT_EQ(corp.addresses[0].to_string(), "192.0.2.53");
  EXPECT_EQ(corp.addresses[2].to_string(), "fd00:53::53");
  EXPECT_THAT(corp.protocols, ElementsAre(Protocol::udp, Protocol::tcp));
  ASSERT_EQ(corp.users.size(), 2u);
  EXPECT_EQ(corp.users[0].uid, 0u);
  EXPECT_EQ(corp.users[1].name, "unbound");
  EXPECT_EQ(corp.users[1].uid, 101u);
  EXPECT_TRUE(p.egress->encrypted_dns.block_dot);
  ASSERT_TRUE(p.ingress.rate_limit);
  EXPECT_EQ(p.ingress.rate_limit->burst, 50u);  // burst defaults to the rate
  EXPECT_EQ(p.ingress.deny_action, DenyAction::drop);
}

TEST(PolicyLoader, BadAddressNamesFileLineColumnAndKey) {
  EXPECT_THAT(errors_of(with_header(R"(
[egress]
[[egress.resolvers]]
name = "a"
addresses = ["192.0.2.1"]
[[egress.resolvers]]
name = "b"
addresses = ["192.0.2.300"]
)")),
              ElementsAre("policy.toml:11:14: egress.resolvers[1].addresses[0]: \"192.0.2.300\" is "
                          "not an IPv4 or IPv6 address or prefix"));
}

TEST(PolicyLoader, HostBitsInAPrefixAreAnErrorThatSuggestsTheNetwork) {
  EXPECT_THAT(errors_of(with_header("[ingress.recursion]\nallow_from = [\"192.0.2.7/24\"]\n")),
              ElementsAre("policy.toml:5:15: ingress.recursion.allow_from[0]: \"192.0.2.7/24\" has "
                          "bits set past its prefix length; did you mean \"192.0.2.0/24\"?"));
}

TEST(PolicyLoader, UnknownKeysAreErrorsThatListTheKnownOnes) {
  EXPECT_THAT(errors_of(with_header("[egress]\ndefualt = \"deny\"\n")),
              ElementsAre(HasSubstr("egress.resolvers: egress.default = \"deny\" needs at least one"),
                          HasSubstr("policy.toml:5:1: egress.defualt: unknown key; did you mean \"default\"? "
                                    "(known here: default, deny_action")));
  EXPECT_THAT(errors_of(with_header("[dns]\n")),
              ElementsAre(HasSubstr("policy.toml:4:2: dns: unknown key (known here")));
  EXPECT_THAT(errors_of(with_header("[egress]\n[[egress.resolvers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\n"
                                    "protocol = [\"udp\"]\n")),
              ElementsAre(HasSubstr("egress.resolvers[0].protocol: unknown key; did you mean \"protocols\"?")));
  EXPECT_THAT(errors_of(with_header("[inspect.tunneling]\nbudget_per_hour = 10\n")),
              ElementsAre(HasSubstr("inspect.tunneling.budget_per_hour: unknown key (known here")));
}

TEST(PolicyLoader, AResolversStringIsOneError) {
  EXPECT_THAT(errors_of(with_header("[egress]\nresolvers = \"10.0.0.53\"\n")),
              ElementsAre("policy.toml:5:13: egress.resolvers: expected an array of tables ([[egress.resolvers]]), "
                          "found a string"));
  EXPECT_EQ(errors_of(with_header("[egress]\nresolvers = \"10.0.0.53\"\n[inspect]\nenabled = true\n")).size(), 1u);
}

TEST(PolicyLoader, ZoneIdsAreRefusedByName) {
  EXPECT_THAT(errors_of(with_header("[egress]\n[[egress.resolvers]]\nname = \"a\"\naddresses = [\"fe80::1%eth0\"]\n")),
              ElementsAre(HasSubstr("egress.resolvers[0].addresses[0]: \"fe80::1%eth0\": zone IDs (\"%eth0\") are "
                                    "not supported")));
}

TEST(PolicyLoader, AnErrorAboutAKeyIsAtThatKeysLine) {
  EXPECT_THAT(errors_of(with_header("[egress]\n[[egress.resolvers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\n"
                                    "[egress.encrypted_dns]\ncanary = true\n")),
              ElementsAre(HasSubstr("policy.toml:9:10: egress.encrypted_dns.canary: the canary answer is given by "
                                    "the inspector")));
  EXPECT_THAT(errors_of(with_header("[inspect]\nenabled = true\n")),
              ElementsAre(HasSubstr("policy.toml:5:11: inspect.enabled: inspection needs")));
}

TEST(PolicyLoader, TomlSyntaxErrorsSayWhatIsWrongInPlainWords) {
  EXPECT_THAT(errors_of("[policy]\nname = \"t\nversion = 1\n"),
              ElementsAre(HasSubstr("policy.toml:2:10: TOML syntax error: a string is not closed on its line")));
  EXPECT_THAT(errors_of("[policy]\nname = \"t\"\nname = \"u\"\n"),
              ElementsAre(HasSubstr("TOML syntax error: a key or table is defined twice (")));
  EXPECT_THAT(errors_of("[policy\n"), ElementsAre(HasSubstr("a table header or array is not closed with ]")));
  EXPECT_THAT(errors_of("[policy]\nversion = 1 2\n"), ElementsAre(Not(HasSubstr("a value is missing"))));
}

TEST(PolicyLoader, WrongTypesSayWhatWasExpectedAndFound) {
  EXPECT_THAT(
      errors_of(with_header("[egress]\ndefault = \"monitor\"\nlog_denied = \"yes\"\n")),
      ElementsAre("policy.toml:6:14: egress.log_denied: expected a boolean (true or false), found a string"));
  EXPECT_THAT(errors_of("[policy]\nname = \"t\"\nversion = \"7\"\n"),
              ElementsAre("policy.toml:3:11: policy.version: expected an integer, found a string"));
  EXPECT_THAT(errors_of(with_header("[egress]\ndefault = \"allow\"\n")),
              ElementsAre("policy.toml:5:11: egress.default: \"allow\" is not one of \"deny\" | \"monitor\""));
  EXPECT_THAT(errors_of("egress = 5\n" + with_header("")),
              ElementsAre("policy.toml:1:10: egress: expected a table, found an integer"));
  EXPECT_THAT(errors_of(with_header("[egress]\ndefault = \"monitor\"\nresolvers = [\"192.0.2.1\"]\n")),
              ElementsAre(HasSubstr("egress.resolvers: expected an array of tables ([[egress.resolvers]]), "
                                    "found an array")));
}

TEST(PolicyLoader, MissingRequiredKeys) {
  EXPECT_THAT(errors_of("[egress]\ndefault = \"monitor\"\n"),
              ElementsAre("policy.toml:1:1: policy: missing (required) table [policy]"));
  EXPECT_THAT(errors_of("[policy]\nname = \"t\"\n"),
              ElementsAre("policy.toml:1:1: policy.version: missing (required)"));
  EXPECT_THAT(errors_of(with_header("[egress]\n[[egress.resolvers]]\nname = \"a\"\n")),
              ElementsAre("policy.toml:5:1: egress.resolvers[0].addresses: missing (required)"));
}

TEST(PolicyLoader, DenyWithoutAnyResolverWouldBlockAllDns) {
  EXPECT_THAT(errors_of(with_header("[egress]\ndefault = \"deny\"\n")),
              ElementsAre("policy.toml:4:1: egress.resolvers: egress.default = \"deny\" needs at least "
                          "one [[egress.resolvers]]; without one all DNS from this host is blocked (use "
                          "default = \"monitor\" to observe first)"));
  // Monitoring with no resolvers is a legitimate first step.
  EXPECT_TRUE(load(with_header("[egress]\ndefault = \"monitor\"\n")).ok());
}

TEST(PolicyLoader, DuplicatesAndOverlapsAreErrors) {
  EXPECT_THAT(errors_of(with_header(R"(
[egress]
[[egress.resolvers]]
name = "a"
addresses = ["192.0.2.0/24", "fd00::1"]
[[egress.resolvers]]
name = "a"
addresses = ["192.0.2.53", "fd00::1"]
)")),
              ElementsAre("policy.toml:10:8: egress.resolvers[1].name: duplicate resolver name \"a\" "
                          "(first at egress.resolvers[0])",
                          "policy.toml:11:14: egress.resolvers[1].addresses[0]: \"192.0.2.53\" overlaps "
                          "\"192.0.2.0/24\" at egress.resolvers[0].addresses[0]",
                          "policy.toml:11:28: egress.resolvers[1].addresses[1]: \"fd00::1\" repeats "
                          "\"fd00::1\" at egress.resolvers[0].addresses[1]"));
  EXPECT_THAT(errors_of(with_header("[ingress.zone_transfer]\nsecondaries = [\"198.51.100.2\", \"198.51.100.2\"]\n")),
              ElementsAre(HasSubstr("ingress.zone_transfer.secondaries[1]: \"198.51.100.2\" repeats")));
  EXPECT_THAT(
      errors_of(with_header("[egress]\ndefault = \"monitor\"\n[[egress.resolvers]]\nname = \"a\"\n"
                            "addresses = [\"192.0.2.1\"]\nprotocols = [\"udp\", \"udp\"]\n")),
      ElementsAre(HasSubstr("egress.resolvers[0].protocols[1]: \"udp\" is listed twice")));
  // TOML itself refuses a key defined twice.
  EXPECT_THAT(errors_of(with_header("[egress]\ndefault = \"deny\"\ndefault = \"deny\"\n")),
              ElementsAre(HasSubstr("policy.toml:6:")));
}

TEST(PolicyLoader, ContradictoryEntriesAreErrors) {
  EXPECT_THAT(errors_of(with_header("[inspect]\nblock_domains = [\"x.example\"]\nallow_domains = [\"X.example.\"]\n")),
              ElementsAre(HasSubstr("inspect.allow_domains: \"x.example\" is in both block_domains and "
                                    "allow_domains")));
  EXPECT_THAT(errors_of(with_header("[inspect]\nenabled = true\n")),
              ElementsAre(HasSubstr("inspect.enabled: inspection needs at least one [[egress.resolvers]]")));
}

TEST(PolicyLoader, UsersMustExistOnThisHost) {
  EXPECT_THAT(errors_of(with_header("[egress]\n[[egress.resolvers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\n"
                                    "users = [\"nobody-here\", -1, 1.5]\n")),
              ElementsAre("policy.toml:8:10: egress.resolvers[0].users[0]: no local user \"nobody-here\" on this host",
                          "policy.toml:8:25: egress.resolvers[0].users[1]: -1 is not a valid uid",
                          "policy.toml:8:29: egress.resolvers[0].users[2]: expected a user name or uid, found a float"));
}

TEST(PolicyLoader, ResolverNamesBecomeKernelSetNamesSoTheyAreRestricted) {
  EXPECT_THAT(errors_of(with_header("[egress]\n[[egress.resolvers]]\nname = \"Corp DNS\"\naddresses = [\"192.0.2.1\"]\n")),
              ElementsAre(HasSubstr("egress.resolvers[0].name: \"Corp DNS\" must be 1-32 characters of "
                                    "letters, digits, '-', '_' or '.'")));
  auto r = load(with_header("[egress]\n[[egress.resolvers]]\nname = \"Corp-DNS.v2\"\naddresses = [\"192.0.2.1\"]\n"));
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  EXPECT_EQ(r->egress->resolvers[0].name, "Corp-DNS.v2");
}

TEST(PolicyLoader, RangesAreChecked) {
  EXPECT_THAT(errors_of(with_header("[ingress.rate_limit]\nper_source_qps = 0\n")),
              ElementsAre("policy.toml:5:18: ingress.rate_limit.per_source_qps: 0 is out of range (1 to 1000000)"));
  EXPECT_THAT(errors_of(with_header("[telemetry]\nmetrics = \"localhost\"\n")),
              ElementsAre(HasSubstr("telemetry.metrics: \"localhost\" is not HOST:PORT")));
}

TEST(PolicyLoader, DomainsAndQtypesAreNormalizedOrRejected) {
  auto r = load(with_header(R"(
[egress]
[[egress.resolvers]]
name = "a"
addresses = ["192.0.2.1"]
[inspect]
enabled = true
block_domains = ["Bad.Example.", "*.tracker.example"]
deny_qtypes = ["any", "NULL", "TYPE65"]
)"));
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  EXPECT_THAT(r->inspect.block_domains, ElementsAre("bad.example", "*.tracker.example"));
  EXPECT_THAT(r->inspect.deny_qtypes, ElementsAre(10, 65, 255));

  EXPECT_THAT(errors_of(with_header("[inspect]\nblock_domains = [\"a..b\", \"x.*.y\"]\ndeny_qtypes = [\"BOGUS\"]\n")),
              ElementsAre(HasSubstr("inspect.block_domains[0]: \"a..b\" is not a domain name"),
                          HasSubstr("inspect.block_domains[1]: \"x.*.y\" is not a domain name"),
                          HasSubstr("inspect.deny_qtypes[0]: \"BOGUS\" is not a DNS record type")));
}

TEST(PolicyLoader, OpcodesDefaultToQueryAndMustIncludeIt) {
  auto r = load(with_header("[inspect]\n"));
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  EXPECT_EQ(r->inspect.allowed_opcodes, 1u);
  auto secondary = load(with_header("[inspect]\nopcodes = [\"query\", \"NOTIFY\", \"OPCODE9\"]\n"));
  ASSERT_TRUE(secondary.ok()) << join_errors(secondary.errors());
  EXPECT_EQ(secondary->inspect.allowed_opcodes, (1u << 0) | (1u << 4) | (1u << 9));
  // The TCP proxy's port must be privileged: any process could take another one.
  EXPECT_EQ(r->inspect.tcp_proxy_port, 553);
  EXPECT_THAT(errors_of(with_header("[inspect]\ntcp_proxy_port = 10053\n")),
              ElementsAre(HasSubstr("inspect.tcp_proxy_port: 10053 is out of range (1 to 1023)")));
  EXPECT_THAT(errors_of(with_header("[inspect]\nopcodes = [\"NOTIFY\", \"NOTIFY\", \"PUSH\", \"OPCODE16\"]\n")),
              ElementsAre(HasSubstr("inspect.opcodes: must list \"QUERY\""),
                          HasSubstr("inspect.opcodes[1]: \"NOTIFY\" is listed twice"),
                          HasSubstr("inspect.opcodes[2]: \"PUSH\" is not a DNS opcode"),
                          HasSubstr("inspect.opcodes[3]: \"OPCODE16\" is not a DNS opcode")));
}

TEST(PolicyLoader, TunnelingSettingsHaveDefaultsAndRanges) {
  auto r = load(with_header("[inspect.tunneling]\nenabled = true\n"));
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  EXPECT_TRUE(r->inspect.tunneling.enabled);
  EXPECT_EQ(r->inspect.tunneling.action, TunnelingAction::drop);
  EXPECT_EQ(r->inspect.tunneling.budget_bytes_per_hour, 2048u);
  EXPECT_EQ(r->inspect.tunneling.hold_seconds, 3600u);

  auto custom = load(with_header(
      "[inspect.tunneling]\nenabled = true\naction = \"log\"\nbudget_bytes_per_hour = 8192\n"
      "names_per_hour = 500\nhold_seconds = 60\nallow_domains = [\"AVQS.Example.\"]\n"));
  ASSERT_TRUE(custom.ok()) << join_errors(custom.errors());
  EXPECT_EQ(custom->inspect.tunneling.action, TunnelingAction::log);
  EXPECT_EQ(custom->inspect.tunneling.budget_bytes_per_hour, 8192u);
  EXPECT_EQ(custom->inspect.tunneling.names_per_hour, 500u);
  EXPECT_EQ(custom->inspect.tunneling.hold_seconds, 60u);
  EXPECT_THAT(custom->inspect.tunneling.allow_domains, ElementsAre("avqs.example"));

  EXPECT_THAT(errors_of(with_header("[inspect.tunneling]\nbudget_bytes_per_hour = 10\nhold = 5\n"
                                    "action = \"block\"\n")),
              ElementsAre("policy.toml:5:25: inspect.tunneling.budget_bytes_per_hour: 10 is out of range (64 to "
                          "100000000)",
                          HasSubstr("policy.toml:6:1: inspect.tunneling.hold: unknown key"),
                          HasSubstr("policy.toml:7:10: inspect.tunneling.action: \"block\" is not one of")));
}

TEST(PolicyLoader, UnreadableListFilesAreErrorsRelativeToThePolicyFile) {
  const auto dir = std::filesystem::temp_directory_path() / "dnsguard-loader-test";
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "ads.txt") << "ads.example\n";
  std::ofstream(dir / "policy.toml") << with_header(
      "[egress]\n[[egress.resolvers]]\nname = \"a\"\naddresses = [\"192.0.2.1\"]\n"
      "[inspect]\nenabled = true\nblock_lists = [\"ads.txt\", \"missing.txt\"]\n");
  auto r = load_policy_file((dir / "policy.toml").string(), kOptions);
  ASSERT_FALSE(r.ok());
  ASSERT_EQ(r.errors().size(), 1u);
  EXPECT_THAT(r.errors()[0].to_string(),
              HasSubstr("inspect.block_lists[1]: cannot read list file \"" + (dir / "missing.txt").string() +
                        "\": No such file or directory"));
  std::filesystem::remove_all(dir);
}

TEST(PolicyLoader, SyntaxErrorsAndUnreadableFiles) {
  EXPECT_THAT(errors_of("[policy\nname = 1\n"),
              ElementsAre(HasSubstr("policy.toml:1:")));
  auto r = load_policy_file("/nonexistent/policy.toml", kOptions);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].to_string(),
            "/nonexistent/policy.toml: cannot read policy file: No such file or directory");
}

TEST(PolicyLoader, ReportsEveryErrorAtOnce) {
  EXPECT_EQ(errors_of("[policy]\nname = \"\"\nversion = -1\nbogus = 1\n").size(), 3u);
}

TEST(PolicyLoader, ShippedPoliciesAreValid) {
  for (const auto& entry : std::filesystem::directory_iterator(DNSGUARD_SOURCE_DIR "/policies")) {
    if (entry.path().extension() != ".toml") continue;
    auto r = load_policy_file(entry.path().string(), kOptions);
    EXPECT_TRUE(r.ok()) << entry.path() << ":\n" << (r.ok() ? "" : join_errors(r.errors()));
  }
}

}  // namespace
}  // namespace dnsguard::policy
