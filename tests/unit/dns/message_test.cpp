#include "dns/message.hpp"

#include <gtest/gtest.h>

#include "dns/wire.hpp"

namespace dnsguard::dns {
namespace {

using testing::Wire;

ParseError parse(const std::vector<uint8_t>& m, Query& q) { return parse_query(m, q); }

TEST(DnsParser, ParsesAQueryAndLowerCasesTheName) {
  Query q;
  ASSERT_EQ(parse(testing::query("WWW.Example.COM", 28), q), ParseError::none);
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_TRUE(q.recursion_desired);
  EXPECT_EQ(q.qname.view(), "www.example.com");
  EXPECT_EQ(q.qname.label_count, 3);
  EXPECT_EQ(q.qname.suffix(1), "example.com");
  EXPECT_EQ(q.qname.suffix(2), "com");
  EXPECT_EQ(q.qtype, 28);
  EXPECT_EQ(q.qclass, 1);
  EXPECT_FALSE(q.has_edns);
}

TEST(DnsParser, RootName) {
  Query q;
  ASSERT_EQ(parse(Wire().header(1, 0, 1).u8(0).u16(2).u16(1).bytes, q), ParseError::none);
  EXPECT_EQ(q.qname.view(), "");
  EXPECT_EQ(q.qname.label_count, 0);
}

TEST(DnsParser, EdnsVariants) {
  Query q;
  ASSERT_EQ(parse(testing::query("a.example", 1, true), q), ParseError::none);
  EXPECT_TRUE(q.has_edns);
  EXPECT_EQ(q.edns_udp_size, 4096);
  EXPECT_TRUE(q.edns_do);
  // OPT with an option (cookie) in its RDATA, version 1, DO clear.
  auto w = Wire().header(2, 0x0100, 1, 0, 0, 1).name("a.example").u16(1).u16(1);
  w.u8(0).u16(41).u16(1232).u8(0).u8(1).u16(0).u16(12).u16(10).u16(8).u32(0x01020304).u32(0x05060708);
  ASSERT_EQ(parse(w.bytes, q), ParseError::none);
  EXPECT_EQ(q.edns_udp_size, 1232);
  EXPECT_EQ(q.edns_version, 1);
  EXPECT_FALSE(q.edns_do);
  // Two OPT records, or OPT under a name other than the root: malformed.
  auto two = Wire().header(3, 0x0100, 1, 0, 0, 2).name("a.example").u16(1).u16(1).opt(512, false).opt(512, false);
  EXPECT_EQ(parse(two.bytes, q), ParseError::bad_edns);
  auto named = Wire().header(3, 0x0100, 1, 0, 0, 1).name("a.example").u16(1).u16(1);
  named.name("x").u16(41).u16(512).u32(0).u16(0);
  EXPECT_EQ(parse(named.bytes, q), ParseError::bad_edns);
}

TEST(DnsParser, TruncatedMessages) {
  Query q;
  const auto full = testing::query("www.example.com", 1, true);
  for (size_t len = 0; len < full.size(); ++len) {
    std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<long>(len));
    EXPECT_NE(parse(cut, q), ParseError::none) << "length " << len;
  }
  EXPECT_EQ(parse(std::vector<uint8_t>(11, 0), q), ParseError::truncated_header);
}

TEST(DnsParser, QuestionCount) {
  Query q;
  EXPECT_EQ(parse(Wire().header(1, 0, 0).bytes, q), ParseError::no_question);
  EXPECT_EQ(parse(Wire().header(1, 0, 2).name("a").u16(1).u16(1).name("b").u16(1).u16(1).bytes, q),
            ParseError::several_questions);
  // Thousands of questions claimed in a tiny packet.
  EXPECT_EQ(parse(Wire().header(1, 0, 5000).name("a").u16(1).u16(1).bytes, q), ParseError::several_questions);
  // Thousands of additional records claimed.
  EXPECT_EQ(parse(Wire().header(1, 0, 1, 0, 0, 5000).name("a").u16(1).u16(1).bytes, q),
            ParseError::truncated_record);
}

TEST(DnsParser, ResponsesAndOtherOpcodes) {
  Query q;
  EXPECT_EQ(parse(Wire().header(1, 0x8180, 1).name("a").u16(1).u16(1).bytes, q), ParseError::not_a_query);
  // NOTIFY (opcode 4) parses like a query; the engine decides whether it may pass.
  ASSERT_EQ(parse(Wire().header(1, 0x2000, 1).name("a").u16(6).u16(1).bytes, q), ParseError::none);
  EXPECT_EQ(q.opcode, 4);
  EXPECT_EQ(q.qname.view(), "a");
}

TEST(DnsParser, TrailingBytesAreMalformed) {
  Query q;
  auto wire = testing::query("allowed.example");
  ASSERT_EQ(parse(wire, q), ParseError::none);
  // A second message behind the first (a GSO super-datagram, or a smuggled query).
  const auto second = testing::query("blocked.example");
  wire.insert(wire.end(), second.begin(), second.end());
  EXPECT_EQ(parse(wire, q), ParseError::trailing_bytes);
  auto one_more = testing::query("allowed.example");
  one_more.push_back(0);
  EXPECT_EQ(parse(one_more, q), ParseError::trailing_bytes);
}

TEST(DnsParser, CountsTheLettersCase) {
  Query q;
  ASSERT_EQ(parse(testing::query("WwW.ExAmple9.com"), q), ParseError::none);
  EXPECT_EQ(q.qname.view(), "www.example9.com");
  EXPECT_EQ(q.letters, 13);
  EXPECT_EQ(q.upper_letters, 4);
}

TEST(DnsParser, LabelAndNameLimits) {
  Query q;
  const std::string label63(63, 'a');
  ASSERT_EQ(parse(testing::query(label63 + ".example"), q), ParseError::none);
  EXPECT_EQ(q.qname.view().size(), 63u + 8);
  // A length byte of 64 has the 01 type bits: not a label.
  EXPECT_EQ(parse(Wire().header(1, 0, 1).u8(64).bytes, q), ParseError::bad_label_type);
  EXPECT_EQ(parse(Wire().header(1, 0, 1).u8(0x80).u8(1).bytes, q), ParseError::bad_label_type);
  // 4 x 63-octet labels = 256 octets on the wire: one too many.
  const std::string name255 = label63 + "." + label63 + "." + label63 + "." + std::string(61, 'b');
  ASSERT_EQ(parse(testing::query(name255), q), ParseError::none);
  EXPECT_EQ(q.qname.view().size(), 253u);
  EXPECT_EQ(parse(testing::query(name255 + "c"), q), ParseError::name_too_long);
  // The most labels a name can have.
  std::string many;
  for (int i = 0; i < 127; ++i) many += (i ? ".x" : "x");
  ASSERT_EQ(parse(testing::query(many), q), ParseError::none);
  EXPECT_EQ(q.qname.label_count, 127);
}

TEST(DnsParser, CompressionPointers) {
  Query q;
  // Question name that points back into... the header: not allowed.
  EXPECT_EQ(parse(Wire().header(1, 0, 1).u8(0xC0).u8(0).u16(1).u16(1).bytes, q), ParseError::bad_pointer);
  // A pointer to itself.
  EXPECT_EQ(parse(Wire().header(1, 0, 1).u8(0xC0).u8(12).u16(1).u16(1).bytes, q), ParseError::bad_pointer);
  // A pointer forward.
  EXPECT_EQ(parse(Wire().header(1, 0, 1).u8(0xC0).u8(20).u16(1).u16(1).u8(0).bytes, q), ParseError::bad_pointer);
  // Two pointers pointing at each other, in an additional record: a loop can only go
  // backwards, so it ends as bad_pointer.
  auto loop = Wire().header(1, 0x0100, 1, 0, 0, 1).name("a").u16(1).u16(1);
  const auto at = static_cast<uint8_t>(loop.bytes.size());
  loop.u8(0xC0).u8(at).u16(1).u16(1).u32(0).u16(0);
  EXPECT_EQ(parse(loop.bytes, q), ParseError::bad_pointer);
  // A legitimate backward pointer in an additional record is followed.
  auto ok = Wire().header(1, 0x0100, 1, 0, 0, 1).name("a.example").u16(1).u16(1);
  ok.u8(1).u8('b').u8(0xC0).u8(12).u16(1).u16(1).u32(60).u16(4).u32(0xC0000201);
  EXPECT_EQ(parse(ok.bytes, q), ParseError::none);
  // A chain of 17 backward pointers: more hops than allowed.
  auto chain = Wire().header(1, 0x0100, 1, 0, 0, 17).name("a").u16(1).u16(1);
  size_t prev = 12;
  for (int i = 0; i < 17; ++i) {
    const size_t here = chain.bytes.size();
    chain.u8(static_cast<uint8_t>(0xC0 | prev >> 8)).u8(static_cast<uint8_t>(prev)).u16(1).u16(1).u32(0).u16(0);
    prev = here;
  }
  EXPECT_EQ(parse(chain.bytes, q), ParseError::pointer_loop);
}

TEST(DnsParser, BinaryLabelsAreKeptForInspection) {
  Query q;
  auto w = Wire().header(1, 0x0100, 1).u8(3).u8(0xFF).u8('.').u8('A').name("t.example").u16(10).u16(1);
  ASSERT_EQ(parse(w.bytes, q), ParseError::none);
  EXPECT_EQ(q.qname.label_count, 3);
  EXPECT_EQ(q.qname.suffix(1), "t.example");  // the '.' byte in label 0 does not split it
  EXPECT_EQ(q.qname.view().substr(0, 3), std::string("\xFF.a"));
}

ResponseSpec spec(Rcode rcode) {
  ResponseSpec s;
  s.rcode = rcode;
  return s;
}

TEST(DnsBuilder, NxdomainKeepsIdQuestionAndRd) {
  const auto m = testing::query("Blocked.Example", 1);
  Query q;
  ASSERT_EQ(parse(m, q), ParseError::none);
  std::array<uint8_t, 512> out{};
  const size_t n = build_response(m, q, spec(Rcode::nxdomain), out);
  ASSERT_EQ(n, m.size());
  EXPECT_EQ(out[0], 0x12);
  EXPECT_EQ(out[1], 0x34);
  EXPECT_EQ(out[2], 0x81);  // QR, RD
  EXPECT_EQ(out[3], 0x83);  // RA, NXDOMAIN
  EXPECT_EQ(out[5], 1);     // one question
  EXPECT_TRUE(std::equal(m.begin() + 12, m.end(), out.begin() + 12));  // the question as asked
  Query back;
  EXPECT_EQ(parse_query(std::span(out.data(), n), back), ParseError::not_a_query);  // it is a response
}

TEST(DnsBuilder, SinkholeAnswersAandAaaaAndNodataOtherwise) {
  ResponseSpec s = spec(Rcode::noerror);
  s.sinkhole_v4 = parse_prefix("0.0.0.0").prefix->address;
  s.sinkhole_v6 = parse_prefix("::").prefix->address;
  std::array<uint8_t, 512> out{};
  for (auto [qtype, rdlen] : {std::pair<uint16_t, size_t>{1, 4}, {28, 16}}) {
    const auto m = testing::query("ads.example", qtype, true);
    Query q;
    ASSERT_EQ(parse(m, q), ParseError::none);
    const size_t n = build_response(m, q, s, out);
    ASSERT_EQ(n, q.question_end + 12 + rdlen + 11);
    EXPECT_EQ(out[3], 0x80);  // NOERROR
    EXPECT_EQ(out[7], 1);     // one answer
    EXPECT_EQ(out[11], 1);    // and the OPT
    const uint8_t* a = out.data() + q.question_end;
    EXPECT_EQ(a[0], 0xC0);
    EXPECT_EQ(a[1], 12);                        // the question's name
    EXPECT_EQ(a[3], qtype);
    EXPECT_EQ((a[6] << 24 | a[7] << 16 | a[8] << 8 | a[9]), 60);  // short TTL
    EXPECT_EQ(a[11], rdlen);
    const uint8_t* opt = a + 12 + rdlen;
    EXPECT_EQ(opt[0], 0);
    EXPECT_EQ(opt[2], 41);
    EXPECT_EQ(opt[7], 0x80);  // DO echoed
  }
  const auto mx = testing::query("ads.example", 15);
  Query q;
  ASSERT_EQ(parse(mx, q), ParseError::none);
  EXPECT_EQ(build_response(mx, q, s, out), mx.size());  // NODATA: no answer
  EXPECT_EQ(out[7], 0);
}

TEST(DnsBuilder, RefusedAndTooSmallBuffers) {
  const auto m = testing::query("x.example", 1, true);
  Query q;
  ASSERT_EQ(parse(m, q), ParseError::none);
  std::array<uint8_t, 512> out{};
  ASSERT_GT(build_response(m, q, spec(Rcode::refused), out), 0u);
  EXPECT_EQ(out[3] & 0x0F, 5);
  EXPECT_EQ(build_response(m, q, spec(Rcode::refused), std::span(out.data(), 20)), 0u);
}

}  // namespace
}  // namespace dnsguard::dns
