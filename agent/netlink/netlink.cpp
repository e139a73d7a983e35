#include "netlink/netlink.hpp"

#include <ctime>

namespace dnsguard::netlink {

int request_with_ack(mnl_socket* nl, nlmsghdr* nlh) {
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  return request(nl, nlh, [](const nlmsghdr*) {});
}

}  // namespace dnsguard::netlink
