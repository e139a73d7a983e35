#pragma once
// What every part of the agent that talks netlink shares: an owned libmnl socket and a
// request that reads the kernel's replies up to its acknowledgement (or the end of a dump).

#include <libmnl/libmnl.h>

#include <cerrno>
#include <cstdint>
#include <memory>
#include <vector>

namespace dnsguard::netlink {

struct SocketCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using Socket = std::unique_ptr<mnl_socket, SocketCloser>;

// Sends one request and hands each reply message to `on_message`, until the kernel's
// acknowledgement or the end of a dump. Returns 0 or the errno the kernel (or the
// socket) reported.
template <typename OnMessage>
int request(mnl_socket* nl, nlmsghdr* nlh, OnMessage&& on_message) {
  const uint32_t portid = mnl_socket_get_portid(nl);
  const uint32_t seq = nlh->nlmsg_seq;
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return errno;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 8);
  struct Context {
    OnMessage* handler;
  } ctx{&on_message};
  for (;;) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
    if (n < 0) return errno;
    const int rc = mnl_cb_run(
        buf.data(), static_cast<size_t>(n), seq, portid,
        [](const nlmsghdr* m, void* data) -> int {
          (*static_cast<Context*>(data)->handler)(m);
          return MNL_CB_OK;
        },
        &ctx);
    if (rc < 0) return errno;
    if (rc == MNL_CB_STOP) return 0;
  }
}

// A configuration request: asks for the acknowledgement and waits for it.
int request_with_ack(mnl_socket* nl, nlmsghdr* nlh);

}  // namespace dnsguard::netlink
