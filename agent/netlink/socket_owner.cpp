#include "netlink/socket_owner.hpp"

#include <linux/inet_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <ctime>

namespace dnsguard::netlink {

SocketOwners::SocketOwners() : nl_(mnl_socket_open(NETLINK_SOCK_DIAG)) {
  if (nl_ && mnl_socket_bind(nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0) nl_.reset();
}

std::optional<uint32_t> SocketOwners::tcp_uid(const IpAddress& local, uint16_t local_port, const IpAddress& remote,
                                              uint16_t remote_port) {
  if (!nl_ || local.family != remote.family) return std::nullopt;
  std::array<char, 512> buf{};  // the request: a header and an inet_diag_req_v2
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;  // the ACK ends the reply
  nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  auto* req = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
  req->sdiag_family = local.family == AddressFamily::ipv4 ? AF_INET : AF_INET6;
  req->sdiag_protocol = IPPROTO_TCP;
  req->idiag_states = ~0u;
  req->id.idiag_sport = htons(local_port);
  req->id.idiag_dport = htons(remote_port);
  std::memcpy(req->id.idiag_src, local.bytes.data(), local.size());
  std::memcpy(req->id.idiag_dst, remote.bytes.data(), remote.size());
  req->id.idiag_cookie[0] = req->id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  std::optional<uint32_t> uid;
  // An exact lookup: one inet_diag_msg, or an error when there is no such socket.
  const int err = request(nl_.get(), nlh, [&](const nlmsghdr* m) {
    if (m->nlmsg_type != SOCK_DIAG_BY_FAMILY || m->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) return;
    const auto* msg = static_cast<const inet_diag_msg*>(mnl_nlmsg_get_payload(m));
    // A socket its process has closed already is a kernel TIME_WAIT or FIN_WAIT2
    // remnant that reports uid 0: it says nothing about who connected.
    if (msg->idiag_inode == 0 || msg->idiag_state == 6 /* TIME_WAIT */ || msg->idiag_state == 5 /* FIN_WAIT2 */)
      return;
    uid = msg->idiag_uid;
  });
  if (err != 0) return std::nullopt;
  return uid;
}

}  // namespace dnsguard::netlink
