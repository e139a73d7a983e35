#include "dns/message.hpp"

#include <cstring>

#include "common/wire.hpp"

namespace dnsguard::dns {
namespace {

constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAaaa = 28;
constexpr uint16_t kClassIn = 1;

// Reads the name at `pos`. With `out`, copies it as text; without, only validates and
// skips it. Returns the offset just past the name as it sits at `pos` (a pointer ends
// it), or 0 with `error` set.
size_t read_name(std::span<const uint8_t> m, size_t pos, Name* out, ParseError& error, Query* cases = nullptr) {
  size_t end = 0;     // where the name ends at its original position
  size_t wire = 0;    // octets of the uncompressed name, for the 255 limit
  size_t hops = 0;
  size_t limit = m.size();  // a pointer must point before the place it was found
  if (out) {
    out->length = 0;
    out->label_count = 0;
  }
  for (;;) {
    if (pos >= limit) {
      error = ParseError::truncated_name;
      return 0;
    }
    const uint8_t len = m[pos];
    if ((len & 0xC0) == 0xC0) {
      if (pos + 1 >= m.size()) {
        error = ParseError::truncated_name;
        return 0;
      }
      const size_t target = static_cast<size_t>(len & 0x3F) << 8 | m[pos + 1];
      if (end == 0) end = pos + 2;
      if (++hops > kMaxPointerHops) {
        error = ParseError::pointer_loop;
        return 0;
      }
      if (target >= pos || target < kHeaderSize) {
        error = ParseError::bad_pointer;
        return 0;
      }
      limit = pos;
      pos = target;
      continue;
    }
    if ((len & 0xC0) != 0) {
      error = ParseError::bad_label_type;
      return 0;
    }
    wire += 1 + len;
    if (wire > kMaxNameWire) {
      error = ParseError::name_too_long;
      return 0;
    }
    if (len == 0) {
      if (end == 0) end = pos + 1;
      return end;
    }
    if (pos + 1 + len > limit) {
      error = ParseError::truncated_name;
      return 0;
    }
    if (out) {
      if (out->label_count != 0) out->text[out->length++] = '.';
      out->label_starts[out->label_count++] = out->length;
      // Lower-cased and counted without a branch per byte; where the upper-case letters
      // were is hashed only when there are any (rare outside a case channel).
      const uint8_t* src = &m[pos + 1];
      char* dst = &out->text[out->length];
      unsigned upper = 0, letters = 0;
      for (size_t i = 0; i < len; ++i) {
        const uint8_t c = src[i];
        const unsigned is_upper = static_cast<uint8_t>(c - 'A') < 26;
        const auto lower = static_cast<uint8_t>(c | (is_upper << 5));
        upper += is_upper;
        letters += static_cast<uint8_t>(lower - 'a') < 26;
        dst[i] = static_cast<char>(lower);
      }
      if (upper != 0 && cases) {
        for (size_t i = 0; i < len; ++i)
          if (static_cast<uint8_t>(src[i] - 'A') < 26)
            cases->case_pattern = (cases->case_pattern ^ static_cast<uint32_t>(out->length + i + 1)) * 16777619u;
      }
      if (cases) {
        cases->upper_letters = static_cast<uint8_t>(cases->upper_letters + upper);
        cases->letters = static_cast<uint8_t>(cases->letters + letters);
      }
      out->length = static_cast<uint8_t>(out->length + len);
    }
    pos += 1 + len;
  }
}

}  // namespace

std::string_view to_string(ParseError e) {
  switch (e) {
    case ParseError::none: return "ok";
    case ParseError::truncated_header: return "truncated header";
    case ParseError::not_a_query: return "not a query";
    case ParseError::no_question: return "no question";
    case ParseError::several_questions: return "more than one question";
    case ParseError::truncated_name: return "truncated name";
    case ParseError::bad_label_type: return "bad label type";
    case ParseError::name_too_long: return "name longer than 255 octets";
    case ParseError::bad_pointer: return "compression pointer does not point backwards";
    case ParseError::pointer_loop: return "compression pointer loop";
    case ParseError::truncated_question: return "truncated question";
    case ParseError::truncated_record: return "truncated record";
    case ParseError::bad_edns: return "bad EDNS OPT record";
    case ParseError::trailing_bytes: return "bytes after the message";
  }
  return "?";
}

ParseError parse_query(std::span<const uint8_t> m, Query& q) {
  WireReader r(m);
  q.id = r.u16();
  const uint8_t flags = r.u8();
  const uint8_t flags2 = r.u8();
  const uint16_t qdcount = r.u16();
  const uint16_t ancount = r.u16();
  const uint16_t nscount = r.u16();
  const uint16_t arcount = r.u16();
  if (!r.ok()) return ParseError::truncated_header;
  if (flags & 0x80) return ParseError::not_a_query;
  q.opcode = (flags >> 3) & 0x0F;
  q.recursion_desired = flags & 0x01;
  q.checking_disabled = flags2 & 0x10;
  if (qdcount == 0) return ParseError::no_question;
  if (qdcount > 1) return ParseError::several_questions;

  ParseError error = ParseError::none;
  q.letters = q.upper_letters = 0;
  q.case_pattern = 0;
  const size_t name_end = read_name(m, kHeaderSize, &q.qname, error, &q);
  if (name_end == 0) return error;
  r.seek(name_end);
  q.qtype = r.u16();
  q.qclass = r.u16();
  if (!r.ok()) return ParseError::truncated_question;
  q.question_end = static_cast<uint16_t>(r.position());

  // Answer and authority records are skipped; the additional section may hold OPT.
  q.has_edns = false;
  const uint32_t records = uint32_t{ancount} + nscount + arcount;
  for (uint32_t i = 0; i < records; ++i) {
    const size_t name_at = r.position();
    const size_t fixed_at = read_name(m, name_at, nullptr, error);
    if (fixed_at == 0) return error == ParseError::truncated_name ? ParseError::truncated_record : error;
    r.seek(fixed_at);
    const uint16_t type = r.u16();
    const uint16_t rclass = r.u16();  // OPT: the requester's UDP payload size
    r.u8();                           // OPT: extended rcode
    const uint8_t version = r.u8();   // OPT: EDNS version
    const uint8_t ttl_flags = r.u8(); // OPT: DO is the top bit
    r.u8();
    const uint16_t rdlength = r.u16();
    r.skip(rdlength);
    if (!r.ok()) return ParseError::truncated_record;
    if (type == kTypeOpt && i >= uint32_t{ancount} + nscount) {
      if (q.has_edns || m[name_at] != 0) return ParseError::bad_edns;
      q.has_edns = true;
      q.edns_udp_size = rclass;
      q.edns_version = version;
      q.edns_do = ttl_flags & 0x80;
    }
  }
  // What the resolver would ignore could still carry data, or a second message.
  if (!r.at_end()) return ParseError::trailing_bytes;
  return ParseError::none;
}

size_t build_response(std::span<const uint8_t> m, const Query& q, const ResponseSpec& spec,
                      std::span<uint8_t> out) {
  const size_t question = q.question_end;
  std::optional<IpAddress> answer;
  if (spec.rcode == Rcode::noerror && q.qclass == kClassIn) {
    if (q.qtype == kTypeA) answer = spec.sinkhole_v4;
    if (q.qtype == kTypeAaaa) answer = spec.sinkhole_v6;
  }
  const size_t answer_size = answer ? 12 + answer->size() : 0;
  const size_t opt_size = q.has_edns ? 11 : 0;
  const size_t total = question + answer_size + opt_size;
  if (out.size() < total || m.size() < question) return 0;

  // Header and question come from the query: same ID, opcode, RD and question bytes.
  std::memcpy(out.data(), m.data(), question);
  uint8_t* h = out.data();
  h[2] = static_cast<uint8_t>(0x80 | (q.opcode << 3) | (q.recursion_desired ? 0x01 : 0));
  h[3] = static_cast<uint8_t>(0x80 | (q.checking_disabled ? 0x10 : 0) | static_cast<uint8_t>(spec.rcode));
  store16(h + 4, 1);
  store16(h + 6, answer ? 1 : 0);
  store16(h + 8, 0);
  store16(h + 10, q.has_edns ? 1 : 0);

  uint8_t* p = h + question;
  if (answer) {
    store16(p, 0xC000 | kHeaderSize);  // the question's name
    store16(p + 2, q.qtype);
    store16(p + 4, kClassIn);
    store32(p + 6, spec.ttl);
    store16(p + 10, static_cast<uint16_t>(answer->size()));
    std::memcpy(p + 12, answer->bytes.data(), answer->size());
    p += answer_size;
  }
  if (q.has_edns) {
    p[0] = 0;  // root name
    store16(p + 1, kTypeOpt);
    store16(p + 3, spec.edns_udp_size);
    p[5] = 0;  // extended rcode
    p[6] = 0;  // version 0
    p[7] = q.edns_do ? 0x80 : 0;
    p[8] = 0;
    store16(p + 9, 0);  // no options
  }
  return total;
}

}  // namespace dnsguard::dns
