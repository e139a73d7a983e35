#pragma once
// DNS over TCP to designated resolvers, inspected as the resolver will read it. The
// compiler's nat rule redirects those connections to this proxy (127.0.0.1 and ::1,
// inspect.tcp_proxy_port); it reads each stream message by message whatever the
// segmentation (split at any byte, pipelined, retransmitted: the kernel's TCP has
// reassembled it), decides every message with the current engine, and opens its own
// connection, marked ir::kProxyMark, to the original destination. Allowed messages go on
// whole; a blocked one never reaches the resolver: the client gets the block answer on
// its stream (RFC 7766 lets answers come in any order), or the connection is closed for
// "drop". Answers from the resolver are relayed as they come.
//
// Bounded: at most kMaxConnections at once and kMaxPerOwner per uid; a new connection
// over either limit closes the idlest one of its own uid, or of the uid holding the most,
// so one process cannot shut the others out. One partial message and kMaxPending bytes
// each way per connection; a connection idle for kIdleTimeout is closed. The resolver's
// answers are read as messages too, so the proxy's own answers go between them. A flood of half-open handshakes stays in the kernel's
// listen backlog (and SYN cookies) and costs the proxy nothing.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/address.hpp"
#include "common/error.hpp"
#include "nfqueue/recorder.hpp"

namespace dnsguard::nfqueue {

class TcpProxy {
 public:
  static constexpr size_t kMaxConnections = 256;
  static constexpr size_t kMaxPerOwner = 32;  // per uid (or source address, when not local)
  static constexpr size_t kMaxPending = 64 * 1024;
  static constexpr std::chrono::seconds kIdleTimeout{20};

  TcpProxy(InspectorCounters& counters, telemetry::EventLog* events, nflog::UserNameCache& users,
           inspect::DecisionState& decisions);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  // Serves `port` with `installed`, proxying only to `upstreams` (port 53). Binds new
  // listeners first when the port changes: on failure nothing changes.
  Status configure(std::shared_ptr<const InstalledEngine> installed, uint16_t port, std::vector<IpPrefix> upstreams);
  void stop();
  bool running() const { return thread_.joinable(); }
  size_t connections() const { return open_connections_.load(std::memory_order_relaxed); }

 private:
  struct Config {
    std::shared_ptr<const InstalledEngine> installed;
    std::vector<IpPrefix> upstreams;
  };
  class Loop;

  InspectorCounters& counters_;
  telemetry::EventLog* events_;
  nflog::UserNameCache& users_;
  inspect::DecisionState& decisions_;
  std::mutex mutex_;  // guards config_
  std::shared_ptr<const Config> config_;
  std::atomic<uint64_t> config_version_{0};
  std::atomic<size_t> open_connections_{0};
  uint16_t port_ = 0;
  std::unique_ptr<Loop> loop_;
  std::thread thread_;
};

}  // namespace dnsguard::nfqueue
