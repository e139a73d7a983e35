#include "common/address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace dnsguard {

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family == AddressFamily::ipv4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

namespace {

// Keeps the first `length` bits of `a`; sets the rest to `fill` (0 or 1). Byte-wise:
// overlap checks of a million prefixes call this millions of times.
IpAddress with_host_bits(IpAddress a, uint8_t length, bool fill) {
  const size_t bytes = a.size();
  size_t i = length / 8;
  if (i < bytes && length % 8 != 0) {
    const auto host_mask = static_cast<uint8_t>(0xFFu >> (length % 8));
    a.bytes[i] = fill ? static_cast<uint8_t>(a.bytes[i] | host_mask) : static_cast<uint8_t>(a.bytes[i] & ~host_mask);
    ++i;
  }
  for (; i < bytes; ++i) a.bytes[i] = fill ? 0xFF : 0x00;
  return a;
}

}  // namespace

IpAddress IpPrefix::last() const { return with_host_bits(address, length, true); }

bool IpPrefix::contains(const IpAddress& a) const {
  return a.family == family() && with_host_bits(a, length, false) == address;
}

bool IpPrefix::overlaps(const IpPrefix& other) const {
  if (other.family() != family()) return false;
  return length <= other.length ? contains(other.address) : other.contains(address);
}

std::string IpPrefix::to_string() const {
  if (is_host()) return address.to_string();
  return address.to_string() + '/' + std::to_string(length);
}

PrefixParse parse_prefix(std::string_view text) {
  PrefixParse result;
  const auto slash = text.find('/');
  const std::string addr_text(text.substr(0, slash));

  IpAddress addr;
  if (inet_pton(AF_INET, addr_text.c_str(), addr.bytes.data()) == 1) {
    addr.family = AddressFamily::ipv4;
  } else if (inet_pton(AF_INET6, addr_text.c_str(), addr.bytes.data()) == 1) {
    addr.family = AddressFamily::ipv6;
  } else {
    result.error = PrefixParseError::not_an_address;
    return result;
  }

  const unsigned max_length = addr.family == AddressFamily::ipv4 ? 32 : 128;
  unsigned length = max_length;
  if (slash != std::string_view::npos) {
    const auto digits = text.substr(slash + 1);
    const auto* end = digits.data() + digits.size();
    auto [ptr, ec] = std::from_chars(digits.data(), end, length);
    if (digits.empty() || ec != std::errc{} || ptr != end || length > max_length) {
      result.error = PrefixParseError::bad_length;
      return result;
    }
  }

  IpPrefix prefix{addr, static_cast<uint8_t>(length)};
  const IpAddress network = with_host_bits(addr, prefix.length, false);
  if (network != addr) {
    result.error = PrefixParseError::host_bits_set;
    result.suggestion = IpPrefix{network, prefix.length};
    return result;
  }
  result.prefix = prefix;
  return result;
}

std::optional<IpAddress> next_address(const IpAddress& a) {
  IpAddress next = a;
  for (size_t i = a.size(); i-- > 0;) {
    if (++next.bytes[i] != 0) return next;
  }
  return std::nullopt;  // wrapped around: `a` was the last address
}

}  // namespace dnsguard
