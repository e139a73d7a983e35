#include "nfqueue/dns_stream.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "dns/wire.hpp"

namespace dnsguard::nfqueue {
namespace {

// Feeds `stream` to a reader in pieces of `step` bytes; returns the messages read.
std::vector<std::vector<uint8_t>> read_all(const std::vector<uint8_t>& stream, size_t step) {
  DnsStreamReader reader;
  std::vector<std::vector<uint8_t>> out;
  for (size_t pos = 0; pos < stream.size(); pos += step) {
    const size_t n = std::min(step, stream.size() - pos);
    auto room = reader.writable(4096);
    std::memcpy(room.data(), stream.data() + pos, n);
    reader.commit(n);
    while (auto m = reader.next()) out.emplace_back(m->begin(), m->end());
  }
  EXPECT_EQ(reader.partial(), 0u);
  return out;
}

TEST(DnsStreamReader, MessagesComeOutWholeHoweverTheStreamIsSplit) {
  const auto a = testing::query("allowed.example");
  const auto b = testing::query("blocked.example", 255);
  std::vector<uint8_t> stream;
  append_framed(stream, a);
  append_framed(stream, b);
  append_framed(stream, a);
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, a.size() + 1, stream.size()}) {
    const auto got = read_all(stream, step);
    ASSERT_EQ(got.size(), 3u) << "step " << step;
    EXPECT_EQ(got[0], a);
    EXPECT_EQ(got[1], b);
    EXPECT_EQ(got[2], a);
  }
}

TEST(DnsStreamReader, AnIncompleteMessageStaysInside) {
  DnsStreamReader reader;
  const std::vector<uint8_t> start{0x01, 0x00, 0xAA};  // says 256 bytes, has 1
  auto room = reader.writable(100);
  std::memcpy(room.data(), start.data(), start.size());
  reader.commit(start.size());
  EXPECT_FALSE(reader.next());
  EXPECT_EQ(reader.partial(), 3u);
  // A zero-length message is a message (malformed for the parser, not for framing).
  DnsStreamReader empty;
  auto r = empty.writable(2);
  r[0] = r[1] = 0;
  empty.commit(2);
  auto m = empty.next();
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->empty());
}

TEST(DnsStreamReader, StaysOneMessageLongOverALongStream) {
  DnsStreamReader reader;
  std::vector<uint8_t> one;
  append_framed(one, testing::query("a.example"));
  for (int i = 0; i < 10000; ++i) {
    auto room = reader.writable(one.size());
    std::memcpy(room.data(), one.data(), one.size());
    reader.commit(one.size());
    ASSERT_TRUE(reader.next());
  }
  EXPECT_EQ(reader.partial(), 0u);
}

}  // namespace
}  // namespace dnsguard::nfqueue
