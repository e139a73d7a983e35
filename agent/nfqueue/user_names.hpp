#pragma once
// User names for the uids the kernel reports with packets, for events.

#include <cstdint>
#include <map>
#include <string>

namespace dnsguard::nfqueue {

// The user name of a uid ("" when it has none), remembered: NSS may read a file or ask
// a directory service. Not thread-safe: one per reader thread.
class UserNames {
 public:
  const std::string& of(uint32_t uid);

 private:
  std::map<uint32_t, std::string> names_;
};

}  // namespace dnsguard::nfqueue
