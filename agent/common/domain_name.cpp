#include "common/domain_name.hpp"

namespace dnsguard {

std::optional<std::string> normalize_domain(std::string_view text) {
  std::string name(text);
  for (auto& c : name)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (!name.empty() && name.back() == '.') name.pop_back();
  std::string_view rest = name;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (rest.empty() || rest.size() > 253) return std::nullopt;
  size_t label = 0;
  for (const char c : rest) {
    if (c == '.') {
      if (label == 0) return std::nullopt;  // an empty label
      label = 0;
    } else if (!is_hostname_byte(c) || ++label > 63) {
      return std::nullopt;
    }
  }
  if (label == 0) return std::nullopt;
  return name;
}

}  // namespace dnsguard
