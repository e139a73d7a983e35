#pragma once
// Builds DNS messages byte by byte for tests.

#include <cstdint>
#include <string_view>
#include <vector>

namespace dnsguard::testing {

struct Wire {
  std::vector<uint8_t> bytes;
  Wire& u8(uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  Wire& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Wire& u32(uint32_t v) { return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v)); }
  Wire& header(uint16_t id, uint16_t flags, uint16_t qd, uint16_t an = 0, uint16_t ns = 0, uint16_t ar = 0) {
    return u16(id).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  // "www.example.com" as labels and the root.
  Wire& name(std::string_view dotted) {
    while (!dotted.empty()) {
      const size_t dot = dotted.find('.');
      const std::string_view label = dotted.substr(0, dot);
      u8(static_cast<uint8_t>(label.size()));
      for (char c : label) u8(static_cast<uint8_t>(c));
      dotted = dot == std::string_view::npos ? std::string_view{} : dotted.substr(dot + 1);
    }
    return u8(0);
  }
  Wire& opt(uint16_t udp_size, bool do_bit) { return u8(0).u16(41).u16(udp_size).u8(0).u8(0).u16(do_bit ? 0x8000 : 0).u16(0); }
};

// A standard query: RD set, one question, optionally an OPT record.
inline std::vector<uint8_t> query(std::string_view qname, uint16_t qtype = 1, bool edns = false,
                                  uint16_t id = 0x1234) {
  Wire w;
  w.header(id, 0x0100, 1, 0, 0, edns ? 1 : 0).name(qname).u16(qtype).u16(1);
  if (edns) w.opt(4096, true);
  return w.bytes;
}

}  // namespace dnsguard::testing
