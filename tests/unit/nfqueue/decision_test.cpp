#include "nfqueue/decision.hpp"

#include <gtest/gtest.h>

#include "dns/wire.hpp"
#include "nfqueue/packets.hpp"

namespace dnsguard::nfqueue {
namespace {

using testing::address;
using testing::concat;
using testing::framed;
using testing::query;

class DecisionTest : public ::testing::Test, public MessageObserver {
 protected:
  void SetUp() override {
    auto p = policy::load_policy_text(
        "[policy]\nname = \"t\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\n"
        "addresses = [\"192.0.2.53\", \"fd00:53::53\"]\n[inspect]\nenabled = true\n"
        "block_domains = [\"blocked.example\"]\ndeny_qtypes = [\"ANY\", \"NULL\"]\n",
        "policy.toml");
    ASSERT_TRUE(p.ok()) << join_errors(p.errors());
    engine_ = inspect::Engine::build(p.value()).value();
  }
  void on_message(const PacketView*, const MessageDecision& m) override {
    seen_.push_back(m.parsed() ? std::string(m.query.qname.view()) : "(unparsed)");
  }
  PacketDecision decide(const std::vector<uint8_t>& bytes, bool truncated = false) {
    seen_.clear();
    return decide_packet({bytes, truncated, 1000}, *engine_, now_, state_, this);
  }

