#pragma once
// What the controller needs from the inspector's packet path (nfqueue::Inspector is the
// real one; tests substitute their own).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "inspect/engine.hpp"

namespace dnsguard::inspect {

struct RuntimeCounter {
  std::string name;  // for `dnsguardctl stats`
  std::string description;
  uint64_t value = 0;
  // The same count for Prometheus: a metric family and its labels.
  std::string metric;
  std::vector<std::pair<std::string, std::string>> labels;
  std::string type = "counter";  // counter | gauge (a level, not a running total) | histogram
  std::string suffix;            // histograms: "_bucket", "_sum" or "_count"
  std::optional<double> metric_value;  // when the metric differs from `value` (a sum in seconds)
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // Serves queues 0..queues-1 (at least) with `engine`, swapping it in without dropping
  // packets. A transaction: when a new queue cannot be bound, nothing changes. Queues
  // beyond `queues` keep running until shrink(), which the controller calls once the
  // rules no longer send packets to them.
  virtual Status configure(std::shared_ptr<const Engine> engine, uint16_t queues, bool fail_open) = 0;
  virtual void shrink(uint16_t queues) = 0;
  virtual void stop() = 0;
  virtual std::vector<RuntimeCounter> counters() const = 0;
};

}  // namespace dnsguard::inspect
