#pragma once
// A bounded in-memory ring of agent events that readers can page through and wait on.
// Writers never block on readers: when the ring is full the oldest event goes.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace dnsguard::telemetry {

struct Event {
  uint64_t sequence = 0;  // assigned by the log, increasing
  std::chrono::system_clock::time_point time;
  std::string kind;       // apply | rollback | confirm | confirm_timeout | disable | drift | start
  std::string message;
  uint64_t generation = 0;
  std::string policy_name;
  int64_t policy_version = 0;
  std::string policy_sha256;
};

class EventLog {
 public:
  explicit EventLog(size_t capacity = 4096) : capacity_(capacity) {}

  // Stamps the sequence number and time (unless set), stores, wakes waiters.
  void publish(Event event);
  // Events with sequence > after, oldest first.
  std::vector<Event> since(uint64_t after) const;
  // Blocks until an event with sequence > after exists, the timeout passes, or close().
  // Returns false only when closed.
  bool wait(uint64_t after, std::chrono::milliseconds timeout) const;
  // Wakes every waiter for good (agent shutting down).
  void close();
  uint64_t dropped() const;

 private:
  const size_t capacity_;
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::deque<Event> ring_;
  uint64_t next_sequence_ = 1;
  uint64_t dropped_ = 0;
  bool closed_ = false;
};

}  // namespace dnsguard::telemetry
