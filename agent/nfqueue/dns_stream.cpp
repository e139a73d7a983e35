#include "nfqueue/dns_stream.hpp"

#include <algorithm>
#include <cstring>

#include "common/wire.hpp"

namespace dnsguard::nfqueue {

std::span<uint8_t> DnsStreamReader::writable(size_t at_most) {
  // Drop what was read already before growing, so the buffer stays one message long.
  if (start_ != 0) {
    std::memmove(buffer_.data(), buffer_.data() + start_, buffer_.size() - start_);
    buffer_.resize(buffer_.size() - start_);
    start_ = 0;
  }
  const size_t used = buffer_.size();
  buffer_.resize(used + at_most);
  room_ = at_most;
  return {buffer_.data() + used, at_most};
}

void DnsStreamReader::commit(size_t filled) {
  // writable() grew the buffer by its whole size; keep only what was filled.
  buffer_.resize(buffer_.size() - room_ + std::min(filled, room_));
  room_ = 0;
}

std::optional<std::span<const uint8_t>> DnsStreamReader::next() {
  const size_t available = buffer_.size() - start_;
  if (available < 2) return std::nullopt;
  const size_t length = load16(&buffer_[start_]);
  if (available - 2 < length) return std::nullopt;
  const std::span<const uint8_t> message(buffer_.data() + start_ + 2, length);
  start_ += 2 + length;
  return message;
}

void append_framed(std::vector<uint8_t>& out, std::span<const uint8_t> message) {
  out.push_back(static_cast<uint8_t>(message.size() >> 8));
  out.push_back(static_cast<uint8_t>(message.size()));
  out.insert(out.end(), message.begin(), message.end());
}

}  // namespace dnsguard::nfqueue
