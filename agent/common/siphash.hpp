#pragma once
// SipHash-1-3 (Aumasson and Bernstein; the variant Rust's HashMap uses) over two 64-bit
// words: a keyed hash whose outputs an attacker cannot predict without the key, so it
// cannot choose inputs that land in the same table slot.

#include <array>
#include <cstdint>

namespace dnsguard {

using SipKey = std::array<uint64_t, 2>;

// A key from the kernel's random source (getrandom).
SipKey random_sip_key();

// SipHash-c-d of the 16 bytes a, b (little-endian words, as the reference reads them).
template <int CompressionRounds, int FinalRounds>
uint64_t siphash(const SipKey& key, uint64_t a, uint64_t b);
extern template uint64_t siphash<1, 3>(const SipKey&, uint64_t, uint64_t);
extern template uint64_t siphash<2, 4>(const SipKey&, uint64_t, uint64_t);  // the reference, for tests

inline uint64_t siphash13(const SipKey& key, uint64_t a, uint64_t b) { return siphash<1, 3>(key, a, b); }

}  // namespace dnsguard
