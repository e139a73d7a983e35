#include "nfqueue/decision.hpp"

#include "common/wire.hpp"

namespace dnsguard::nfqueue {
namespace {

// What a verdict on one message does to the packet that carries it.
PacketAction packet_action(const inspect::Verdict& v, bool tcp) {
  if (v.action == inspect::Action::accept) return PacketAction::accept;
  if (tcp) return PacketAction::reset;  // a TCP stream cannot skip one message
  return v.action == inspect::Action::drop ? PacketAction::drop : PacketAction::answer;
}

// A message that could not be read at all: malformed, as the policy says.
PacketDecision unreadable(PacketDecision d, const inspect::Engine& engine, const inspect::Client& client,
                          inspect::SteadyClock::time_point now, inspect::DecisionState& state,
                          MessageObserver* observer, dns::ParseError error) {
  d.decided.error = error;
  d.decided.verdict = engine.decide(nullptr, error, client, now, state);
  d.messages = 1;
  if (observer) observer->on_message(d.view ? &*d.view : nullptr, d.decided);
  const bool tcp = d.view && d.view->protocol == kProtoTcp;
  d.action = packet_action(d.decided.verdict, tcp);
  // A TCP segment we could not frame must not reach the resolver in any policy: what
  // follows it would complete a message we never saw.
  if (tcp) d.action = PacketAction::reset;
  return d;
}

// A packet longer than the queue copied: whatever the policy says of malformed
// messages, one we could not read whole never passes (it would pass uninspected).
PacketDecision truncated(PacketDecision d, const inspect::Engine& engine, const inspect::Client& client,
                         inspect::SteadyClock::time_point now, inspect::DecisionState& state,
                         MessageObserver* observer) {
  d = unreadable(std::move(d), engine, client, now, state, observer, dns::ParseError::truncated_record);
  d.action = PacketAction::drop;
  return d;
}

}  // namespace

PacketDecision decide_packet(const QueuedPacket& packet, const inspect::Engine& engine,
                             inspect::SteadyClock::time_point now, inspect::DecisionState& state,
                             MessageObserver* observer) {
  PacketDecision d;
  inspect::Client client;
  client.uid = packet.uid;
  if (packet.truncated) return truncated(std::move(d), engine, client, now, state, observer);
  d.view = parse_packet(packet.bytes);
  if (!d.view) return unreadable(std::move(d), engine, client, now, state, observer, dns::ParseError::truncated_header);
  client.address = d.view->source;
  const std::span<const uint8_t> payload = d.view->payload;

  if (d.view->protocol == kProtoUdp) {
    d.decided.message = payload;
    d.decided.error = dns::parse_query(payload, d.decided.query);
    d.decided.verdict = engine.decide(d.decided.parsed(), d.decided.error, client, now, state);
    d.messages = 1;
    if (observer) observer->on_message(&*d.view, d.decided);
    d.action = packet_action(d.decided.verdict, false);
    return d;
  }

  // TCP: segments without data (handshake, ACKs, FIN) carry no query.
  if (payload.empty()) return d;
  // Every framed message first: the segment passes only when all of them may.
  size_t pos = 0;
  while (pos < payload.size()) {
    if (payload.size() - pos < 2) break;
    const size_t length = load16(&payload[pos]);
    if (length > payload.size() - pos - 2) break;
    MessageDecision m;
    m.message = payload.subspan(pos + 2, length);
    m.error = dns::parse_query(m.message, m.query);
    m.verdict = engine.decide(m.parsed(), m.error, client, now, state);
    ++d.messages;
    if (observer) observer->on_message(&*d.view, m);
    pos += 2 + length;
    if (m.verdict.action != inspect::Action::accept) {
      d.decided = m;
      d.action = PacketAction::reset;
      return d;
    }
  }
  if (pos != payload.size()) {
    MessageDecision partial;
    partial.message = payload.subspan(pos);
    d.decided = partial;
    return unreadable(std::move(d), engine, client, now, state, observer, dns::ParseError::truncated_header);
  }
  return d;
}

bool build_injection(const PacketDecision& d, const inspect::Engine& engine, Injection& out) {
  out.dns_length = out.packet_length = 0;
  if (!d.view) return false;
  if (d.action == PacketAction::reset) {
    out.packet_length = build_tcp_reset(*d.view, out.packet);
    return out.packet_length != 0;
  }
  if (d.action != PacketAction::answer || !d.decided.parsed()) return false;
  out.dns_length = dns::build_response(d.decided.message, d.decided.query,
                                       engine.response_for(d.decided.verdict.action), out.dns);
  if (out.dns_length == 0) return false;
  out.packet_length = build_udp_reply(*d.view, out.dns_bytes(), out.packet);
  return out.packet_length != 0;
}

}  // namespace dnsguard::nfqueue
