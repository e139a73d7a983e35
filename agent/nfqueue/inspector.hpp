#pragma once
// The inspector's packet path: one thread per NFQUEUE queue, reading queued packets
// over libmnl/libnetfilter_queue and handing each to decide_packet() (nfqueue/decision),
// then answering blocked queries on the spot (a UDP response injected from the
// resolver's address, or a TCP reset for forwarded TCP). Verdicts for consecutive
// accepted packets go back as one batch verdict. TCP DNS from this host goes to the TCP
// proxy (nfqueue/tcp_proxy) instead. A new engine is swapped in without stopping the
// threads, so no packet in flight is lost on apply.

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "inspect/engine.hpp"
#include "inspect/runtime.hpp"
#include "nfqueue/recorder.hpp"
#include "nfqueue/tcp_proxy.hpp"
#include "telemetry/dnstap.hpp"
#include "telemetry/event_log.hpp"
#include "telemetry/histogram.hpp"

namespace dnsguard::nfqueue {

struct QueueCounters {
  uint16_t queue = 0;
  uint64_t kernel_dropped = 0;  // queue full (without fail-open)
  uint64_t user_dropped = 0;    // could not be delivered to us (socket buffer full)
};

struct InspectorStats {
  uint64_t packets = 0;
  uint64_t batches = 0;  // reads from the queue sockets; packets / batches = batch size
  std::array<uint64_t, inspect::kActionCount> actions{};
  std::array<uint64_t, inspect::kReasonCount> reasons{};
  std::map<std::string, uint64_t> lists;  // block list path -> names blocked
  uint64_t answers_injected = 0;
  uint64_t tunnel_detections = 0;
  size_t tunnel_accounts = 0;  // (client, registered domain) accounts the detector holds
  uint64_t tcp_resets = 0;
  uint64_t inject_errors = 0;
  uint64_t enobufs = 0;
  uint64_t errors = 0;  // packets dropped because deciding them threw (out of memory)
  uint64_t tcp_connections = 0;  // TCP DNS connections the proxy took
  uint64_t tcp_refused = 0;      // connections to the proxy closed at once
  uint64_t tcp_evicted = 0;      // idle connections closed to make room
  size_t tcp_open = 0;
  uint64_t dnstap_written = 0;
  uint64_t dnstap_dropped = 0;
  std::vector<QueueCounters> queues;
  // How long packets spent in the inspector: from the read that took them to the
  // system call that sent their verdicts.
  telemetry::LatencyHistogram::Snapshot latency;
};

struct InspectorOptions {
  bool batch_verdicts = true;  // off only to measure the one-verdict-per-packet baseline
  uint32_t queue_max_len = 8192;
  uint32_t copy_range = 2048;  // bytes of each packet copied to us: headers and the query
  int receive_buffer = 16 << 20;
  // Where decisions other than a plain accept are reported (sampled per queue thread).
  telemetry::EventLog* events = nullptr;
};

class Inspector final : public inspect::Runtime {
 public:
  explicit Inspector(InspectorOptions options = {});
  ~Inspector() override;
  Inspector(const Inspector&) = delete;
  Inspector& operator=(const Inspector&) = delete;

  // Installs `engine` and makes queues 0..queues-1 served. Threads already running keep
  // running and pick the new engine up before their next packet. Fails (changing
  // nothing) when a queue cannot be bound, e.g. another process serves it. Never waits
  // on a queue thread while holding what a queue thread takes.
  Status configure(std::shared_ptr<const inspect::Engine> engine, uint16_t queues, bool fail_open) override;
  // Stops the threads of queues `queues` and up.
  void shrink(uint16_t queues) override;
  // Unbinds every queue and stops the threads.
  void stop() override;
  bool running() const;
  InspectorStats stats() const;
  // stats() as named counters, for `dnsguardctl stats`.
  std::vector<inspect::RuntimeCounter> counters() const override;

 private:
  class QueueThread;

  std::shared_ptr<const InstalledEngine> current() const;

  InspectorOptions options_;
  // Serializes configure, shrink and stop; queue threads never take it, so it may be
  // held while joining them.
  std::mutex reconfigure_mutex_;
  // Guards what queue threads and readers share: installed_, threads_, list_hits_.
  mutable std::mutex mutex_;
  std::shared_ptr<const InstalledEngine> installed_;
  std::atomic<uint64_t> engine_version_{0};
  // Hits per list path since start: a thread still deciding with a retired engine adds
  // to the same counter, so no hit is lost on apply.
  std::map<std::string, InstalledEngine::HitCounter> list_hits_;
  std::vector<std::unique_ptr<QueueThread>> threads_;
  nflog::UserNameCache user_names_;
  InspectorCounters counters_;
  inspect::DecisionState decisions_;
  TcpProxy tcp_proxy_{counters_, options_.events, user_names_, decisions_};
};

}  // namespace dnsguard::nfqueue
