#pragma once
// IPv4/IPv6 addresses and prefixes as plain values: parsing, normalization checks,
// ordering and the interval arithmetic the compiler and the nft backend need.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dnsguard {

enum class AddressFamily : uint8_t { ipv4, ipv6 };

// An address in network byte order; IPv4 uses the first 4 bytes.
struct IpAddress {
  AddressFamily family = AddressFamily::ipv4;
  std::array<uint8_t, 16> bytes{};

  size_t size() const { return family == AddressFamily::ipv4 ? 4 : 16; }
  std::string to_string() const;
  auto operator<=>(const IpAddress&) const = default;
};

struct IpPrefix {
  IpAddress address;  // network address: no bits set past `length`
  uint8_t length = 0;

  AddressFamily family() const { return address.family; }
  uint8_t max_length() const { return address.family == AddressFamily::ipv4 ? 32 : 128; }
  bool is_host() const { return length == max_length(); }
  IpAddress first() const { return address; }
  IpAddress last() const;
  bool contains(const IpAddress& a) const;
  bool overlaps(const IpPrefix& other) const;
  // "192.0.2.53" for a host, "192.0.2.0/24" otherwise.
  std::string to_string() const;
  auto operator<=>(const IpPrefix&) const = default;
};

enum class PrefixParseError : uint8_t { not_an_address, bad_length, host_bits_set };

struct PrefixParse {
  std::optional<IpPrefix> prefix;
  PrefixParseError error = PrefixParseError::not_an_address;
  // For host_bits_set: the prefix the user most likely meant ("192.0.2.0/24").
  std::optional<IpPrefix> suggestion;
};

// Parses "192.0.2.53", "192.0.2.0/24", "fd00::53", "fd00::/8". A prefix with bits set
// past its length (192.0.2.7/24) is rejected rather than silently widened.
PrefixParse parse_prefix(std::string_view text);

// An inclusive address range [first, last] in one family.
struct IpRange {
  IpAddress first;
  IpAddress last;
};

// a + 1; nullopt when a is the family's last address.
std::optional<IpAddress> next_address(const IpAddress& a);

}  // namespace dnsguard
