#pragma once
// The per-packet decision: from the bytes the queue hands over to the verdict and the
// packet to inject. Pure: the queue thread does the I/O around it, and a fuzz target
// drives it from raw bytes.
//
// A UDP datagram is one DNS message: trailing bytes are malformed, and the queue is
// bound without NFQA_CFG_F_GSO so that a UDP_SEGMENT super-datagram arrives as the
// datagrams the resolver will receive. A TCP segment that reaches the queue must hold
// whole framed messages ([length][message]...); every one of them is decided and any
// block resets the connection. TCP DNS is normally not queued at all: the compiler
// redirects it to the agent's TCP proxy (nfqueue/tcp_proxy.hpp), which reads the stream
// as the resolver would. A segment that splits a message is therefore reset here rather
// than passed half-inspected.

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "dns/message.hpp"
#include "inspect/engine.hpp"
#include "nfqueue/packet.hpp"

namespace dnsguard::nfqueue {

enum class PacketAction : uint8_t {
  accept,
  drop,
  answer,  // drop, and answer the client from the resolver's address (UDP)
  reset,   // drop, and reset the client's connection (TCP)
};

// One DNS message of the packet and what the engine said of it.
struct MessageDecision {
  std::span<const uint8_t> message;
  dns::ParseError error = dns::ParseError::truncated_header;
  dns::Query query;  // meaningful when error == none
  inspect::Verdict verdict;
  const dns::Query* parsed() const { return error == dns::ParseError::none ? &query : nullptr; }
};

// Sees every message decided (for counters, events, dnstap) before the packet's verdict.
class MessageObserver {
 public:
  virtual void on_message(const PacketView* view, const MessageDecision& decided) = 0;

 protected:
  ~MessageObserver() = default;
};

struct PacketDecision {
  PacketAction action = PacketAction::accept;
  std::optional<PacketView> view;  // nullopt: not a whole UDP/TCP packet we can read
  // The message that decided a packet that is not accepted.
  MessageDecision decided;
  uint16_t messages = 0;  // DNS messages decided in this packet
};

struct QueuedPacket {
  std::span<const uint8_t> bytes;
  bool truncated = false;  // the queue copied less than the whole packet
  std::optional<uint32_t> uid;
};

PacketDecision decide_packet(const QueuedPacket& packet, const inspect::Engine& engine,
                             inspect::SteadyClock::time_point now, inspect::DecisionState& state,
                             MessageObserver* observer = nullptr);

// The packet to inject for an `answer` or `reset` decision.
struct Injection {
  std::array<uint8_t, 4096> dns{};  // the DNS answer (for dnstap), answers only
  size_t dns_length = 0;
  std::array<uint8_t, 4096 + 64> packet{};
  size_t packet_length = 0;
  std::span<const uint8_t> dns_bytes() const { return {dns.data(), dns_length}; }
  std::span<const uint8_t> packet_bytes() const { return {packet.data(), packet_length}; }
};

// Fills `out`; false when there is nothing to inject (accept, drop, or it did not fit).
bool build_injection(const PacketDecision& decision, const inspect::Engine& engine, Injection& out);

}  // namespace dnsguard::nfqueue
