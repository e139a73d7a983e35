#pragma once
// Denied attempts seen by the kernel rules: the deny rules log (rate-limited in the rule)
// to NFLOG group 53; this reader turns each logged packet into a "bypass" event naming
// the destination, the protocol, the rule's counter and the socket's user - who tried to
// reach a rogue resolver, DoT or DoH endpoint.

#include <atomic>
#include <cstdint>
#include <thread>

#include "common/error.hpp"
#include "netlink/netlink.hpp"
#include "telemetry/event_log.hpp"

namespace dnsguard::nflog {

class DeniedAttemptLog {
 public:
  DeniedAttemptLog(telemetry::EventLog& events, uint16_t group);
  ~DeniedAttemptLog();
  DeniedAttemptLog(const DeniedAttemptLog&) = delete;
  DeniedAttemptLog& operator=(const DeniedAttemptLog&) = delete;

  // Binds the group and starts reading; fails when another listener holds the group.
  Status start();
  void stop();

 private:
  void run();

  telemetry::EventLog& events_;
  const uint16_t group_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  netlink::Socket socket_;
};

}  // namespace dnsguard::nflog
