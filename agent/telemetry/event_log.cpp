#include "telemetry/event_log.hpp"

namespace dnsguard::telemetry {

void EventLog::publish(Event event) {
  {
    std::lock_guard lock(mutex_);
    event.sequence = next_sequence_++;
    if (event.time == std::chrono::system_clock::time_point{})
      event.time = std::chrono::system_clock::now();
    ring_.push_back(std::move(event));
    if (ring_.size() > capacity_) {
      ring_.pop_front();
      ++dropped_;
    }
  }
  changed_.notify_all();
}

std::vector<Event> EventLog::since(uint64_t after) const {
  std::lock_guard lock(mutex_);
  std::vector<Event> out;
  for (const auto& e : ring_)
    if (e.sequence > after) out.push_back(e);
  return out;
}

bool EventLog::wait(uint64_t after, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  changed_.wait_for(lock, timeout, [&] { return closed_ || next_sequence_ - 1 > after; });
  return !closed_;
}

void EventLog::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  changed_.notify_all();
}

uint64_t EventLog::dropped() const {
  std::lock_guard lock(mutex_);
  return dropped_;
}

}  // namespace dnsguard::telemetry
