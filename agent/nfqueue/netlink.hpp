#pragma once
// What the queue reader and the NFLOG reader share: an owned libmnl socket, a
// configuration request that waits for the kernel's answer, and user names for uids.

#include <cstdint>
#include <map>
#include <memory>
#include <string>

struct mnl_socket;  // libmnl's, kept out of this header
struct nlmsghdr;

namespace dnsguard::nfqueue {

struct NetlinkSocketCloser {
  void operator()(mnl_socket* s) const;
};
using NetlinkSocket = std::unique_ptr<mnl_socket, NetlinkSocketCloser>;

// Sends one request with NLM_F_ACK and waits for the kernel's answer: 0 or its errno.
int request_with_ack(mnl_socket* nl, nlmsghdr* nlh);

// The user name of a uid ("" when it has none), remembered: NSS may read a file or ask
// a directory service. Not thread-safe: one per reader thread.
class UserNames {
 public:
  const std::string& of(uint32_t uid);

 private:
  std::map<uint32_t, std::string> names_;
};

}  // namespace dnsguard::nfqueue
