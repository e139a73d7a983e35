#pragma once
// Who owns a local TCP socket, from the kernel's socket table (NETLINK_SOCK_DIAG): the
// TCP proxy learns the uid of the process behind a redirected connection, as the queue
// learns it from NFQA_UID.

#include <cstdint>
#include <optional>

#include "common/address.hpp"
#include "netlink/netlink.hpp"

namespace dnsguard::netlink {

class SocketOwners {
 public:
  SocketOwners();
  // The uid of the TCP socket connected from `local`:`local_port` to `remote`:
  // `remote_port` (as that socket sees it); nullopt when the kernel does not say.
  std::optional<uint32_t> tcp_uid(const IpAddress& local, uint16_t local_port, const IpAddress& remote,
                                  uint16_t remote_port);

 private:
  Socket nl_;
};

}  // namespace dnsguard::netlink
