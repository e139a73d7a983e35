#include "common/wire.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace dnsguard {
namespace {

TEST(WireReader, ReadsNetworkOrder) {
  const std::vector<uint8_t> bytes = {0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 0x07};
  WireReader r(bytes);
  EXPECT_EQ(r.u16(), 0x1234);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.u8(), 7);
  EXPECT_TRUE(r.at_end());
}

// One read past the end fails the reader for good: later reads that would fit on their
// own yield nothing, so a parser cannot go on from a half-read field.
TEST(WireReader, AReadPastTheEndIsSticky) {
  const std::vector<uint8_t> bytes = {0x01, 0x02, 0x03};
  WireReader r(bytes);
  EXPECT_EQ(r.u16(), 0x0102);
  EXPECT_EQ(r.u16(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.u8(), 0);
  r.seek(0);
  EXPECT_EQ(r.u8(), 0);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(WireReader, SkipSeekAndBytesAreChecked) {
  const std::vector<uint8_t> bytes(10, 0xAA);
  WireReader r(bytes);
  r.skip(8);
  EXPECT_EQ(r.bytes(2).size(), 2u);
  EXPECT_TRUE(r.at_end());
  WireReader s(bytes);
  s.skip(SIZE_MAX);  // no wrap-around
  EXPECT_FALSE(s.ok());
  WireReader t(bytes);
  t.seek(11);
  EXPECT_FALSE(t.ok());
  WireReader u(bytes, 11);
  EXPECT_FALSE(u.ok());
  EXPECT_TRUE(WireReader(bytes).bytes(11).empty());
}

TEST(Wire, StoresAreTheInverseOfLoads) {
  uint8_t buf[4];
  store32(buf, 0x01020304);
  EXPECT_EQ(buf[0], 1);
  EXPECT_EQ(load32(buf), 0x01020304u);
  store16(buf, 0xBEEF);
  EXPECT_EQ(load16(buf), 0xBEEF);
}

}  // namespace
}  // namespace dnsguard
