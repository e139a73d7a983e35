#include "inspect/tunnel.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "dns/wire.hpp"
#include "inspect/engine.hpp"

namespace dnsguard::inspect {
namespace {

using namespace std::chrono_literals;

std::string random_text(std::mt19937& rng, std::string_view alphabet, size_t length) {
  std::string s;
  for (size_t i = 0; i < length; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

constexpr std::string_view kHex = "0123456789abcdef";
constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz012345";
constexpr std::string_view kBase64Lower = "abcdefghijklmnopqrstuvwxyz0123456789-_";  // base64 as DNS lower-cases it

TEST(LabelInformation, RandomEncodingsCountNearTheirDensity) {
  std::mt19937 rng(1);
  // 40 random characters carry 40 * log2(alphabet) bits; the estimate must count most of it
  // and never much more.
  const double hex = label_information_bits(random_text(rng, kHex, 40));
  EXPECT_GT(hex, 0.8 * 160);
  EXPECT_LE(hex, 160);
  const double base32 = label_information_bits(random_text(rng, kBase32, 40));
  EXPECT_GT(base32, 0.8 * 200);
  EXPECT_LE(base32, 40 * std::log2(38.0));
  const double base64 = label_information_bits(random_text(rng, kBase64Lower, 40));
  EXPECT_GT(base64, 0.8 * 200);
  std::string binary;
  for (int i = 0; i < 40; ++i) binary += static_cast<char>(0xbc + rng() % 64);
  EXPECT_GT(label_information_bits(binary), 0.75 * 280);
}

TEST(LabelInformation, EverydayLabelsAreCheap) {
  EXPECT_LT(label_information_bits("www"), 8);
  EXPECT_LT(label_information_bits("mail"), 12);
  EXPECT_LT(label_information_bits("1"), 4);  // a DNSBL octet: one digit's worth
  EXPECT_GT(label_information_bits("1"), 3);
  // Repetition is cheap whatever the alphabet.
  EXPECT_LT(label_information_bits("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"), 8);
}

class DetectorTest : public ::testing::Test {
 protected:
  TunnelDetector detector_{1024};
  policy::Tunneling settings_ = [] {
    policy::Tunneling t;
    t.enabled = true;
    t.budget_bytes_per_hour = 2048;
    t.names_per_hour = 2000;
    t.hold_seconds = 600;
    return t;
  }();
  Client client_{parse_prefix("192.0.2.10").prefix->address, 1000};
  SteadyClock::time_point now_ = SteadyClock::time_point{} + 1000h;

  TunnelObservation observe(std::string_view name, uint16_t qtype = 1, const Client* client = nullptr) {
    const auto m = testing::query(name, qtype);
    dns::Query q;
    EXPECT_EQ(dns::parse_query(m, q), dns::ParseError::none) << name;
    std::array<uint64_t, 128> suffixes;
    hash_suffixes(q.qname, suffixes);
    return detector_.observe(q, suffixes, address_hash((client ? *client : client_).address), settings_, now_);
  }
  std::string registered(std::string_view name) {
    const auto m = testing::query(name, 1);
    dns::Query q;
    EXPECT_EQ(dns::parse_query(m, q), dns::ParseError::none);
    std::array<uint64_t, 128> suffixes;
    hash_suffixes(q.qname, suffixes);
    return std::string(q.qname.suffix(domains_.first_label(q.qname, suffixes)));
  }
  RegisteredDomains domains_;
};

TEST_F(DetectorTest, RegisteredDomainsFollowThePublicSuffixList) {
  EXPECT_EQ(registered("www.example.com"), "example.com");
  EXPECT_EQ(registered("a.b.c.example.com"), "example.com");
  EXPECT_EQ(registered("www.bbc.co.uk"), "bbc.co.uk");
  EXPECT_EQ(registered("x.foo.blogspot.com"), "foo.blogspot.com");  // a private suffix
  EXPECT_EQ(registered("a.b.kawasaki.jp"), "a.b.kawasaki.jp");      // "*.kawasaki.jp"
  EXPECT_EQ(registered("example.com"), "example.com");
  EXPECT_EQ(registered("co.uk"), "co.uk");  // a public suffix is its own account
  EXPECT_EQ(registered("host.corp"), "host.corp");  // unknown TLDs: the default "*" rule
}

TEST_F(DetectorTest, SlowExfiltrationCrossesTheBudget) {
  std::mt19937 rng(2);
  int queries = 0;
  TunnelObservation seen;
  // One query a second, each carrying 25 bytes as base32 (40 characters).
  while (!seen.held && queries < 3600) {
    seen = observe(random_text(rng, kBase32, 40) + ".x.exfil.example", 1);
    now_ += 1s;
    ++queries;
  }
  ASSERT_TRUE(seen.detected_now);
  EXPECT_EQ(seen.signals, kSignalInformation);
  EXPECT_GE(seen.score, 1.0f);
  // About budget / 25 bytes per query; the estimate must not be far off either way.
  EXPECT_GT(queries, 60);
  EXPECT_LT(queries, 120);
  // Held: every later query under the registered domain, whatever the name.
  EXPECT_TRUE(observe("www.exfil.example").held);
  EXPECT_FALSE(observe("www.exfil.example").detected_now);
  // Another client is not held.
  const Client other{parse_prefix("192.0.2.11").prefix->address, 1000};
  EXPECT_FALSE(observe("www.exfil.example", 1, &other).held);
}

TEST_F(DetectorTest, HoldExpiresAndTheDomainStartsAfresh) {
  EXPECT_TRUE(observe("x.tun.example", 10).detected_now);  // NULL
  now_ += 599s;
  EXPECT_TRUE(observe("www.tun.example").held);
  now_ += 2s;
  const auto after = observe("www.tun.example");
  EXPECT_FALSE(after.held);
  EXPECT_EQ(after.signals, 0);
}

TEST_F(DetectorTest, PerQuerySignalsStopAtTheFirstQuery) {
  const auto null = observe("abc.t1.example", 10);
  EXPECT_TRUE(null.detected_now);
  EXPECT_EQ(null.signals, kSignalTunnelType);
  EXPECT_EQ(observe("abc.t2.example", 65399).signals, kSignalTunnelType);  // private use
  EXPECT_EQ(observe(std::string(57, 'a') + ".t3.example").signals & kSignalLongLabel, kSignalLongLabel);
  std::string long_name;
  for (int i = 0; i < 5; ++i) long_name += std::string(40, 'b' + static_cast<char>(i)) + ".";
  EXPECT_TRUE(observe(long_name + "t4.example").signals & kSignalLongName);
  EXPECT_EQ(observe("ab\xc3\xbc\xfd\x01.t5.example").signals, kSignalBinaryLabel);
  // A name under a real domain with none of these is not held.
  EXPECT_FALSE(observe("www.example.com", 28).held);
}

TEST_F(DetectorTest, RepeatedNamesCostNothing) {
  // A busy client asking the same few names all day never reaches the budget.
  for (int i = 0; i < 20000; ++i) {
    const auto seen = observe(std::string(i % 3 == 0 ? "www" : i % 3 == 1 ? "api" : "cdn-a1b2c3d4e5") + ".busy.example");
    ASSERT_FALSE(seen.held) << i;
    now_ += 100ms;
  }
}

TEST_F(DetectorTest, TunnelTypesWeighMore) {
  std::mt19937 rng(3);
  auto queries_to_detect = [&](uint16_t qtype, const std::string& domain) {
    for (int i = 1; i <= 1000; ++i) {
      if (observe(random_text(rng, kHex, 30) + "." + domain, qtype).held) return i;
    }
    return 0;
  };
  const int a = queries_to_detect(1, "a.example");
  const int txt = queries_to_detect(16, "txt.example");
  ASSERT_GT(a, 0);
  ASSERT_GT(txt, 0);
  EXPECT_LT(txt, a * 3 / 4);
}

TEST_F(DetectorTest, ManyUniqueNamesCount) {
  settings_.names_per_hour = 100;
  settings_.budget_bytes_per_hour = 1'000'000;
  int i = 0;
  TunnelObservation seen;
  while (!seen.held && i < 1000) seen = observe(std::string("h").append(std::to_string(i++)).append(".names.example"));
  EXPECT_EQ(seen.signals, kSignalUniqueNames);
  EXPECT_EQ(i, 100);
}

TEST_F(DetectorTest, ReverseLookupsAreNotAccounted) {
  std::string name;
  for (int i = 0; i < 32; ++i) name += "0123456789abcdef"[i % 16] + std::string(".");
  for (int i = 0; i < 1000; ++i) {
    std::string n = name;
    n[0] = "0123456789abcdef"[i % 16];
    n[2] = "0123456789abcdef"[(i / 16) % 16];
    ASSERT_FALSE(observe(n + "ip6.arpa", 12).held);
  }
}

// A tunnel may carry data in the question's type or in the letters' case while the name
// stays the same; each channel must be detected before it has carried the budget.
TEST_F(DetectorTest, TheTypeChannelIsCounted) {
  int queries = 0;
  TunnelObservation seen;
  // A new type each time for one name: 2 bytes a query.
  while (!seen.held && queries < 3000) {
    seen = observe("q.types.example", static_cast<uint16_t>(256 + queries));
    now_ += 1s;
    ++queries;
  }
  ASSERT_TRUE(seen.detected_now);
  EXPECT_TRUE(seen.signals & kSignalInformation);
  EXPECT_LT(queries * 2, 2048) << queries << " queries";
}

TEST_F(DetectorTest, TheCaseChannelIsCounted) {
  std::mt19937 rng(6);
  const std::string letters = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwx";  // 50 letters
  int queries = 0;
  TunnelObservation seen;
  while (!seen.held && queries < 2000) {
    std::string name = letters;
    for (auto& c : name)
      if (rng() & 1) c = static_cast<char>(c - 'a' + 'A');
    seen = observe(name + ".case.example");
    now_ += 1s;
    ++queries;
  }
  ASSERT_TRUE(seen.detected_now);
  EXPECT_LT(queries * 50 / 8, 2048) << queries << " queries of 50 bits each";
  // A name asked in lower case again and again stays free.
  for (int i = 0; i < 5000; ++i) ASSERT_FALSE(observe("www.lower.example").held);
}

TEST_F(DetectorTest, TheBareRegisteredDomainCarriesCaseAndTypeToo) {
  // No label below the registered domain, so no name bits: the case and the type are
  // the channel, and they are charged all the same.
  std::mt19937 rng(8);
  const std::string letters(60, 'x');
  int queries = 0;
  TunnelObservation seen;
  while (!seen.held && queries < 5000) {
    std::string name = letters;
    for (auto& c : name)
      if (rng() & 1) c = 'X';
    seen = observe(name + ".test", static_cast<uint16_t>(256 + (rng() % 1000)));
    now_ += 1s;
    ++queries;
  }
  ASSERT_TRUE(seen.held);
  EXPECT_LT(queries * (60 + 16) / 8, 2048) << queries << " queries";
}

TEST_F(DetectorTest, DataUnderReverseZonesIsCounted) {
  // A delegated reverse zone with data labels: the long labels stop it at once, and
  // shorter ones are accounted like any other name.
  std::mt19937 rng(7);
  const std::string zone = ".0.8.e.f.ip6.arpa";
  const auto first = observe(random_text(rng, kHex, 56) + "." + random_text(rng, kHex, 56) + zone, 12);
  EXPECT_TRUE(first.signals & kSignalLongLabel);
  int queries = 0;
  TunnelObservation seen;
  while (!seen.held && queries < 500) {
    seen = observe(random_text(rng, kHex, 50) + "." + random_text(rng, kHex, 50) + ".1.8.e.f.ip6.arpa", 12);
    ++queries;
  }
  EXPECT_TRUE(seen.held);
  EXPECT_LT(queries * 50, 2048);  // 50 bytes a query in hex
  // Reverse lookups of addresses stay free, IPv4 too.
  for (int i = 0; i < 2000; ++i)
    ASSERT_FALSE(observe(std::to_string(i % 256) + "." + std::to_string(i / 256) + ".2.192.in-addr.arpa", 12).held);
}

TEST(ReverseLookups, OnlyAddressShapedNamesCount) {
  auto reverse = [](std::string_view n) {
    const auto m = testing::query(n, 12);
    dns::Query q;
    EXPECT_EQ(dns::parse_query(m, q), dns::ParseError::none);
    return is_reverse_lookup(q.qname);
  };
  EXPECT_TRUE(reverse("53.2.0.192.in-addr.arpa"));
  EXPECT_TRUE(reverse("0.192.in-addr.arpa"));
  EXPECT_TRUE(reverse("b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.0.0.0.0.1.2.3.4.ip6.arpa"));
  EXPECT_FALSE(reverse("256.2.0.192.in-addr.arpa"));
  EXPECT_FALSE(reverse("053.2.0.192.in-addr.arpa"));
  EXPECT_FALSE(reverse("1.2.3.4.5.in-addr.arpa"));
  EXPECT_FALSE(reverse("data.2.0.192.in-addr.arpa"));
  EXPECT_FALSE(reverse("ab.8.e.f.ip6.arpa"));
  EXPECT_FALSE(reverse("in-addr.arpa"));
  EXPECT_FALSE(reverse("x.example.arpa"));
}

TEST_F(DetectorTest, MemoryIsBoundedUnderAFloodOfDomains) {
  std::mt19937 rng(4);
  for (int i = 0; i < 20000; ++i) observe(random_text(rng, kHex, 12) + ".d" + std::to_string(i) + ".com");
  EXPECT_LE(detector_.accounts(), 1024u);
  EXPECT_GT(detector_.accounts(), 900u);
}

TEST_F(DetectorTest, AFloodDoesNotEvictAHeldDomain) {
  EXPECT_TRUE(observe("x.held.example", 10).held);
  std::mt19937 rng(5);
  for (int i = 0; i < 20000; ++i) {
    observe("www.d" + std::to_string(i) + ".com");
    now_ += 1ms;
  }
  EXPECT_TRUE(observe("www.held.example").held);
}

TEST(EngineTunneling, ActionsAllowListsAndOrder) {
  auto engine_for = [](const std::string& tunneling) {
    const std::string text =
        "[policy]\nname = \"t\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\n"
        "addresses = [\"192.0.2.53\"]\n[inspect]\nenabled = true\nallow_domains = [\"*.corp.example\"]\n"
        "block_domains = [\"bad.example\"]\n[inspect.tunneling]\nenabled = true\n" + tunneling;
    auto p = policy::load_policy_text(text, "policy.toml");
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : join_errors(p.errors()));
    return Engine::build(p.value()).value();
  };
  const Client client{parse_prefix("192.0.2.10").prefix->address, std::nullopt};
  auto decide = [&](const Engine& e, DecisionState& state, std::string_view name, uint16_t qtype) {
    const auto m = testing::query(name, qtype);
    dns::Query q;
    EXPECT_EQ(dns::parse_query(m, q), dns::ParseError::none);
    return e.decide(&q, dns::ParseError::none, client, SteadyClock::time_point{} + 1h, state);
  };

  DecisionState state;
  auto drop = engine_for("action = \"drop\"\nallow_domains = [\"avqs.example\"]\n");
  const auto first = decide(*drop, state, "data.tunnel.example", 10);
  EXPECT_EQ(first.action, Action::drop);
  EXPECT_EQ(first.reason, Reason::tunneling);
  EXPECT_TRUE(first.tunnel_detected_now);
  EXPECT_EQ(first.tunnel_signals, kSignalTunnelType);
  EXPECT_EQ(first.registered_label, 1);
  EXPECT_FALSE(decide(*drop, state, "www.tunnel.example", 1).tunnel_detected_now);
  EXPECT_EQ(decide(*drop, state, "www.tunnel.example", 1).action, Action::drop);
  // Exempt from detection, by either allow list; block lists still apply.
  EXPECT_EQ(decide(*drop, state, "x.avqs.example", 10).reason, Reason::no_match);
  EXPECT_EQ(decide(*drop, state, "x.corp.example", 10).reason, Reason::allowed_domain);
  EXPECT_EQ(decide(*drop, state, "bad.example", 10).reason, Reason::blocked_domain);

  DecisionState fresh;
  auto nxdomain = engine_for("action = \"nxdomain\"\n");
  EXPECT_EQ(decide(*nxdomain, fresh, "data.tunnel.example", 10).action, Action::answer_nxdomain);
  DecisionState fresh2;
  auto log = engine_for("action = \"log\"\n");
  const auto logged = decide(*log, fresh2, "data.tunnel.example", 10);
  EXPECT_EQ(logged.action, Action::accept);
  EXPECT_EQ(logged.reason, Reason::tunneling);
  EXPECT_TRUE(logged.tunnel_detected_now);
}

}  // namespace
}  // namespace dnsguard::inspect
