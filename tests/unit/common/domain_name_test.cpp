#include "common/domain_name.hpp"

#include <gtest/gtest.h>

namespace dnsguard {
namespace {

TEST(DomainName, NormalizesCaseTheTrailingDotAndKeepsTheWildcard) {
  EXPECT_EQ(normalize_domain("Bad.Example."), "bad.example");
  EXPECT_EQ(normalize_domain("*.Tracker.example"), "*.tracker.example");
  EXPECT_EQ(normalize_domain("_dmarc.mail-1.example"), "_dmarc.mail-1.example");
  EXPECT_EQ(normalize_domain("localhost"), "localhost");
}

TEST(DomainName, RefusesWhatIsNotADomainName) {
  for (const char* bad : {"", ".", "*.", "a..b", ".a", "a b", "a/b", "*.*.a", "a.*.b", "é.example", "a\x01"})
    EXPECT_EQ(normalize_domain(bad), std::nullopt) << bad;
  EXPECT_EQ(normalize_domain(std::string(63, 'a') + ".example").has_value(), true);
  EXPECT_EQ(normalize_domain(std::string(64, 'a') + ".example"), std::nullopt);
  std::string long_name;
  while (long_name.size() < 250) long_name += "abcdefghi.";
  EXPECT_EQ(normalize_domain(long_name + "example"), std::nullopt);  // over 253 octets
}

}  // namespace
}  // namespace dnsguard
