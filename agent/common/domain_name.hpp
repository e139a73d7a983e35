#pragma once
// The one spelling of a domain name that policies and block lists accept: lower-cased,
// without a trailing dot, labels of 1-63 letters, digits, '-' or '_', 253 octets at
// most, and "*." only as a leading wildcard.

#include <optional>
#include <string>
#include <string_view>

namespace dnsguard {

// A byte a host name label may hold once lower-cased: a-z, 0-9, '-' and '_'.
inline bool is_hostname_byte(char ch) {
  const auto c = static_cast<unsigned char>(ch);
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// `text` normalized as above; nullopt when it is not a domain name.
std::optional<std::string> normalize_domain(std::string_view text);

// What normalize_domain accepts, in words for error messages.
inline constexpr std::string_view kDomainNameRule =
    "labels of 1-63 letters, digits, '-' or '_'; \"*.\" only as a leading wildcard";

}  // namespace dnsguard
