#include "telemetry/metrics.hpp"
#include "telemetry/histogram.hpp"

#include <gtest/gtest.h>

namespace dnsguard::telemetry {
namespace {

TEST(Prometheus, OneHelpAndTypePerFamilyThenSamples) {
  const std::vector<Sample> samples = {
      {"dnsguard_rule_packets_total", "", "counter", "Packets", {{"counter", "egress_dns_denied"}}, 3},
      {"dnsguard_policy_generation", "", "gauge", "Generation", {}, 7},
      {"dnsguard_rule_packets_total", "", "counter", "Packets", {{"counter", "egress_dot_denied"}}, 0},
  };
  EXPECT_EQ(render_prometheus(samples),
            "# HELP dnsguard_rule_packets_total Packets\n"
            "# TYPE dnsguard_rule_packets_total counter\n"
            "dnsguard_rule_packets_total{counter=\"egress_dns_denied\"} 3\n"
            "dnsguard_rule_packets_total{counter=\"egress_dot_denied\"} 0\n"
            "# HELP dnsguard_policy_generation Generation\n"
            "# TYPE dnsguard_policy_generation gauge\n"
            "dnsguard_policy_generation 7\n");
}

TEST(Prometheus, LabelValuesAreEscaped) {
  const auto text = render_prometheus({{"m", "", "counter", "h\nx", {{"list", "/a \"b\"\\c\n"}}, 1.5}});
  EXPECT_EQ(text, "# HELP m h\\nx\n# TYPE m counter\nm{list=\"/a \\\"b\\\"\\\\c\\n\"} 1.5\n");
}

}  // namespace
}  // namespace dnsguard::telemetry

namespace dnsguard::telemetry {
namespace {

TEST(LatencyHistogram, BucketsAreCumulativeWithSumAndCount) {
  LatencyHistogram h;
  h.record(std::chrono::microseconds(3));      // <= 5 us
  h.record(std::chrono::microseconds(5));      // <= 5 us: bounds are inclusive
  h.record(std::chrono::microseconds(40), 3);  // a batch of three, <= 50 us
  h.record(std::chrono::milliseconds(20));     // over the last bound: +Inf only
  const auto s = h.snapshot();
  EXPECT_EQ(s.cumulative[0], 2u);   // le 5us
  EXPECT_EQ(s.cumulative[2], 2u);   // le 25us
  EXPECT_EQ(s.cumulative[3], 5u);   // le 50us
  EXPECT_EQ(s.cumulative[10], 5u);  // le 10ms
  EXPECT_EQ(s.cumulative[11], 6u);  // +Inf
  EXPECT_EQ(s.count, 6u);
  EXPECT_NEAR(s.sum_seconds, 3e-6 + 5e-6 + 120e-6 + 0.02, 1e-9);
}

}  // namespace
}  // namespace dnsguard::telemetry
