// A TCP DNS stream as the proxy reads it: any bytes, cut into reads at any points (the
// first bytes of the input choose the cuts), come out as whole messages, in order, each
// exactly as framed in the stream; what is left over is one partial message at most.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "nfqueue/dns_stream.hpp"

using namespace dnsguard::nfqueue;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  const size_t cuts = data[0] % 16 + 1;
  if (size < 1 + cuts) return 0;
  const uint8_t* steps = data + 1;
  const std::span<const uint8_t> stream(data + 1 + cuts, size - 1 - cuts);

  DnsStreamReader reader;
  std::vector<uint8_t> reframed;
  size_t pos = 0;
  for (size_t i = 0; pos < stream.size(); ++i) {
    const size_t n = std::min<size_t>(stream.size() - pos, steps[i % cuts] + 1u);
    auto room = reader.writable(n);
    std::memcpy(room.data(), stream.data() + pos, n);
    reader.commit(n);
    pos += n;
    while (auto m = reader.next()) append_framed(reframed, *m);
  }
  // Everything read out is a prefix of the stream, and the rest is one partial message.
  if (reframed.size() > stream.size()) abort();
  if (!reframed.empty() && std::memcmp(reframed.data(), stream.data(), reframed.size()) != 0) abort();
  const size_t rest = stream.size() - reframed.size();
  if (rest != reader.partial()) abort();
  if (rest >= 2) {
    const size_t length = size_t{stream[reframed.size()]} << 8 | stream[reframed.size() + 1];
    if (rest >= 2 + length) abort();  // a whole message was left inside
  }
  return 0;
}
