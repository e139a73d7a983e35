// docs/policy.md documents every key the loader accepts: a key added to the loader
// without its reference entry fails here.

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "policy/schema.hpp"

namespace dnsguard::policy {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(PolicyReference, EveryLoaderKeyIsDocumented) {
  const std::string reference = read(std::string(DNSGUARD_SOURCE_DIR) + "/docs/policy.md");
  ASSERT_FALSE(reference.empty()) << "docs/policy.md is missing";
  for (const auto& key : all_policy_keys()) {
    // Top-level tables are documented by their header, keys as a table row.
    const std::string entry = key.find('.') == std::string::npos ? "## [" + key + "]" : "| `" + key + "` |";
    EXPECT_NE(reference.find(entry), std::string::npos) << key << " is not documented in docs/policy.md (" << entry << ")";
  }
}

TEST(PolicyReference, NearestKeyCatchesTyposButNotOtherWords) {
  const std::string_view known[] = {"default", "deny_action", "log_denied", "resolvers", "protocols"};
  EXPECT_EQ(nearest_key("defualt", known), "default");
  EXPECT_EQ(nearest_key("protocol", known), "protocols");
  EXPECT_EQ(nearest_key("resolver", known), "resolvers");
  EXPECT_EQ(nearest_key("log_denid", known), "log_denied");
  EXPECT_EQ(nearest_key("enabled", known), std::nullopt);
  EXPECT_EQ(nearest_key("dns", known), std::nullopt);
}

}  // namespace
}  // namespace dnsguard::policy
