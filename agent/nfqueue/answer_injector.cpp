#include "nfqueue/answer_injector.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace dnsguard::nfqueue {

Status AnswerInjector::open() {
  raw4_ = UniqueFd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  raw6_ = UniqueFd(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
  if (raw4_.get() < 0 || raw6_.get() < 0)
    return make_error(std::string("cannot open raw sockets to answer queries: ") + std::strerror(errno));
  return ok_status();
}

bool AnswerInjector::send(const IpAddress& to, std::span<const uint8_t> packet) const {
  ssize_t sent = -1;
  if (to.family == AddressFamily::ipv4) {
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    std::memcpy(&dst.sin_addr, to.bytes.data(), 4);
    sent = sendto(raw4_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  } else {
    sockaddr_in6 dst{};
    dst.sin6_family = AF_INET6;
    std::memcpy(&dst.sin6_addr, to.bytes.data(), 16);
    sent = sendto(raw6_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
  }
  return sent >= 0;
}

}  // namespace dnsguard::nfqueue
