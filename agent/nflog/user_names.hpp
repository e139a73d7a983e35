#pragma once
// User names for the uids the kernel reports with packets, for events.

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

namespace dnsguard::nflog {

// The user name of a uid ("" when it has none), remembered: NSS may read a file or ask
// a directory service. Not thread-safe: one per reader thread, off the packet path.
class UserNames {
 public:
  const std::string& of(uint32_t uid);

 private:
  std::map<uint32_t, std::string> names_;
};

// For the packet path: cached() never waits on NSS (which may ask LDAP over the
// network). A uid not known yet is looked up by a thread of its own, and events name it
// from then on.
class UserNameCache {
 public:
  UserNameCache();
  ~UserNameCache();
  UserNameCache(const UserNameCache&) = delete;
  UserNameCache& operator=(const UserNameCache&) = delete;

  std::string cached(uint32_t uid);

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wanted_;
  std::map<uint32_t, std::string> names_;
  std::set<uint32_t> pending_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace dnsguard::nflog
