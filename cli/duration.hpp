#pragma once
// "90", "90s", "5m", "2h" as seconds, for --confirm-within and --timeout.

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace dnsguard::cli {

inline std::optional<uint32_t> parse_duration(std::string_view s) {
  uint32_t n = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc{} || ptr == s.data()) return std::nullopt;
  const std::string_view unit(ptr, static_cast<size_t>(s.data() + s.size() - ptr));
  if (unit.empty() || unit == "s") return n;
  if (unit == "m") return n * 60;
  if (unit == "h") return n * 3600;
  return std::nullopt;
}

}  // namespace dnsguard::cli
