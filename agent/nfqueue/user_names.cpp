#include "nfqueue/user_names.hpp"

#include <pwd.h>

#include <array>

namespace dnsguard::nfqueue {

const std::string& UserNames::of(uint32_t uid) {
  if (auto it = names_.find(uid); it != names_.end()) return it->second;
  if (names_.size() >= 1024) names_.clear();  // bounded: uids seen are normally few
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  std::string name;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) name = found->pw_name;
  return names_.emplace(uid, std::move(name)).first->second;
}

}  // namespace dnsguard::nfqueue
