#pragma once
// IP packets as the queue hands them over: a bounds-checked view of the IPv4/IPv6,
// UDP/TCP headers, and the packets the inspector injects in answer (a UDP response
// from the resolver's address, or a TCP reset). Pure: no sockets here.

#include <cstdint>
#include <optional>
#include <span>

#include "common/address.hpp"

namespace dnsguard::nfqueue {

inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;

struct PacketView {
  IpAddress source;
  IpAddress destination;
  uint8_t protocol = 0;  // kProtoUdp or kProtoTcp
  uint16_t source_port = 0;
  uint16_t destination_port = 0;
  std::span<const uint8_t> payload;  // UDP payload, or TCP segment data
  uint32_t tcp_seq = 0;
  uint32_t tcp_ack = 0;
  uint8_t tcp_flags = 0;
  uint8_t hop_limit = 64;
};

inline constexpr uint8_t kTcpFin = 0x01;
inline constexpr uint8_t kTcpSyn = 0x02;
inline constexpr uint8_t kTcpRst = 0x04;
inline constexpr uint8_t kTcpAck = 0x10;

// nullopt for anything that is not a whole, unfragmented UDP or TCP packet over IPv4 or
// IPv6 (without extension headers).
std::optional<PacketView> parse_packet(std::span<const uint8_t> packet);

// The answer to a UDP query: addresses and ports swapped, `dns` as payload, checksums
// computed. Returns the length, or 0 when `out` is too small.
size_t build_udp_reply(const PacketView& query, std::span<const uint8_t> dns, std::span<uint8_t> out);

// A reset for the client side of a TCP connection, in answer to `segment` (which the
// client sent): it comes from the server's address with the sequence number the client
// expects, so the client's socket takes it. Returns the length, or 0.
size_t build_tcp_reset(const PacketView& segment, std::span<uint8_t> out);

// The Internet checksum over `data`, starting from `sum` (for pseudo-headers).
uint16_t internet_checksum(std::span<const uint8_t> data, uint32_t sum = 0);

}  // namespace dnsguard::nfqueue
