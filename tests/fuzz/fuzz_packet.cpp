// The per-packet decision from raw bytes, as the queue hands them over: any IPv4/IPv6,
// UDP/TCP packet with any payload is decided without a crash; what it injects parses
// back addressed to the sender; a TCP segment passes only when every message framed in
// it was accepted, and an unframeable one never passes.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "nfqueue/decision.hpp"

using namespace dnsguard;
using namespace dnsguard::nfqueue;

namespace {

std::shared_ptr<const inspect::Engine> make_engine() {
  auto p = policy::load_policy_text(R"([policy]
name = "fuzz"
version = 1
[egress]
[[egress.resolvers]]
name = "r"
addresses = ["192.0.2.53", "fd00:53::53"]
[inspect]
enabled = true
malformed = "accept"
block_domains = ["bad.example", "*.tracker.example"]
deny_qtypes = ["ANY", "NULL"]
[inspect.tunneling]
enabled = true
)", "fuzz.toml");
  return inspect::Engine::build(p.value()).value();
}

// Counts the messages the decision accepted, to check the TCP rule.
struct Tally final : MessageObserver {
  int accepted = 0, other = 0;
  void on_message(const PacketView*, const MessageDecision& m) override {
    (m.verdict.action == inspect::Action::accept ? accepted : other)++;
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto engine = make_engine();
  static inspect::DecisionState state;
  Tally tally;
  const QueuedPacket packet{std::span<const uint8_t>(data, size), false, 1000};
  const PacketDecision d = decide_packet(packet, *engine, inspect::SteadyClock::now(), state, &tally);
  if (d.view && d.view->protocol == kProtoTcp && d.action == PacketAction::accept &&
      (tally.other != 0 || (d.messages == 0 && !d.view->payload.empty())))
    abort();  // a TCP segment passed with a message that was not accepted, or unframed
  Injection out;
  if (build_injection(d, *engine, out)) {
    const auto back = parse_packet(out.packet_bytes());
    if (!back || back->destination != d.view->source || back->source != d.view->destination) abort();
  }
  return 0;
}
