#include "common/siphash.hpp"

#include <sys/random.h>

#include <bit>
#include <stdexcept>

namespace dnsguard {
namespace {

struct State {
  uint64_t v0, v1, v2, v3;
  void round() {
    v0 += v1;
    v1 = std::rotl(v1, 13);
    v1 ^= v0;
    v0 = std::rotl(v0, 32);
    v2 += v3;
    v3 = std::rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = std::rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = std::rotl(v1, 17);
    v1 ^= v2;
    v2 = std::rotl(v2, 32);
  }
};

}  // namespace

SipKey random_sip_key() {
  SipKey key{};
  if (getrandom(key.data(), sizeof key, 0) != static_cast<ssize_t>(sizeof key))
    throw std::runtime_error("getrandom failed");
  return key;
}

template <int CompressionRounds, int FinalRounds>
uint64_t siphash(const SipKey& key, uint64_t a, uint64_t b) {
  State s{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL, key[0] ^ 0x6c7967656e657261ULL,
          key[1] ^ 0x7465646279746573ULL};
  for (const uint64_t m : {a, b, uint64_t{16} << 56}) {  // the last word: the length, no tail bytes
    s.v3 ^= m;
    for (int i = 0; i < CompressionRounds; ++i) s.round();
    s.v0 ^= m;
  }
  s.v2 ^= 0xff;
  for (int i = 0; i < FinalRounds; ++i) s.round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

template uint64_t siphash<1, 3>(const SipKey&, uint64_t, uint64_t);
template uint64_t siphash<2, 4>(const SipKey&, uint64_t, uint64_t);

}  // namespace dnsguard
