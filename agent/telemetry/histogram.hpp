#pragma once
// A latency histogram for the packet path: fixed bucket bounds, relaxed atomic counts, so
// recording costs a few adds and never a lock. Readers get cumulative counts in the
// Prometheus shape (le buckets, sum, count).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace dnsguard::telemetry {

class LatencyHistogram {
 public:
  // Upper bounds in microseconds; the last bucket (+Inf) is implicit.
  static constexpr std::array<uint32_t, 11> kBoundsMicros = {5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};

  // Records `count` observations of `latency` (a batch of packets that waited as long).
  void record(std::chrono::nanoseconds latency, uint64_t count = 1);

  struct Snapshot {
    std::array<uint64_t, kBoundsMicros.size() + 1> cumulative{};  // last: +Inf = count
    uint64_t count = 0;
    double sum_seconds = 0;
  };
  Snapshot snapshot() const;

 private:
  std::array<std::atomic<uint64_t>, kBoundsMicros.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_nanos_{0};
};

}  // namespace dnsguard::telemetry
