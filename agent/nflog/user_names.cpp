#include "nflog/user_names.hpp"

#include <pwd.h>

#include <array>

namespace dnsguard::nflog {
namespace {

constexpr size_t kMaxNames = 1024;  // bounded: uids seen are normally few

std::string lookup(uint32_t uid) {
  passwd entry{};
  passwd* found = nullptr;
  std::array<char, 4096> buffer{};
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) return found->pw_name;
  return {};
}

}  // namespace

const std::string& UserNames::of(uint32_t uid) {
  if (auto it = names_.find(uid); it != names_.end()) return it->second;
  if (names_.size() >= kMaxNames) names_.clear();
  return names_.emplace(uid, lookup(uid)).first->second;
}

UserNameCache::UserNameCache() : thread_([this] { run(); }) {}

UserNameCache::~UserNameCache() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  wanted_.notify_one();
  thread_.join();
}

std::string UserNameCache::cached(uint32_t uid) {
  std::lock_guard lock(mutex_);
  if (auto it = names_.find(uid); it != names_.end()) return it->second;
  if (pending_.size() < kMaxNames && pending_.insert(uid).second) wanted_.notify_one();
  return {};
}

void UserNameCache::run() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    wanted_.wait(lock, [&] { return stop_ || !pending_.empty(); });
    while (!stop_ && !pending_.empty()) {
      const uint32_t uid = *pending_.begin();
      lock.unlock();
      std::string name = lookup(uid);
      lock.lock();
      pending_.erase(uid);
      if (names_.size() >= kMaxNames) names_.clear();
      names_[uid] = std::move(name);
    }
  }
}

}  // namespace dnsguard::nflog
