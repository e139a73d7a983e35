#include "nfqueue/netlink.hpp"

#include <libmnl/libmnl.h>
#include <pwd.h>

#include <array>
#include <cerrno>
#include <ctime>

namespace dnsguard::nfqueue {

void NetlinkSocketCloser::operator()(mnl_socket* s) const { mnl_socket_close(s); }

int request_with_ack(mnl_socket* nl, nlmsghdr* nlh) {
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = static_cast<uint32_t>(time(nullptr));
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) return errno;
  char buf[MNL_SOCKET_BUFFER_SIZE];
  const ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
  if (n < 0) return errno;
  if (mnl_cb_run(buf, static_cast<size_t>(n), nlh->nlmsg_seq, mnl_socket_get_portid(nl), nullptr, nullptr) < 0)
    return errno;
  return 0;
}

const std::string& UserNames::of(uint32_t uid) {
  if (auto it = names_.find(uid); it != names_.end()) return it->second;
  if (names_.size() >= 1024) names_.clear();  // bounded: uids seen are normally few
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  std::string name;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) name = found->pw_name;
  return names_.emplace(uid, std::move(name)).first->second;
}

}  // namespace dnsguard::nfqueue
