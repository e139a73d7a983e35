#include <pwd.h>

#include <array>
#include <charconv>
#include <utility>

#include "policy/policy.hpp"

namespace dnsguard::policy {

std::string_view to_string(Protocol p) {
  switch (p) {
    case Protocol::udp: return "udp";
    case Protocol::tcp: return "tcp";
    case Protocol::dot: return "dot";
  }
  return "?";
}

std::string_view to_string(EgressDefault d) {
  return d == EgressDefault::deny ? "deny" : "monitor";
}

std::string_view to_string(DenyAction a) { return a == DenyAction::reject ? "reject" : "drop"; }

std::optional<uint32_t> lookup_system_user(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found)
    return std::nullopt;
  return found->pw_uid;
}

std::optional<uint16_t> parse_qtype(std::string_view mnemonic) {
  static constexpr std::pair<std::string_view, uint16_t> kTypes[] = {
      {"A", 1},        {"NS", 2},      {"CNAME", 5},   {"SOA", 6},       {"NULL", 10},
      {"WKS", 11},     {"PTR", 12},    {"HINFO", 13},  {"MX", 15},       {"TXT", 16},
      {"AAAA", 28},    {"LOC", 29},    {"SRV", 33},    {"NAPTR", 35},    {"CERT", 37},
      {"DNAME", 39},   {"OPT", 41},    {"DS", 43},     {"SSHFP", 44},    {"RRSIG", 46},
      {"NSEC", 47},    {"DNSKEY", 48}, {"NSEC3", 50},  {"TLSA", 52},     {"HIP", 55},
      {"CDS", 59},     {"CDNSKEY", 60}, {"SVCB", 64},  {"HTTPS", 65},    {"SPF", 99},
      {"IXFR", 251},   {"AXFR", 252},  {"ANY", 255},   {"URI", 256},     {"CAA", 257},
  };
  std::string upper(mnemonic);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& [name, number] : kTypes)
    if (upper == name) return number;
  // RFC 3597 generic form: TYPE123
  if (upper.size() > 4 && upper.starts_with("TYPE")) {
    unsigned value = 0;
    const char* first = upper.data() + 4;
    const char* last = upper.data() + upper.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc{} && ptr == last && value <= 65535) return static_cast<uint16_t>(value);
  }
  return std::nullopt;
}

std::optional<uint8_t> parse_opcode(std::string_view mnemonic) {
  static constexpr std::pair<std::string_view, uint8_t> kOpcodes[] = {
      {"QUERY", 0}, {"IQUERY", 1}, {"STATUS", 2}, {"NOTIFY", 4}, {"UPDATE", 5}, {"DSO", 6}};
  std::string upper(mnemonic);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& [name, number] : kOpcodes)
    if (upper == name) return number;
  if (upper.size() > 6 && upper.starts_with("OPCODE")) {
    unsigned value = 0;
    const char* first = upper.data() + 6;
    const char* last = upper.data() + upper.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc{} && ptr == last && value <= 15) return static_cast<uint8_t>(value);
  }
  return std::nullopt;
}

}  // namespace dnsguard::policy
