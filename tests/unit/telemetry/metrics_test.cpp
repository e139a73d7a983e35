#include "telemetry/metrics.hpp"

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
