#pragma once
// IP packets as a client sends them to its resolver, for tests of the packet path.

#include <cstring>
#include <vector>

#include "nfqueue/packet.hpp"

namespace dnsguard::testing {

inline IpAddress address(std::string_view s) { return parse_prefix(s).prefix->address; }

// src:sport -> dst:53 carrying `payload`.
inline std::vector<uint8_t> udp_packet(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                       const std::vector<uint8_t>& payload) {
  nfqueue::PacketView reverse;  // build_udp_reply swaps: describe the other direction
  reverse.source = dst;
  reverse.destination = src;
  reverse.source_port = 53;
  reverse.destination_port = sport;
  std::vector<uint8_t> out(payload.size() + 64);
  out.resize(nfqueue::build_udp_reply(reverse, payload, out));
  return out;
}

// A TCP data segment src:sport -> dst:53 (checksum left 0: the inspector never reads it).
inline std::vector<uint8_t> tcp_segment(const IpAddress& src, const IpAddress& dst, uint16_t sport,
                                        const std::vector<uint8_t>& payload, uint32_t seq = 0x1000,
                                        uint8_t flags = nfqueue::kTcpAck | 0x08) {
  const bool v4 = src.family == AddressFamily::ipv4;
  const size_t ip = v4 ? 20 : 40;
  std::vector<uint8_t> p(ip + 20 + payload.size(), 0);
  if (v4) {
    p[0] = 0x45;
    p[2] = static_cast<uint8_t>(p.size() >> 8);
    p[3] = static_cast<uint8_t>(p.size());
    p[8] = 64;
    p[9] = nfqueue::kProtoTcp;
    std::memcpy(&p[12], src.bytes.data(), 4);
    std::memcpy(&p[16], dst.bytes.data(), 4);
  } else {
    p[0] = 0x60;
    p[4] = static_cast<uint8_t>((p.size() - 40) >> 8);
    p[5] = static_cast<uint8_t>(p.size() - 40);
    p[6] = nfqueue::kProtoTcp;
    p[7] = 64;
    std::memcpy(&p[8], src.bytes.data(), 16);
    std::memcpy(&p[24], dst.bytes.data(), 16);
  }
  uint8_t* t = &p[ip];
  t[0] = static_cast<uint8_t>(sport >> 8);
  t[1] = static_cast<uint8_t>(sport);
  t[3] = 53;
  t[4] = static_cast<uint8_t>(seq >> 24);
  t[5] = static_cast<uint8_t>(seq >> 16);
  t[6] = static_cast<uint8_t>(seq >> 8);
  t[7] = static_cast<uint8_t>(seq);
  t[11] = 1;  // ack 1
  t[12] = 5 << 4;
  t[13] = flags;
  std::copy(payload.begin(), payload.end(), p.begin() + static_cast<long>(ip + 20));
  return p;
}

// DNS over TCP framing: the 2-byte length, then the message.
// (Sized first and copied into: GCC 12 -O3 warns falsely, -Warray-bounds, about an
// insert into a 2-byte vector.)
inline std::vector<uint8_t> framed(const std::vector<uint8_t>& message) {
  std::vector<uint8_t> out(2 + message.size());
  out[0] = static_cast<uint8_t>(message.size() >> 8);
  out[1] = static_cast<uint8_t>(message.size());
  std::copy(message.begin(), message.end(), out.begin() + 2);
  return out;
}

inline std::vector<uint8_t> concat(std::vector<uint8_t> a, const std::vector<uint8_t>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace dnsguard::testing
