#pragma once
// A bounded in-memory ring of agent events that readers can page through and wait on.
// Writers never block on readers: when the ring is full the oldest event goes.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace dnsguard::telemetry {

struct Event {
  uint64_t sequence = 0;  // assigned by the log, increasing
  std::chrono::system_clock::time_point time;
  // apply | rollback | confirm | confirm_timeout | disable | drift | start (the agent's
  // own); block | malformed | rate_limited | tunnel (the inspector); bypass (a kernel
  // rule denied DNS to a host that is not a designated resolver); suppressed (a summary)
  std::string kind;
  std::string message;
  uint64_t generation = 0;
  std::string policy_name;
  int64_t policy_version = 0;
  std::string policy_sha256;
  // For traffic events; empty or 0 when not known.
  std::string client;        // source address
  uint16_t client_port = 0;
  std::optional<uint32_t> uid;  // the local socket's owner
  std::string user;          // its name, when the host knows it
  std::string destination;
  uint16_t destination_port = 0;
  std::string protocol;      // udp | tcp
  std::string qname;
  uint16_t qtype = 0;
  std::string rule;          // the rule, list or counter that matched
  std::string action;        // what was done: nxdomain, refused, drop, reject, ...
  // Tunneling detections: the registered domain held, what showed it, and the estimated
  // outbound information over the budget (1.0 = the budget).
  std::string registered_domain;
  std::vector<std::string> signals;
  double score = 0;
  uint64_t count = 1;        // events this one stands for (summaries)
};

// Keeps a flood of traffic events from flooding the log: up to `per_second` (with a
// burst) pass; the rest are counted, and the count goes out as one "suppressed" event
// once events may pass again. Cheap and lock-free enough for the packet path: each
// queue thread owns one.
class EventSampler {
 public:
  EventSampler(double per_second = 100, double burst = 200) : rate_(per_second), burst_(burst), tokens_(burst) {}
  // True when the event may be published; otherwise it is counted as suppressed
  // (unless `count` is false, as for the summary itself).
  bool admit(std::chrono::steady_clock::time_point now, bool count = true);
  // The number suppressed since the last call (for the summary), resetting it.
  uint64_t take_suppressed();

 private:
  double rate_, burst_, tokens_;
  std::chrono::steady_clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

class EventLog {
 public:
  explicit EventLog(size_t capacity = 4096) : capacity_(capacity) {}

  // Stamps the sequence number, the time and the generation in force (unless set),
  // stores, wakes waiters.
  void publish(Event event);
  // The policy generation in force, for events that do not know it (traffic events).
  void set_generation(uint64_t generation);
  // Events with sequence > after, oldest first.
  std::vector<Event> since(uint64_t after) const;
  // Blocks until an event with sequence > after exists, the timeout passes, or close().
  // Returns false only when closed.
  bool wait(uint64_t after, std::chrono::milliseconds timeout) const;
  // Wakes every waiter for good (agent shutting down).
  void close();
  // Events pushed out of the full ring, and events a sampler held back.
  uint64_t dropped() const;
  void count_suppressed(uint64_t n);
  uint64_t suppressed() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<Event> ring_;
  uint64_t next_sequence_ = 1;
  uint64_t generation_ = 0;
  uint64_t dropped_ = 0;
  uint64_t suppressed_ = 0;
  bool closed_ = false;
};

}  // namespace dnsguard::telemetry
