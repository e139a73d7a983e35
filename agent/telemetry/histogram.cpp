#include "telemetry/histogram.hpp"

#include <algorithm>

namespace dnsguard::telemetry {

void LatencyHistogram::record(std::chrono::nanoseconds latency, uint64_t count) {
  const auto nanos = static_cast<uint64_t>(std::max<int64_t>(0, latency.count()));
  const uint64_t micros_ceiling = (nanos + 999) / 1000;
  const auto bucket = static_cast<size_t>(
      std::lower_bound(kBoundsMicros.begin(), kBoundsMicros.end(), micros_ceiling) - kBoundsMicros.begin());
  buckets_[bucket].fetch_add(count, std::memory_order_relaxed);
  sum_nanos_.fetch_add(nanos * count, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot s;
  uint64_t running = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
  return s;
}

}  // namespace dnsguard::telemetry
