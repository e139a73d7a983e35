// IP/UDP/TCP views: any bytes are read without a crash; replies and resets built from a
// parsed packet parse back with the addresses swapped.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "nfqueue/packet.hpp"

using namespace dnsguard::nfqueue;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto view = parse_packet(std::span<const uint8_t>(data, size));
  if (!view) return 0;
  uint8_t out[70000];
  const size_t n = view->protocol == kProtoUdp ? build_udp_reply(*view, view->payload, out)
                                               : build_tcp_reset(*view, out);
  if (n == 0) return 0;
  const auto back = parse_packet(std::span<const uint8_t>(out, n));
  if (!back || back->source != view->destination || back->destination != view->source) abort();
  return 0;
}
