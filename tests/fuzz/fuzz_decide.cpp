// decide() with a loaded policy on any message: never crashes, and an allowed name is
// never blocked.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "dns/message.hpp"
#include "inspect/engine.hpp"

using namespace dnsguard;

namespace {
std::shared_ptr<const inspect::Engine> make_engine() {
  auto p = policy::load_policy_text(R"([policy]
name = "fuzz"
version = 1
[egress]
[[egress.resolvers]]
name = "r"
addresses = ["192.0.2.53"]
[egress.encrypted_dns]
canary = true
[inspect]
enabled = true
block_domains = ["bad.example", "*.tracker.example", "*.a.b.c.d"]
allow_domains = ["ok.tracker.example"]
deny_qtypes = ["ANY", "NULL", "PRIVATE"]
rate_limit = { per_client_qps = 1000, burst = 2000 }
)", "fuzz.toml");
  return inspect::Engine::build(p.value()).value();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto engine = make_engine();
  static inspect::DecisionState state;
  dns::Query q;
  const auto err = dns::parse_query(std::span<const uint8_t>(data, size), q);
  const inspect::Client client{parse_prefix("192.0.2.10").prefix->address, 1000};
  const auto v = engine->decide(err == dns::ParseError::none ? &q : nullptr, err, client,
                                inspect::SteadyClock::now(), state);
  if (err == dns::ParseError::none && q.qname.view() == "ok.tracker.example" && v.action != inspect::Action::accept)
    abort();
  return 0;
}
