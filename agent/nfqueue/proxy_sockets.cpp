#include "nfqueue/proxy_sockets.hpp"

#include <arpa/inet.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace dnsguard::nfqueue {

std::string errno_text() { return std::strerror(errno); }

unsigned unprivileged_port_start() {
  unsigned value = 1024;
  if (FILE* f = std::fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r")) {
    if (std::fscanf(f, "%u", &value) != 1) value = 1024;
    std::fclose(f);
  }
  return value;
}

Result<UniqueFd> listen_on(AddressFamily family, uint16_t port) {
  const bool v4 = family == AddressFamily::ipv4;
  UniqueFd fd(socket(v4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return make_error("cannot open the TCP proxy's socket: " + errno_text());
  const int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  int rc;
  if (v4) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_loopback;
    rc = bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    if (rc < 0 && errno == EADDRNOTAVAIL) return UniqueFd();
  }
  if (rc < 0)
    return make_error("cannot listen on " + std::string(v4 ? "127.0.0.1" : "[::1]") + ":" + std::to_string(port) +
                      " for the TCP proxy (inspect.tcp_proxy_port): " + errno_text());
  if (listen(fd.get(), 128) < 0) return make_error("cannot listen for the TCP proxy: " + errno_text());
  return fd;
}

std::pair<IpAddress, uint16_t> endpoint_of(const sockaddr_storage& s) {
  IpAddress a;
  if (s.ss_family == AF_INET) {
    const auto& in = reinterpret_cast<const sockaddr_in&>(s);
    a.family = AddressFamily::ipv4;
    std::memcpy(a.bytes.data(), &in.sin_addr, 4);
    return {a, ntohs(in.sin_port)};
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(s);
  a.family = AddressFamily::ipv6;
  std::memcpy(a.bytes.data(), &in6.sin6_addr, 16);
  return {a, ntohs(in6.sin6_port)};
}

bool original_destination(int fd, sa_family_t family, sockaddr_storage& out) {
  socklen_t len = sizeof out;
  if (family == AF_INET) return getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &out, &len) == 0;
  return getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &out, &len) == 0;
}

bool send_all(int fd, std::vector<uint8_t>& pending) {
  size_t sent = 0;
  while (sent < pending.size()) {
    const ssize_t n = send(fd, pending.data() + sent, pending.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  pending.erase(pending.begin(), pending.begin() + static_cast<long>(sent));
  return true;
}

}  // namespace dnsguard::nfqueue
