#pragma once
// Answers the inspector makes up (and resets it sends) leave through raw sockets, as
// if from the resolver: the packets come whole from build_injection().

#include <cstdint>
#include <span>

#include "common/address.hpp"
#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace dnsguard::nfqueue {

class AnswerInjector {
 public:
  // Opens the IPv4 and IPv6 raw sockets (CAP_NET_RAW).
  Status open();
  // Sends one whole IP packet to `to`; false when the kernel refused it.
  bool send(const IpAddress& to, std::span<const uint8_t> packet) const;

 private:
  UniqueFd raw4_, raw6_;
};

}  // namespace dnsguard::nfqueue