  std::shared_ptr<const inspect::Engine> engine_;
  inspect::DecisionState state_;
  inspect::SteadyClock::time_point now_{};
  std::vector<std::string> seen_;
  const IpAddress client4_ = address("192.0.2.10"), resolver4_ = address("192.0.2.53");
  const IpAddress client6_ = address("fd00:53::10"), resolver6_ = address("fd00:53::53");
};

TEST_F(DecisionTest, UdpQueriesAreAcceptedOrAnswered) {
  EXPECT_EQ(decide(testing::udp_packet(client4_, resolver4_, 4000, query("ok.example"))).action, PacketAction::accept);
  // The decision points into the packet's bytes: they must outlive it, as the queue's
  // receive buffer does.
  const auto blocked_packet = testing::udp_packet(client6_, resolver6_, 4000, query("blocked.example"));
  const auto blocked = decide(blocked_packet);
  EXPECT_EQ(blocked.action, PacketAction::answer);
  EXPECT_EQ(blocked.decided.verdict.reason, inspect::Reason::blocked_domain);
  Injection out;
  ASSERT_TRUE(build_injection(blocked, *engine_, out));
  const auto reply = parse_packet(out.packet_bytes());
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->source, resolver6_);
  EXPECT_EQ(reply->destination, client6_);
  dns::Query q;
  ASSERT_EQ(out.dns_length > 3, true);
  EXPECT_EQ(out.dns[3] & 0x0F, 3);  // NXDOMAIN
  (void)q;
}

TEST_F(DecisionTest, TwoMessagesInOneDatagramAreMalformed) {
  // What a GSO super-datagram or a smuggled second message looks like to the parser.
  const auto both = concat(query("ok.example"), query("blocked.example"));
  const auto d = decide(testing::udp_packet(client4_, resolver4_, 4000, both));
  EXPECT_EQ(d.action, PacketAction::drop);
  EXPECT_EQ(d.decided.error, dns::ParseError::trailing_bytes);
}

TEST_F(DecisionTest, EveryPipelinedTcpMessageIsDecided) {
  for (const auto& [client, resolver] : {std::pair{client4_, resolver4_}, {client6_, resolver6_}}) {
    for (uint16_t qtype : {uint16_t{1}, uint16_t{255}, uint16_t{10}}) {
      const std::string second = qtype == 1 ? "blocked.example" : "ok2.example";
      const auto segment = concat(framed(query("ok.example")), framed(query(second, qtype)));
      const auto packet = testing::tcp_segment(client, resolver, 5000, segment);
      const auto d = decide(packet);
      EXPECT_EQ(d.action, PacketAction::reset) << second << " " << qtype;
      EXPECT_EQ(d.messages, 2);
      EXPECT_EQ(seen_, (std::vector<std::string>{"ok.example", second}));
      Injection out;
      ASSERT_TRUE(build_injection(d, *engine_, out));
      const auto rst = parse_packet(out.packet_bytes());
      ASSERT_TRUE(rst);
      EXPECT_EQ(rst->tcp_flags & kTcpRst, kTcpRst);
    }
  }
  const auto allowed = concat(framed(query("ok.example")), framed(query("ok2.example")));
  const auto d = decide(testing::tcp_segment(client4_, resolver4_, 5000, allowed));
  EXPECT_EQ(d.action, PacketAction::accept);
  EXPECT_EQ(d.messages, 2);
}

TEST_F(DecisionTest, TcpSegmentsThatSplitAMessageAreResetWhateverThePolicy) {
  const auto whole = framed(query("ok.example"));
  const std::vector<uint8_t> one_byte{whole[0]};
  const std::vector<uint8_t> length_only(whole.begin(), whole.begin() + 2);
  const std::vector<uint8_t> half(whole.begin(), whole.begin() + 10);
  const auto and_a_half = concat(whole, half);
  for (const auto* payload : {&one_byte, &length_only, &half, &and_a_half}) {
    const auto d = decide(testing::tcp_segment(client4_, resolver4_, 5000, *payload));
    EXPECT_EQ(d.action, PacketAction::reset) << payload->size();
  }
}

TEST_F(DecisionTest, HandshakeAndAcksPass) {
  EXPECT_EQ(decide(testing::tcp_segment(client4_, resolver4_, 5000, {}, 1, kTcpSyn)).action, PacketAction::accept);
  EXPECT_EQ(decide(testing::tcp_segment(client4_, resolver4_, 5000, {})).action, PacketAction::accept);
  EXPECT_TRUE(seen_.empty());
}

TEST_F(DecisionTest, UnreadableAndTruncatedPacketsAreMalformed) {
  auto pkt = testing::udp_packet(client4_, resolver4_, 4000, query("ok.example"));
  EXPECT_EQ(decide(pkt, /*truncated=*/true).action, PacketAction::drop);
  EXPECT_EQ(decide({0x45, 0, 0}).action, PacketAction::drop);
  EXPECT_EQ(decide({}).action, PacketAction::drop);
  EXPECT_EQ(seen_, std::vector<std::string>{"(unparsed)"});
}

TEST_F(DecisionTest, APacketLongerThanTheQueueCopiedNeverPasses) {
  auto accepting = policy::load_policy_text(
      "[policy]\nname = \"t\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\n"
      "addresses = [\"192.0.2.53\"]\n[inspect]\nenabled = true\nmalformed = \"accept\"\n",
      "policy.toml");
  ASSERT_TRUE(accepting.ok());
  engine_ = inspect::Engine::build(accepting.value()).value();
  auto pkt = testing::udp_packet(client4_, resolver4_, 4000, query("blocked.example"));
  EXPECT_EQ(decide(pkt, /*truncated=*/true).action, PacketAction::drop);
  EXPECT_EQ(decide(pkt).action, PacketAction::accept);  // malformed = accept, but readable: decided
}

TEST_F(DecisionTest, OtherOpcodesAreRefused) {
  const auto notify = testing::Wire().header(7, 0x2000, 1).name("zone.example").u16(6).u16(1).bytes;
  const auto packet = testing::udp_packet(client4_, resolver4_, 4000, notify);
  const auto d = decide(packet);
  EXPECT_EQ(d.action, PacketAction::answer);
  EXPECT_EQ(d.decided.verdict.reason, inspect::Reason::denied_opcode);
  Injection out;
  ASSERT_TRUE(build_injection(d, *engine_, out));
  EXPECT_EQ(out.dns[3] & 0x0F, 5);  // REFUSED
  EXPECT_EQ((out.dns[2] >> 3) & 0x0F, 4);  // the answer keeps the opcode
}

}  // namespace
}  // namespace dnsguard::nfqueue
