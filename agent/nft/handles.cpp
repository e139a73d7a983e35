#include "nft/handles.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dnsguard::nft {

std::string errno_text(int err) { return std::strerror(err); }

Result<Socket> open_socket() {
  Socket nl(mnl_socket_open(NETLINK_NETFILTER));
  if (!nl) return make_error("cannot open a netfilter netlink socket: " + errno_text(errno));
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return make_error("cannot bind the netfilter netlink socket: " + errno_text(errno));
  int on = 1;
  // Errors without an echo of our (possibly huge) request, plus the kernel's text.
  mnl_socket_setsockopt(nl.get(), NETLINK_CAP_ACK, &on, sizeof on);
  mnl_socket_setsockopt(nl.get(), NETLINK_EXT_ACK, &on, sizeof on);
  return nl;
}

void grow_buffer(int fd, int force_opt, int opt, size_t size) {
  const int value = static_cast<int>(std::min<size_t>(size, INT32_MAX / 2));
  if (setsockopt(fd, SOL_SOCKET, force_opt, &value, sizeof value) < 0)
    setsockopt(fd, SOL_SOCKET, opt, &value, sizeof value);
}


nlmsghdr* get_header(std::vector<char>& buf, uint16_t type, uint16_t flags, uint32_t seq) {
  return nftnl_nlmsg_build_hdr(buf.data(), type, NFPROTO_INET, flags, seq);
}

}  // namespace dnsguard::nft
