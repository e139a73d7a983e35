#pragma once
// The Prometheus endpoint: GET /metrics on [telemetry] metrics (HOST:PORT), served by
// libmicrohttpd on a thread of its own; each request renders a fresh snapshot.

#include <functional>
#include <string>

#include "common/error.hpp"

struct MHD_Daemon;

namespace dnsguard::daemon {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  ~MetricsServer() { stop(); }

  // Serves `render()` at http://ADDRESS/metrics; replaces a server already running.
  Status start(const std::string& address, Render render);
  void stop();
  const std::string& address() const { return address_; }

 private:
  MHD_Daemon* daemon_ = nullptr;
  std::string address_;
  Render render_;
};

}  // namespace dnsguard::daemon
