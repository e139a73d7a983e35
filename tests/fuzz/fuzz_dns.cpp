// DNS parser and builder: any bytes parse without a crash; a parsed query yields a
// well-formed response for every kind of answer, which parses back as a response.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/message.hpp"

using namespace dnsguard;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> message(data, size);
  dns::Query q;
  if (dns::parse_query(message, q) != dns::ParseError::none) return 0;
  if (q.qname.length > 253 || q.qname.label_count > 127) abort();
  for (size_t i = 0; i < q.qname.label_count; ++i)
    if (q.qname.label_starts[i] > q.qname.length) abort();
  uint8_t out[4096];
  for (auto rcode : {dns::Rcode::nxdomain, dns::Rcode::refused, dns::Rcode::noerror}) {
    dns::ResponseSpec spec;
    spec.rcode = rcode;
    spec.sinkhole_v4 = parse_prefix("0.0.0.0").prefix->address;
    spec.sinkhole_v6 = parse_prefix("::").prefix->address;
    const size_t n = dns::build_response(message, q, spec, out);
    if (n == 0) continue;
    dns::Query back;
    if (dns::parse_query(std::span<const uint8_t>(out, n), back) != dns::ParseError::not_a_query) abort();
  }
  return 0;
}
