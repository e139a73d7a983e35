#pragma once
// Prometheus text exposition (format 0.0.4) of a snapshot of samples: pure, so the
// format is unit-tested; the HTTP endpoint only serves what this renders.

#include <string>
#include <utility>
#include <vector>

namespace dnsguard::telemetry {

struct Sample {
  std::string family;  // metric family, e.g. "dnsguard_rule_packets_total"
  std::string suffix;  // "" or, in histograms, "_bucket" / "_sum" / "_count"
  std::string type;    // counter | gauge | histogram
  std::string help;
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

// One HELP and TYPE line per family (in order of first appearance), then its samples;
// label values escaped as the format requires.
std::string render_prometheus(const std::vector<Sample>& samples);

}  // namespace dnsguard::telemetry
