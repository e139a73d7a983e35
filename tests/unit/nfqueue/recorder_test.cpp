#include "nfqueue/recorder.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "policy/policy.hpp"

namespace dnsguard::nfqueue {
namespace {

class RecorderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto p = policy::load_policy_text(
        "[policy]\nname = \"t\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\n"
        "addresses = [\"192.0.2.53\"]\n[inspect]\nenabled = true\nblock_domains = [\"blocked.example\"]\n",
        "policy.toml");
    ASSERT_TRUE(p.ok()) << join_errors(p.errors());
    installed_.engine = inspect::Engine::build(p.value()).value();
  }
  static MessageDecision decided(inspect::Reason reason, bool detected_now = false) {
    MessageDecision m;
    m.verdict.action = inspect::Action::drop;
    m.verdict.reason = reason;
    m.verdict.tunnel_detected_now = detected_now;
    return m;
  }
  size_t events_of_kind(std::string_view kind) const {
    const auto all = events_.since(0);
    return static_cast<size_t>(std::count_if(all.begin(), all.end(), [&](const auto& e) { return e.kind == kind; }));
  }

  InstalledEngine installed_;
  InspectorCounters counters_;
  telemetry::EventLog events_;
  nflog::UserNameCache users_;
  DecisionRecorder recorder_{counters_, &events_, users_, 0};
};

// A flood of blocked queries is sampled; a tunnel detection in the middle of it is
// still reported (it draws on its own budget), and what was held back is summarised.
TEST_F(RecorderTest, AFloodOfBlocksCannotHideATunnelDetection) {
  const auto now = inspect::SteadyClock::now();
  recorder_.begin(installed_, now);
  for (int i = 0; i < 1000; ++i) recorder_.on_message(nullptr, decided(inspect::Reason::blocked_domain));
  recorder_.on_message(nullptr, decided(inspect::Reason::tunneling, true));
  recorder_.flush_suppressed(now + std::chrono::seconds(1));
  EXPECT_LT(events_of_kind("block"), 1000u);
  EXPECT_EQ(events_of_kind("tunnel"), 1u);
  EXPECT_EQ(counters_.tunnel_detections.load(), 1u);
  EXPECT_EQ(events_.suppressed() + events_of_kind("block"), 1000u);
}

// Detections are bounded too: a flood of them (one per new domain) is sampled.
TEST_F(RecorderTest, AFloodOfDetectionsIsSampled) {
  recorder_.begin(installed_, inspect::SteadyClock::now());
  for (int i = 0; i < 1000; ++i) recorder_.on_message(nullptr, decided(inspect::Reason::tunneling, true));
  EXPECT_LT(events_of_kind("tunnel"), 100u);
  EXPECT_EQ(counters_.tunnel_detections.load(), 1000u);
}

}  // namespace
}  // namespace dnsguard::nfqueue
