#include "nfqueue/packet.hpp"

#include <cstring>

#include "common/wire.hpp"

namespace dnsguard::nfqueue {
namespace {

uint32_t add_words(std::span<const uint8_t> data, uint32_t sum) {
  size_t i = 0;
  for (; i + 1 < data.size(); i += 2) sum += load16(data.data() + i);
  if (i < data.size()) sum += uint32_t{data[i]} << 8;
  return sum;
}

// Sum of the pseudo-header that UDP and TCP checksums cover.
uint32_t pseudo_header_sum(const IpAddress& src, const IpAddress& dst, uint8_t protocol, size_t length) {
  uint32_t sum = add_words({src.bytes.data(), src.size()}, 0);
  sum = add_words({dst.bytes.data(), dst.size()}, sum);
  sum += protocol;
  sum += static_cast<uint32_t>(length >> 16) + static_cast<uint32_t>(length & 0xFFFF);
  return sum;
}

// Writes an IP header for a packet of `l4_length` bytes from `src` to `dst`; returns
// its size.
size_t write_ip_header(uint8_t* p, const IpAddress& src, const IpAddress& dst, uint8_t protocol,
                       size_t l4_length) {
  if (src.family == AddressFamily::ipv4) {
    std::memset(p, 0, 20);
    p[0] = 0x45;
    store16(p + 2, static_cast<uint16_t>(20 + l4_length));
    store16(p + 6, 0x4000);  // don't fragment
    p[8] = 64;
    p[9] = protocol;
    std::memcpy(p + 12, src.bytes.data(), 4);
    std::memcpy(p + 16, dst.bytes.data(), 4);
    store16(p + 10, internet_checksum({p, 20}));
    return 20;
  }
  std::memset(p, 0, 40);
  p[0] = 0x60;
  store16(p + 4, static_cast<uint16_t>(l4_length));
  p[6] = protocol;
  p[7] = 64;
  std::memcpy(p + 8, src.bytes.data(), 16);
  std::memcpy(p + 24, dst.bytes.data(), 16);
  return 40;
}

}  // namespace

uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t sum) {
  sum = add_words(data, sum);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

std::optional<PacketView> parse_packet(std::span<const uint8_t> pkt) {
  if (pkt.empty()) return std::nullopt;
  PacketView v;
  size_t l4 = 0;
  size_t end = 0;
  const uint8_t version = pkt[0] >> 4;
  if (version == 4) {
    if (pkt.size() < 20) return std::nullopt;
    const size_t ihl = static_cast<size_t>(pkt[0] & 0x0F) * 4;
    const size_t total = load16(&pkt[2]);
    if (ihl < 20 || total < ihl || total > pkt.size()) return std::nullopt;
    if (load16(&pkt[6]) & 0x3FFF) return std::nullopt;  // a fragment
    v.source.family = v.destination.family = AddressFamily::ipv4;
    std::memcpy(v.source.bytes.data(), &pkt[12], 4);
    std::memcpy(v.destination.bytes.data(), &pkt[16], 4);
    v.protocol = pkt[9];
    v.hop_limit = pkt[8];
    l4 = ihl;
    end = total;
  } else if (version == 6) {
    if (pkt.size() < 40) return std::nullopt;
    const size_t total = 40 + size_t{load16(&pkt[4])};
    if (total > pkt.size()) return std::nullopt;
    v.source.family = v.destination.family = AddressFamily::ipv6;
    std::memcpy(v.source.bytes.data(), &pkt[8], 16);
    std::memcpy(v.destination.bytes.data(), &pkt[24], 16);
    v.protocol = pkt[6];
    v.hop_limit = pkt[7];
    l4 = 40;
    end = total;
  } else {
    return std::nullopt;
  }

  // The transport header, read within the IP packet's own length.
  WireReader r(pkt.first(end), l4);
  if (v.protocol == kProtoUdp) {
    v.source_port = r.u16();
    v.destination_port = r.u16();
    const size_t udp_length = r.u16();
    r.skip(2);  // checksum
    if (!r.ok() || udp_length < 8 || l4 + udp_length > end) return std::nullopt;
    v.payload = pkt.subspan(l4 + 8, udp_length - 8);
    return v;
  }
  if (v.protocol == kProtoTcp) {
    v.source_port = r.u16();
    v.destination_port = r.u16();
    v.tcp_seq = r.u32();
    v.tcp_ack = r.u32();
    const size_t data_offset = static_cast<size_t>(r.u8() >> 4) * 4;
    v.tcp_flags = r.u8();
    r.skip(6);  // window, checksum, urgent pointer
    if (!r.ok() || data_offset < 20 || l4 + data_offset > end) return std::nullopt;
    v.payload = pkt.subspan(l4 + data_offset, end - l4 - data_offset);
    return v;
  }
  return std::nullopt;
}

size_t build_udp_reply(const PacketView& q, std::span<const uint8_t> dns, std::span<uint8_t> out) {
  const size_t ip_size = q.source.family == AddressFamily::ipv4 ? 20 : 40;
  const size_t udp_length = 8 + dns.size();
  if (out.size() < ip_size + udp_length || udp_length > 0xFFFF) return 0;
  uint8_t* p = out.data();
  write_ip_header(p, q.destination, q.source, kProtoUdp, udp_length);
  uint8_t* udp = p + ip_size;
  store16(udp, q.destination_port);
  store16(udp + 2, q.source_port);
  store16(udp + 4, static_cast<uint16_t>(udp_length));
  store16(udp + 6, 0);
  std::memcpy(udp + 8, dns.data(), dns.size());
  uint16_t sum = internet_checksum({udp, udp_length},
                                   pseudo_header_sum(q.destination, q.source, kProtoUdp, udp_length));
  store16(udp + 6, sum == 0 ? 0xFFFF : sum);  // 0 means "no checksum" in UDP
  return ip_size + udp_length;
}

size_t build_tcp_reset(const PacketView& s, std::span<uint8_t> out) {
  const size_t ip_size = s.source.family == AddressFamily::ipv4 ? 20 : 40;
  if (out.size() < ip_size + 20) return 0;
  uint8_t* p = out.data();
  write_ip_header(p, s.destination, s.source, kProtoTcp, 20);
  uint8_t* tcp = p + ip_size;
  std::memset(tcp, 0, 20);
  store16(tcp, s.destination_port);
  store16(tcp + 2, s.source_port);
  // The client expects the server's next byte at its own acknowledgement number.
  store32(tcp + 4, s.tcp_ack);
  const uint32_t consumed = static_cast<uint32_t>(s.payload.size()) + ((s.tcp_flags & (kTcpSyn | kTcpFin)) ? 1 : 0);
  store32(tcp + 8, s.tcp_seq + consumed);
  tcp[12] = 5 << 4;
  tcp[13] = kTcpRst | kTcpAck;
  store16(tcp + 16, internet_checksum({tcp, 20}, pseudo_header_sum(s.destination, s.source, kProtoTcp, 20)));
  return ip_size + 20;
}

}  // namespace dnsguard::nfqueue
