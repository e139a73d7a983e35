#include "telemetry/event_log.hpp"

#include <algorithm>

namespace dnsguard::telemetry {

void EventLog::publish(Event event) {
  {
    std::lock_guard lock(mutex_);
    event.sequence = next_sequence_++;
    if (event.time == std::chrono::system_clock::time_point{})
      event.time = std::chrono::system_clock::now();
    if (event.generation == 0) event.generation = generation_;
    ring_.push_back(std::move(event));
    if (ring_.size() > capacity_) {
      ring_.pop_front();
      ++dropped_;
    }
  }
  changed_.notify_all();
}

void EventLog::set_generation(uint64_t generation) {
  std::lock_guard lock(mutex_);
  generation_ = generation;
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

void EventLog::count_suppressed(uint64_t n) {
  std::lock_guard lock(mutex_);
  suppressed_ += n;
}

uint64_t EventLog::suppressed() const {
  std::lock_guard lock(mutex_);
  return suppressed_;
}

bool EventSampler::admit(std::chrono::steady_clock::time_point now, bool count) {
  if (last_ != std::chrono::steady_clock::time_point{})
    tokens_ = std::min(burst_, tokens_ + std::chrono::duration<double>(now - last_).count() * rate_);
  last_ = now;
  if (tokens_ >= 1) {
    tokens_ -= 1;
    return true;
  }
  if (count) ++suppressed_;
  return false;
}

uint64_t EventSampler::take_suppressed() {
  const uint64_t n = suppressed_;
  suppressed_ = 0;
  return n;
}

}  // namespace dnsguard::telemetry
