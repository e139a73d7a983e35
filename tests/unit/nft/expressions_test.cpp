// Each nf_tables expression builder against what libnftnl prints for it (the text `nft
// --debug=netlink` shows), so a wrong register, offset or byte order shows here and not
// as a rule the kernel refuses or, worse, one that matches something else.

#include "nft/expressions.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/netfilter/nf_tables.h>

#include <vector>

namespace dnsguard::nft {
namespace {

using ::testing::HasSubstr;

template <typename Build>
std::string lowered(Build&& build) {
  Rule r(nftnl_rule_alloc());
  build(r.get());
  std::vector<char> text(4096);
  nftnl_rule_snprintf(text.data(), text.size(), r.get(), NFTNL_OUTPUT_DEFAULT, 0);
  return text.data();
}

TEST(NftExpressions, MetaAndCmp) {
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_meta(r, NFT_META_L4PROTO); }), HasSubstr("[ meta load l4proto => reg 1 ]"));
  const uint8_t udp = 17;
  EXPECT_THAT(lowered([&](nftnl_rule* r) { add_cmp_eq(r, &udp, 1); }), HasSubstr("[ cmp eq reg 1 0x00000011 ]"));
  EXPECT_THAT(lowered([&](nftnl_rule* r) { add_cmp(r, NFT_CMP_NEQ, &udp, 1); }), HasSubstr("[ cmp neq reg 1 0x00000011 ]"));
}

TEST(NftExpressions, NfprotoChecksTheFamily) {
  const auto v6 = lowered([](nftnl_rule* r) { add_nfproto(r, AddressFamily::ipv6); });
  EXPECT_THAT(v6, HasSubstr("[ meta load nfproto => reg 1 ]"));
  EXPECT_THAT(v6, HasSubstr("[ cmp eq reg 1 0x0000000a ]"));  // NFPROTO_IPV6
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_nfproto(r, AddressFamily::ipv4); }), HasSubstr("0x00000002 ]"));
}

TEST(NftExpressions, PayloadAndAddressLoads) {
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2); }),
              HasSubstr("[ payload load 2b @ transport header + 2 => reg 1 ]"));
  // IPv4 destination at offset 16, source at 12; IPv6 destination at 24, source at 8.
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_address_load(r, AddressFamily::ipv4, ir::Direction::destination); }),
              HasSubstr("[ payload load 4b @ network header + 16 => reg 1 ]"));
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_address_load(r, AddressFamily::ipv4, ir::Direction::source); }),
              HasSubstr("[ payload load 4b @ network header + 12 => reg 1 ]"));
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_address_load(r, AddressFamily::ipv6, ir::Direction::destination); }),
              HasSubstr("[ payload load 16b @ network header + 24 => reg 1 ]"));
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_address_load(r, AddressFamily::ipv6, ir::Direction::source); }),
              HasSubstr("[ payload load 16b @ network header + 8 => reg 1 ]"));
}

TEST(NftExpressions, RedirectPutsThePortInNetworkOrder) {
  const auto text = lowered([](nftnl_rule* r) { add_redirect(r, 553); });
  EXPECT_THAT(text, HasSubstr("[ immediate reg 1 0x00002902 ]"));  // 553 = 0x0229, big-endian
  EXPECT_THAT(text, HasSubstr("[ redir proto_min reg 1 ]"));
}

TEST(NftExpressions, LimitVerdictAndReject) {
  EXPECT_THAT(lowered([](nftnl_rule* r) {
                nftnl_expr* e = expr("limit");
                add_limit(e, 10, 20, true);
                nftnl_rule_add_expr(r, e);
              }),
              HasSubstr("[ limit rate 10/second burst 20 type packets flags 0x1 ]"));  // 0x1: over
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_verdict(r, NF_DROP); }), HasSubstr("[ immediate reg 0 drop ]"));
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_verdict(r, NF_ACCEPT); }), HasSubstr("[ immediate reg 0 accept ]"));
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_reject(r, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH); }),
              HasSubstr("[ reject type 2 code 1 ]"));
  EXPECT_THAT(lowered([](nftnl_rule* r) { add_reject(r, NFT_REJECT_TCP_RST, 0); }), HasSubstr("[ reject type 1 code 0 ]"));
}

TEST(NftExpressions, QueueNativeAndXtables) {
  const ir::QueueSpec q{0, 2, true, true};
  EXPECT_THAT(lowered([&](nftnl_rule* r) { add_queue(r, q, QueueBackend::native); }),
              HasSubstr("[ queue num 0-1 bypass fanout ]"));
  EXPECT_THAT(lowered([&](nftnl_rule* r) { add_queue(r, q, QueueBackend::xt_compat); }), HasSubstr("NFQUEUE"));
}

}  // namespace
}  // namespace dnsguard::nft
