#pragma once
// DNS wire format: a bounds-checked parser for queries and a builder for the answers the
// inspector gives on the spot. Nothing here allocates: names are copied, lower-cased,
// into a fixed buffer, and every read is checked against the message length first.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "common/address.hpp"

namespace dnsguard::dns {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxNameWire = 255;  // RFC 1035: octets on the wire, length bytes included
inline constexpr size_t kMaxLabel = 63;
inline constexpr size_t kMaxPointerHops = 16;

enum class ParseError : uint8_t {
  none,
  truncated_header,
  not_a_query,          // QR set: a response, not a question
  no_question,          // QDCOUNT 0
  several_questions,    // QDCOUNT > 1
  truncated_name,
  bad_label_type,       // label types 01 and 10 (RFC 6891 obsoleted them)
  name_too_long,        // over 255 octets
  bad_pointer,          // a compression pointer that does not point backwards
  pointer_loop,         // too many pointer hops
  truncated_question,
  truncated_record,
  bad_edns,             // more than one OPT, or OPT not at the root name
  trailing_bytes,       // bytes after the last record: one datagram is one message
};

std::string_view to_string(ParseError e);

// A domain name as text: labels joined by '.', ASCII letters lower-cased, no trailing
// dot; the root is "". Label bytes are kept as they are (binary labels stay binary).
struct Name {
  // Left uninitialized on purpose: only the first `length` bytes and `label_count`
  // offsets are ever read, and clearing 400 bytes per packet is measurable.
  std::array<char, kMaxNameWire> text;
  uint8_t length = 0;
  uint8_t label_count = 0;
  // Offsets in `text` where each label starts, so suffixes can be taken at label
  // boundaries even when a label itself contains a '.' byte.
  std::array<uint8_t, 128> label_starts;

  std::string_view view() const { return {text.data(), length}; }
  // The name from label `i` on (0 is the whole name).
  std::string_view suffix(size_t i) const {
    return i >= label_count ? std::string_view{} : view().substr(label_starts[i]);
  }
};

struct Query {
  uint16_t id = 0;
  uint8_t opcode = 0;  // 0 QUERY; the others (NOTIFY, UPDATE...) parse the same way
  bool recursion_desired = false;
  bool checking_disabled = false;
  Name qname;
  uint16_t qtype = 0;
  uint16_t qclass = 0;
  // ASCII letters in the question name as sent, and how many of them were upper case:
  // the name is lower-cased, but the resolver passes the case on (a 1-bit channel).
  uint8_t letters = 0;
  uint8_t upper_letters = 0;
  uint32_t case_pattern = 0;  // a hash of where the upper-case letters are; 0 when none
  uint16_t question_end = 0;  // offset just past the question
  bool has_edns = false;
  uint16_t edns_udp_size = 0;
  uint8_t edns_version = 0;
  bool edns_do = false;
};

// Parses a query message. On success returns ParseError::none and fills `out`.
ParseError parse_query(std::span<const uint8_t> message, Query& out);

enum class Rcode : uint8_t { noerror = 0, servfail = 2, nxdomain = 3, refused = 5 };

struct ResponseSpec {
  Rcode rcode = Rcode::nxdomain;
  // With rcode NOERROR: answers A/AAAA questions with these (NODATA otherwise).
  std::optional<IpAddress> sinkhole_v4;
  std::optional<IpAddress> sinkhole_v6;
  uint32_t ttl = 60;
  uint16_t edns_udp_size = 1232;
};

// Writes the response to `query` (parsed from `message`) into `out`: same ID, opcode,
// question and RD, QR and RA set, the given rcode, a sinkhole answer when asked for and
// the question is A or AAAA, and an OPT record when the query had one. Returns the
// length, or 0 when `out` is too small.
size_t build_response(std::span<const uint8_t> message, const Query& query, const ResponseSpec& spec,
                      std::span<uint8_t> out);

}  // namespace dnsguard::dns
