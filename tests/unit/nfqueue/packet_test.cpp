#include "nfqueue/packet.hpp"

#include <gtest/gtest.h>

#include "dns/wire.hpp"

namespace dnsguard::nfqueue {
namespace {

IpAddress A(std::string_view s) { return parse_prefix(s).prefix->address; }

// A client's UDP query to a resolver, as the output hook sees it.
std::vector<uint8_t> udp_query(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                               const std::vector<uint8_t>& dns) {
  PacketView fake;  // build_udp_reply swaps; so build the "reply" of the reverse direction
  fake.source = dst;
  fake.destination = src;
  fake.source_port = 53;
  fake.destination_port = sport;
  std::vector<uint8_t> out(1500);
  out.resize(build_udp_reply(fake, dns, out));
  return out;
}

bool udp_checksum_ok(const std::vector<uint8_t>& pkt) {
  const auto v = parse_packet(pkt);
  const size_t ip = v->source.family == AddressFamily::ipv4 ? 20 : 40;
  const size_t len = pkt.size() - ip;
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < v->source.size(); i += 2) sum += v->source.bytes[i] << 8 | v->source.bytes[i + 1];
  for (size_t i = 0; i + 1 < v->destination.size(); i += 2) sum += v->destination.bytes[i] << 8 | v->destination.bytes[i + 1];
  sum += kProtoUdp + static_cast<uint32_t>(len);
  return internet_checksum({pkt.data() + ip, len}, sum) == 0;
}

TEST(Packet, UdpReplySwapsAddressesAndPortsWithValidChecksums) {
  for (auto [client, resolver] : {std::pair{A("192.0.2.10"), A("192.0.2.53")}, {A("fd00:53::10"), A("fd00:53::53")}}) {
    const auto query_pkt = udp_query(client, resolver, 40000, testing::query("a.example"));
    const auto q = parse_packet(query_pkt);
    ASSERT_TRUE(q);
    EXPECT_EQ(q->source, client);
    EXPECT_EQ(q->destination_port, 53);
    const std::vector<uint8_t> answer{1, 2, 3, 4, 5};
    std::vector<uint8_t> out(1500);
    out.resize(build_udp_reply(*q, answer, out));
    const auto r = parse_packet(out);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->source, resolver);
    EXPECT_EQ(r->destination, client);
    EXPECT_EQ(r->source_port, 53);
    EXPECT_EQ(r->destination_port, 40000);
    EXPECT_EQ(std::vector<uint8_t>(r->payload.begin(), r->payload.end()), answer);
    EXPECT_TRUE(udp_checksum_ok(out));
    if (client.family == AddressFamily::ipv4) {
      EXPECT_EQ(internet_checksum({out.data(), 20}), 0);
    }
  }
}

TEST(Packet, TcpResetCarriesTheSequenceTheClientExpects) {
  // Build a client data segment by hand: 192.0.2.10:40001 -> 192.0.2.53:53.
  std::vector<uint8_t> seg(20 + 20 + 6, 0);
  seg[0] = 0x45;
  seg[3] = static_cast<uint8_t>(seg.size());
  seg[8] = 64;
  seg[9] = kProtoTcp;
  const uint8_t src[] = {192, 0, 2, 10}, dst[] = {192, 0, 2, 53};
  std::copy(src, src + 4, seg.begin() + 12);
  std::copy(dst, dst + 4, seg.begin() + 16);
  uint8_t* t = seg.data() + 20;
  t[0] = 40001 >> 8; t[1] = 40001 & 0xFF; t[3] = 53;
  t[4] = 0; t[5] = 0; t[6] = 0x10; t[7] = 0;   // seq 0x1000
  t[8] = 0; t[9] = 0; t[10] = 0x20; t[11] = 0;  // ack 0x2000
  t[12] = 5 << 4;
  t[13] = kTcpAck | 0x08;  // PSH
  const auto v = parse_packet(seg);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->payload.size(), 6u);
  std::vector<uint8_t> out(100);
  out.resize(build_tcp_reset(*v, out));
  const auto r = parse_packet(out);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, v->destination);
  EXPECT_EQ(r->destination_port, 40001);
  EXPECT_EQ(r->tcp_seq, 0x2000u);
  EXPECT_EQ(r->tcp_ack, 0x1006u);
  EXPECT_EQ(r->tcp_flags, kTcpRst | kTcpAck);
}

TEST(Packet, RejectsWhatItCannotRead) {
  EXPECT_FALSE(parse_packet({}));
  std::vector<uint8_t> junk(60, 0xFF);
  EXPECT_FALSE(parse_packet(junk));
  auto pkt = udp_query(A("192.0.2.10"), A("192.0.2.53"), 1000, testing::query("a.example"));
  auto truncated = pkt;
  truncated.resize(25);
  EXPECT_FALSE(parse_packet(truncated));
  auto fragment = pkt;
  fragment[6] = 0x20;  // more fragments
  EXPECT_FALSE(parse_packet(fragment));
  auto bad_udp_length = pkt;
  bad_udp_length[24] = 0xFF;
  EXPECT_FALSE(parse_packet(bad_udp_length));
}

}  // namespace
}  // namespace dnsguard::nfqueue
