#pragma once
// DNS over TCP as the resolver reads it (RFC 7766): a 2-byte length, then the message,
// repeated. Bytes go in as the socket gives them, split anywhere; whole messages come
// out in order. Pure and bounded: it never holds more than one partial message plus the
// last read.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace dnsguard::nfqueue {

class DnsStreamReader {
 public:
  // Room for the next read; commit() says how much of it was filled.
  std::span<uint8_t> writable(size_t at_most);
  void commit(size_t filled);
  // The next whole message (valid until the next writable()), or nullopt.
  std::optional<std::span<const uint8_t>> next();
  // Bytes of a message not complete yet (0 between messages).
  size_t partial() const { return buffer_.size() - start_; }

 private:
  std::vector<uint8_t> buffer_;
  size_t start_ = 0;  // where the first unread byte is
  size_t room_ = 0;   // bytes writable() added that commit() has not accounted for
};

// [length][message], for writing a message to a stream.
void append_framed(std::vector<uint8_t>& out, std::span<const uint8_t> message);

}  // namespace dnsguard::nfqueue
