#include <gtest/gtest.h>

#include "common/address.hpp"

namespace dnsguard {
namespace {

IpPrefix P(std::string_view s) {
  auto parsed = parse_prefix(s);
  EXPECT_TRUE(parsed.prefix) << s;
  return *parsed.prefix;
}

TEST(Address, ParsesHostsAndPrefixesOfBothFamilies) {
  EXPECT_EQ(P("192.0.2.53").to_string(), "192.0.2.53");
  EXPECT_EQ(P("192.0.2.53").length, 32);
  EXPECT_EQ(P("198.51.100.0/24").to_string(), "198.51.100.0/24");
  EXPECT_EQ(P("fd00:53::53").family(), AddressFamily::ipv6);
  EXPECT_EQ(P("FD00:53::/32").to_string(), "fd00:53::/32");
  EXPECT_EQ(P("0.0.0.0/0").last().to_string(), "255.255.255.255");
}

TEST(Address, RejectsGarbageAndBadLengths) {
  EXPECT_EQ(parse_prefix("192.0.2.300").error, PrefixParseError::not_an_address);
  EXPECT_EQ(parse_prefix("").error, PrefixParseError::not_an_address);
  EXPECT_EQ(parse_prefix("example.com").error, PrefixParseError::not_an_address);
  EXPECT_EQ(parse_prefix("192.0.2.0/33").error, PrefixParseError::bad_length);
  EXPECT_EQ(parse_prefix("192.0.2.0/").error, PrefixParseError::bad_length);
  EXPECT_EQ(parse_prefix("192.0.2.0/2x").error, PrefixParseError::bad_length);
  EXPECT_EQ(parse_prefix("fd00::/129").error, PrefixParseError::bad_length);
}

TEST(Address, HostBitsPastThePrefixAreAnErrorWithASuggestion) {
  auto parsed = parse_prefix("192.0.2.7/24");
  EXPECT_FALSE(parsed.prefix);
  EXPECT_EQ(parsed.error, PrefixParseError::host_bits_set);
  EXPECT_EQ(parsed.suggestion->to_string(), "192.0.2.0/24");
  EXPECT_EQ(parse_prefix("fd00::1/64").suggestion->to_string(), "fd00::/64");
}

TEST(Address, OverlapAndContainment) {
  EXPECT_TRUE(P("192.0.2.0/24").overlaps(P("192.0.2.53")));
  EXPECT_TRUE(P("192.0.2.53").overlaps(P("192.0.2.0/24")));
  EXPECT_FALSE(P("192.0.2.0/25").overlaps(P("192.0.2.128/25")));
  EXPECT_FALSE(P("0.0.0.0/0").overlaps(P("::/0")));
}

TEST(Address, NextAddressCarriesAndEndsAtTheLastAddress) {
  EXPECT_EQ(next_address(P("192.0.2.255").address)->to_string(), "192.0.3.0");
  EXPECT_FALSE(next_address(P("255.255.255.255").address));
  EXPECT_FALSE(next_address(P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").address));
}

}  // namespace
}  // namespace dnsguard
