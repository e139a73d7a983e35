#pragma once
// Network byte order on the wire: loads and stores at a known-good place, and a
// bounds-checked reader with a sticky error (Knot's wire_ctx idea) for parsing input
// from outside. A read past the end yields 0 and fails the reader for good, so a parser
// reads a whole step (a header, a record's fixed fields) and checks ok() once.

#include <cstddef>
#include <cstdint>
#include <span>

namespace dnsguard {

inline uint16_t load16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t load32(const uint8_t* p) { return uint32_t{load16(p)} << 16 | load16(p + 2); }
inline void store16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline void store32(uint8_t* p, uint32_t v) {
  store16(p, static_cast<uint16_t>(v >> 16));
  store16(p + 2, static_cast<uint16_t>(v));
}

class WireReader {
 public:
  explicit WireReader(std::span<const uint8_t> data, size_t position = 0) : data_(data), pos_(position) {
    if (pos_ > data_.size()) fail();
  }

  uint8_t u8() { return take(1) ? data_[pos_ - 1] : 0; }
  uint16_t u16() { return take(2) ? load16(&data_[pos_ - 2]) : 0; }
  uint32_t u32() { return take(4) ? load32(&data_[pos_ - 4]) : 0; }
  // The next n bytes (empty, and the reader failed, when there are fewer).
  std::span<const uint8_t> bytes(size_t n) { return take(n) ? data_.subspan(pos_ - n, n) : std::span<const uint8_t>{}; }
  void skip(size_t n) { take(n); }
  // Moves to an absolute position (at most the end).
  void seek(size_t position) {
    if (failed_) return;
    if (position > data_.size()) return fail();
    pos_ = position;
  }

  bool ok() const { return !failed_; }
  size_t position() const { return pos_; }
  size_t remaining() const { return data_.size() - pos_; }
  bool at_end() const { return ok() && pos_ == data_.size(); }

 private:
  bool take(size_t n) {
    if (failed_ || n > data_.size() - pos_) {
      fail();
      return false;
    }
    pos_ += n;
    return true;
  }
  void fail() {
    failed_ = true;
    pos_ = data_.size();
  }

  std::span<const uint8_t> data_;
  size_t pos_;
  bool failed_ = false;
};

}  // namespace dnsguard
