#include "inspect/engine.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "dns/wire.hpp"

namespace dnsguard::inspect {
namespace {

using ::testing::HasSubstr;

class TempFiles {
 public:
  TempFiles() {
    char tmpl[] = "/tmp/dnsguard-engine-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  ~TempFiles() { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
    return (dir_ / name).string();
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

class EngineTest : public ::testing::Test {
 protected:
  TempFiles files_;
  DecisionState state_;
  SteadyClock::time_point now_{};
  Client client_{parse_prefix("192.0.2.10").prefix->address, 1000};

  std::shared_ptr<const Engine> engine(const std::string& inspect_section, bool canary = false) {
    const std::string text = "[policy]\nname = \"t\"\nversion = 1\n[egress]\n[[egress.resolvers]]\n"
                             "name = \"r\"\naddresses = [\"192.0.2.53\"]\n" +
                             std::string(canary ? "[egress.encrypted_dns]\ncanary = true\n" : "") +
                             "[inspect]\nenabled = true\n" + inspect_section;
    auto p = policy::load_policy_text(text, (files_.dir() / "policy.toml").string());
    EXPECT_TRUE(p.ok()) << (p.ok() ? "" : join_errors(p.errors()));
    auto e = Engine::build(p.value());
    EXPECT_TRUE(e.ok()) << (e.ok() ? "" : join_errors(e.errors()));
    return e.value();
  }

  Verdict decide(const Engine& e, std::string_view name, uint16_t qtype = 1) {
    const auto m = testing::query(name, qtype);
    dns::Query q;
    const auto err = dns::parse_query(m, q);
    return e.decide(err == dns::ParseError::none ? &q : nullptr, err, client_, now_, state_);
  }
};

TEST_F(EngineTest, ExactNamesAndWildcards) {
  auto e = engine("block_domains = [\"bad.example\", \"*.tracker.example\"]\n");
  EXPECT_EQ(decide(*e, "bad.example").action, Action::answer_nxdomain);
  EXPECT_EQ(decide(*e, "BAD.Example").reason, Reason::blocked_domain);
  EXPECT_EQ(decide(*e, "www.bad.example").action, Action::accept);  // exact means exact
  EXPECT_EQ(decide(*e, "a.tracker.example").action, Action::answer_nxdomain);
  EXPECT_EQ(decide(*e, "x.y.tracker.example").action, Action::answer_nxdomain);
  EXPECT_EQ(decide(*e, "tracker.example").action, Action::accept);  // *.x is below x only
  EXPECT_EQ(decide(*e, "nottracker.example").action, Action::accept);
  EXPECT_EQ(decide(*e, "good.example").reason, Reason::no_match);
}

TEST_F(EngineTest, AllowWinsOverEverything) {
  auto e = engine("block_domains = [\"*.corp.example\"]\nallow_domains = [\"host.corp.example\"]\n"
                  "deny_qtypes = [\"TXT\"]\nrate_limit = { per_client_qps = 1, burst = 1 }\n");
  for (int i = 0; i < 5; ++i) {
    const auto v = decide(*e, "host.corp.example", 16);
    EXPECT_EQ(v.action, Action::accept);
    EXPECT_EQ(v.reason, Reason::allowed_domain);
  }
  EXPECT_EQ(decide(*e, "other.corp.example").action, Action::answer_nxdomain);
}

TEST_F(EngineTest, BlockResponsesAndQtypes) {
  EXPECT_EQ(decide(*engine("block_domains = [\"x.example\"]\nblock_response = \"refused\"\n"), "x.example").action,
            Action::answer_refused);
  EXPECT_EQ(decide(*engine("block_domains = [\"x.example\"]\nblock_response = \"sinkhole\"\n"), "x.example").action,
            Action::answer_sinkhole);
  EXPECT_EQ(decide(*engine("block_domains = [\"x.example\"]\nblock_response = \"drop\"\n"), "x.example").action,
            Action::drop);
  auto e = engine("deny_qtypes = [\"ANY\", \"NULL\", \"PRIVATE\"]\n");
  EXPECT_EQ(decide(*e, "x.example", 255).reason, Reason::denied_qtype);
  EXPECT_EQ(decide(*e, "x.example", 10).action, Action::answer_refused);
  EXPECT_EQ(decide(*e, "x.example", 65300).reason, Reason::denied_qtype);
  EXPECT_EQ(decide(*e, "x.example", 16).action, Action::accept);
}

TEST_F(EngineTest, SinkholeResponseCarriesTheConfiguredAddresses) {
  auto e = engine("block_response = \"sinkhole\"\nsinkhole = [\"192.0.2.1\", \"fd00::1\"]\n");
  const auto spec = e->response_for(Action::answer_sinkhole);
  EXPECT_EQ(spec.rcode, dns::Rcode::noerror);
  EXPECT_EQ(spec.sinkhole_v4->to_string(), "192.0.2.1");
  EXPECT_EQ(spec.sinkhole_v6->to_string(), "fd00::1");
}

TEST_F(EngineTest, Canary) {
  EXPECT_EQ(decide(*engine("", true), "use-application-dns.net").reason, Reason::canary);
  EXPECT_EQ(decide(*engine("", false), "use-application-dns.net").action, Action::accept);
}

TEST_F(EngineTest, PerClientRateLimit) {
  auto e = engine("rate_limit = { per_client_qps = 10, burst = 20 }\n");
  int refused = 0;
  for (int i = 0; i < 30; ++i) refused += decide(*e, "a.example").reason == Reason::rate_limited;
  EXPECT_EQ(refused, 10);  // 20 in the burst, then nothing until time passes
  now_ += std::chrono::milliseconds(500);  // 5 tokens back
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += decide(*e, "a.example").action == Action::accept;
  EXPECT_EQ(allowed, 5);
  client_.uid = 1001;  // another local user has a bucket of its own
  EXPECT_EQ(decide(*e, "a.example").action, Action::accept);
}

TEST_F(EngineTest, OnlyListedOpcodesPass) {
  const auto notify = testing::Wire().header(7, 0x2000, 1).name("zone.example").u16(6).u16(1).bytes;
  const auto update = testing::Wire().header(8, 0x2800, 1).name("zone.example").u16(6).u16(1).bytes;
  const auto status = testing::Wire().header(9, 0x1000, 1).name("zone.example").u16(6).u16(1).bytes;
  auto verdict = [&](const Engine& e, const std::vector<uint8_t>& m) {
    dns::Query q;
    EXPECT_EQ(dns::parse_query(m, q), dns::ParseError::none);
    return e.decide(&q, dns::ParseError::none, client_, now_, state_);
  };
  auto by_default = engine("");
  for (const auto* m : {&notify, &update, &status}) {
    const Verdict v = verdict(*by_default, *m);
    EXPECT_EQ(v.action, Action::answer_refused);
    EXPECT_EQ(v.reason, Reason::denied_opcode);
  }
  auto secondary = engine("opcodes = [\"QUERY\", \"NOTIFY\"]\n");
  EXPECT_EQ(verdict(*secondary, notify).reason, Reason::not_inspected);
  EXPECT_EQ(verdict(*secondary, notify).action, Action::accept);
  EXPECT_EQ(verdict(*secondary, update).reason, Reason::denied_opcode);
  EXPECT_EQ(decide(*secondary, "a.example").action, Action::accept);
}

TEST_F(EngineTest, Malformed) {
  auto drop = engine("");
  EXPECT_EQ(drop->decide(nullptr, dns::ParseError::pointer_loop, client_, now_, state_).action, Action::drop);
  EXPECT_EQ(drop->decide(nullptr, dns::ParseError::trailing_bytes, client_, now_, state_).action, Action::drop);
  auto accept = engine("malformed = \"accept\"\n");
  EXPECT_EQ(accept->decide(nullptr, dns::ParseError::truncated_name, client_, now_, state_).action, Action::accept);
}

TEST_F(EngineTest, BlockListsInBothFormatsWithTheirIndex) {
  files_.write("plain.txt", "# ads\n\nads.example\nTRACK.example.\n  *.wild.example  # trailing comment\n");
  files_.write("hosts.txt", "127.0.0.1 localhost\n0.0.0.0 0.0.0.0\n0.0.0.0 h1.example h2.example\n:: h3.example\n");
  auto e = engine("block_lists = [\"plain.txt\", \"hosts.txt\"]\n");
  EXPECT_EQ(decide(*e, "ads.example").reason, Reason::blocked_list);
  EXPECT_EQ(decide(*e, "ads.example").list, 0);
  EXPECT_EQ(decide(*e, "track.example").list, 0);
  EXPECT_EQ(decide(*e, "x.wild.example").list, 0);
  EXPECT_EQ(decide(*e, "h2.example").list, 1);
  EXPECT_EQ(decide(*e, "h3.example").list, 1);
  EXPECT_EQ(decide(*e, "localhost").action, Action::accept);  // hosts boilerplate is skipped
  EXPECT_EQ(e->blocked_names(), 6u);
}

TEST_F(EngineTest, ABadListLineIsAnErrorWithFileAndLine) {
  const auto path = files_.write("bad.txt", "ok.example\nnot a domain\n");
  DomainMatcher m;
  auto s = load_block_list(path, m, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.errors()[0].to_string(),
            path + ":2:1: expected one domain per line, or hosts format \"0.0.0.0 name\"");
  const auto path2 = files_.write("bad2.txt", "0.0.0.0 fine.example bad..example\nfine2.example\n");
  auto s2 = load_block_list(path2, m, 1);
  ASSERT_FALSE(s2.ok());
  EXPECT_EQ(s2.errors()[0].to_string(), path2 + ":1:22: \"bad..example\" is not a domain name");
}

TEST_F(EngineTest, AFileThatIsNotAListIsNeverQuoted) {
  // What a caller of Plan could name to read a secret through the error.
  std::string shadow;
  for (int i = 0; i < 20; ++i) shadow += "user" + std::to_string(i) + ":$6$saltsalt$SECRETHASH" + std::to_string(i) + ":19000:0:99999:7:::\n";
  const auto path = files_.write("shadow", shadow);
  DomainMatcher m;
  auto s = load_block_list(path, m, 1);
  ASSERT_FALSE(s.ok());
  ASSERT_EQ(s.errors().size(), 1u);
  const std::string text = s.errors()[0].to_string();
  EXPECT_THAT(text, HasSubstr("not a block list: 20 of 20 lines"));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("SECRET")));
  EXPECT_THAT(text, ::testing::Not(HasSubstr("user")));
  // Only regular files: a device would never end.
  auto dev = load_block_list("/dev/zero", m, 1);
  ASSERT_FALSE(dev.ok());
  EXPECT_THAT(dev.errors()[0].to_string(), HasSubstr("not a regular file"));
  // A list with one overlong line says so without quoting it.
  const auto long_line = files_.write("long.txt", "ok.example\nok2.example\n" + std::string(5000, 'a') + "\n");
  auto l = load_block_list(long_line, m, 1);
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.errors()[0].to_string(), long_line + ":3:1: a line longer than 4096 bytes");
}

TEST_F(EngineTest, AMillionNamesFitAndMatch) {
  DomainMatcher m;
  for (int i = 0; i < 1'000'000; ++i) m.add("host" + std::to_string(i) + ".example", 1);
  EXPECT_EQ(m.size(), 1'000'000u);
  EXPECT_LT(m.memory_bytes(), 64u << 20);
  dns::Query q;
  std::array<uint64_t, 128> h;
  for (auto [name, hit] : {std::pair{"host999999.example", true}, {"host1000000.example", false}, {"host0.example", true}}) {
    ASSERT_EQ(dns::parse_query(testing::query(name), q), dns::ParseError::none);
    hash_suffixes(q.qname, h);
    EXPECT_EQ(m.match(q.qname, h).has_value(), hit) << name;
  }
}

}  // namespace
}  // namespace dnsguard::inspect
