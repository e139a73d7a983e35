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

namespace {

// A mnemonic from `names` (any case), or the generic form PREFIX<number> up to `max`
// (RFC 3597's TYPE123; OPCODE7).
template <typename Number, size_t N>
std::optional<Number> parse_mnemonic(std::string_view mnemonic, const std::pair<std::string_view, Number> (&names)[N],
                                     std::string_view generic_prefix, unsigned max) {
  std::string upper(mnemonic);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  for (const auto& [name, number] : names)
    if (upper == name) return number;
  if (upper.size() > generic_prefix.size() && upper.starts_with(generic_prefix)) {
    unsigned value = 0;
    const char* first = upper.data() + generic_prefix.size();
    const char* last = upper.data() + upper.size();
    auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec == std::errc{} && ptr == last && value <= max) return static_cast<Number>(value);
  }
  return std::nullopt;
}

}  // namespace

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
  return parse_mnemonic(mnemonic, kTypes, "TYPE", 65535);
}

std::optional<uint8_t> parse_opcode(std::string_view mnemonic) {
  static constexpr std::pair<std::string_view, uint8_t> kOpcodes[] = {
      {"QUERY", 0}, {"IQUERY", 1}, {"STATUS", 2}, {"NOTIFY", 4}, {"UPDATE", 5}, {"DSO", 6}};
  return parse_mnemonic(mnemonic, kOpcodes, "OPCODE", 15);
}

}  // namespace dnsguard::policy
