// decide() with a loaded policy (tunneling detection on) on any message: never crashes,
// an allowed name is never blocked, and a tunneling verdict points inside the name.
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
[inspect.tunneling]
enabled = true
budget_bytes_per_hour = 256
hold_seconds = 1
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
  if (v.reason == inspect::Reason::tunneling && v.registered_label >= q.qname.label_count && q.qname.label_count > 0)
    abort();
  return 0;
}
