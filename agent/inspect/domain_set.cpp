#include "inspect/domain_set.hpp"

namespace dnsguard::inspect {
namespace {

constexpr uint64_t kMultiplier = 0x100000001b3ULL * 2 + 1;  // odd, so the step is invertible

}  // namespace

uint64_t mix_hash(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h == 0 ? 1 : h;
}

uint64_t hash_name(std::string_view name) {
  uint64_t h = 0;
  for (size_t i = name.size(); i-- > 0;) h = h * kMultiplier + static_cast<uint8_t>(name[i]) + 1;
  return mix_hash(h);
}

void hash_suffixes(const dns::Name& name, std::array<uint64_t, 128>& out) {
  // The same polynomial as hash_name, four bytes a step where a label has them: the
  // chain of multiplications is what a byte at a time waits on, on every packet.
  constexpr uint64_t k1 = kMultiplier, k2 = k1 * k1, k3 = k2 * k1, k4 = k3 * k1;
  const auto byte = [&](size_t i) -> uint64_t { return static_cast<uint8_t>(name.text[i]) + 1; };
  uint64_t h = 0;
  size_t end = name.length;  // the suffix hashed so far starts here
  for (size_t label = name.label_count; label-- > 0;) {
    const size_t start = name.label_starts[label];
    for (; end - start >= 4; end -= 4)
      h = h * k4 + (byte(end - 1) * k3 + byte(end - 2) * k2 + byte(end - 3) * k1 + byte(end - 4));
    for (; end > start; --end) h = h * k1 + byte(end - 1);
    out[label] = mix_hash(h);
  }
}

void HashSet::grow() {
  const size_t capacity = keys_.empty() ? 1024 : keys_.size() * 2;
  std::vector<uint64_t> keys(capacity, 0);
  std::vector<uint16_t> sources(capacity, 0);
  const size_t mask = capacity - 1;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i] == 0) continue;
    size_t slot = keys_[i] & mask;
    while (keys[slot] != 0) slot = (slot + 1) & mask;
    keys[slot] = keys_[i];
    sources[slot] = sources_[i];
  }
  keys_ = std::move(keys);
  sources_ = std::move(sources);
}

void HashSet::insert(uint64_t hash, uint16_t source) {
  if ((count_ + 1) * 2 > keys_.size()) grow();  // load factor stays under 1/2
  const size_t mask = keys_.size() - 1;
  size_t slot = hash & mask;
  while (keys_[slot] != 0) {
    if (keys_[slot] == hash) return;
    slot = (slot + 1) & mask;
  }
  keys_[slot] = hash;
  sources_[slot] = source;
  ++count_;
}

std::optional<uint16_t> HashSet::find(uint64_t hash) const {
  if (keys_.empty()) return std::nullopt;
  const size_t mask = keys_.size() - 1;
  for (size_t slot = hash & mask; keys_[slot] != 0; slot = (slot + 1) & mask)
    if (keys_[slot] == hash) return sources_[slot];
  return std::nullopt;
}

void DomainMatcher::add(std::string_view domain, uint16_t source) {
  if (domain.starts_with("*."))
    wildcard_.insert(hash_name(domain.substr(2)), source);
  else
    exact_.insert(hash_name(domain), source);
}

std::optional<uint16_t> DomainMatcher::match(const dns::Name& name,
                                             const std::array<uint64_t, 128>& suffix_hashes) const {
  if (name.label_count == 0) return std::nullopt;
  if (auto s = exact_.find(suffix_hashes[0])) return s;
  if (wildcard_.size() == 0) return std::nullopt;
  for (size_t i = 1; i < name.label_count; ++i)
    if (auto s = wildcard_.find(suffix_hashes[i])) return s;
  return std::nullopt;
}

}  // namespace dnsguard::inspect
