#include "common/siphash.hpp"

#include <gtest/gtest.h>

namespace dnsguard {
namespace {

TEST(SipHash, MatchesTheReferenceVectorForSixteenBytes) {
  // The reference implementation's vector for key 00..0f and message 00..0f.
  const SipKey key{0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL};
  EXPECT_EQ((siphash<2, 4>(key, 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL)), 0x3f2acc7f57c29bdbULL);
}

TEST(SipHash, DependsOnTheKey) {
  const SipKey a = random_sip_key(), b = random_sip_key();
  EXPECT_NE(a, b);
  EXPECT_NE(siphash13(a, 1, 2), siphash13(b, 1, 2));
  EXPECT_EQ(siphash13(a, 1, 2), siphash13(a, 1, 2));
  EXPECT_NE(siphash13(a, 1, 2), siphash13(a, 2, 1));
}

}  // namespace
}  // namespace dnsguard
