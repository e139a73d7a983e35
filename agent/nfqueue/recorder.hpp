#pragma once
// What the inspector keeps of its decisions: shared counters, dnstap frames and sampled
// events. The queue threads and the TCP proxy each own a DecisionRecorder; they share
// the counters and the installed engine.

#include <array>
#include <atomic>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "inspect/engine.hpp"
#include "nfqueue/decision.hpp"
#include "nflog/user_names.hpp"
#include "telemetry/dnstap.hpp"
#include "telemetry/event_log.hpp"
#include "telemetry/histogram.hpp"

namespace dnsguard::nfqueue {

// dnstap input lanes: one per queue thread, and one for the TCP proxy.
inline constexpr size_t kProxyDnstapLane = policy::kMaxInspectQueues;
inline constexpr size_t kDnstapLanes = policy::kMaxInspectQueues + 1;

// An engine as the packet path uses it.
struct InstalledEngine {
  using HitCounter = std::shared_ptr<std::atomic<uint64_t>>;
  std::shared_ptr<const inspect::Engine> engine;
  std::vector<HitCounter> list_hits;  // by list index; shared by engines naming the same list
  std::shared_ptr<telemetry::DnstapWriter> dnstap;  // null when [telemetry] dnstap is off
};

struct InspectorCounters {
  std::atomic<uint64_t> packets{0};
  std::atomic<uint64_t> batches{0};
  std::array<std::atomic<uint64_t>, inspect::kActionCount> actions{};
  std::array<std::atomic<uint64_t>, inspect::kReasonCount> reasons{};
  std::atomic<uint64_t> injected{0};
  std::atomic<uint64_t> tunnel_detections{0};
  std::atomic<uint64_t> resets{0};
  std::atomic<uint64_t> inject_errors{0};
  std::atomic<uint64_t> enobufs{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<uint64_t> tcp_connections{0};  // accepted by the TCP proxy
  std::atomic<uint64_t> tcp_refused{0};      // closed at once: not redirected to a designated resolver
  std::atomic<uint64_t> tcp_evicted{0};      // closed to make room for a new one
  telemetry::LatencyHistogram latency;
};

// A name in DNS presentation style: printable ASCII as it is, other bytes as \DDD, so a
// tunnel's binary labels can go into JSON.
std::string presentation(std::string_view name);

class DecisionRecorder final : public MessageObserver {
 public:
  DecisionRecorder(InspectorCounters& counters, telemetry::EventLog* events, nflog::UserNameCache& users, size_t dnstap_lane)
      : counters_(counters), events_(events), users_(users), lane_(dnstap_lane) {}

  // Before deciding a batch (or one message, for the proxy).
  void begin(const InstalledEngine& installed, inspect::SteadyClock::time_point now);
  // The local user of the packet about to be decided, for its events.
  void set_uid(std::optional<uint32_t> uid) { uid_ = uid; }
  void on_message(const PacketView* view, const MessageDecision& m) override;
  // The answer the agent gave in place of the resolver (dnstap).
  void answered(const PacketView& view, std::span<const uint8_t> query, std::span<const uint8_t> answer);
  // After a batch, and when idle: what the sampler held back goes out as one summary.
  void flush_suppressed(inspect::SteadyClock::time_point now);

 private:
  static bool is_reported(const inspect::Verdict& v);
  void report(const inspect::Verdict& v, const PacketView* view, const dns::Query* query, dns::ParseError error,
              bool tcp);

  InspectorCounters& counters_;
  telemetry::EventLog* events_;
  nflog::UserNameCache& users_;
  const size_t lane_;
  const InstalledEngine* installed_ = nullptr;
  inspect::SteadyClock::time_point now_{};
  timespec wall_now_{};  // the same instant, for dnstap
  std::optional<uint32_t> uid_;
  telemetry::EventSampler sampler_;
  // Tunnel detections draw on their own budget: a flood of blocked queries must not
  // hide one (an attacker could send it for exactly that), and a flood of detections
  // (one per new domain) stays bounded.
  telemetry::EventSampler detection_sampler_{10, 50};
  uint64_t pending_suppressed_ = 0;
};

}  // namespace dnsguard::nfqueue
