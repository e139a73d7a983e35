#pragma once
// Domain sets sized for block lists of millions of names: each name is kept as a 64-bit
// hash in an open-addressing table (about 10 bytes a name), with the index of the list it
// came from. A query's name is hashed once, right to left, which yields the hash of every
// suffix on the way, so exact and "*.suffix" matches cost one pass over the name and a
// few table probes. Two different names share a hash with odds of about n / 2^64.

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/domain_name.hpp"
#include "dns/message.hpp"

namespace dnsguard::inspect {

// Hash of a lower-case name in text form ("www.example.com").
uint64_t hash_name(std::string_view name);

// Spreads a hash over all 64 bits (MurmurHash3's finalizer); never 0, which tables use
// to mark empty slots.
uint64_t mix_hash(uint64_t h);

// Hashes of every label-boundary suffix of `name`: out[i] is the hash of name.suffix(i).
void hash_suffixes(const dns::Name& name, std::array<uint64_t, 128>& out);

class HashSet {
 public:
  void insert(uint64_t hash, uint16_t source);  // the first source of a hash is kept
  std::optional<uint16_t> find(uint64_t hash) const;
  size_t size() const { return count_; }
  size_t memory_bytes() const { return keys_.capacity() * sizeof(uint64_t) + sources_.capacity() * sizeof(uint16_t); }

 private:
  void grow();
  std::vector<uint64_t> keys_;  // 0 marks an empty slot
  std::vector<uint16_t> sources_;
  size_t count_ = 0;
};

// Exact names ("ads.example") and wildcards ("*.tracker.example": every name below
// tracker.example, not tracker.example itself).
class DomainMatcher {
 public:
  // `domain` must be lower-case, without a trailing dot.
  void add(std::string_view domain, uint16_t source);
  // The source of a match: the exact name first, then the nearest wildcard suffix.
  std::optional<uint16_t> match(const dns::Name& name, const std::array<uint64_t, 128>& suffix_hashes) const;
  size_t size() const { return exact_.size() + wildcard_.size(); }
  size_t memory_bytes() const { return exact_.memory_bytes() + wildcard_.memory_bytes(); }

 private:
  HashSet exact_;
  HashSet wildcard_;
};

}  // namespace dnsguard::inspect
