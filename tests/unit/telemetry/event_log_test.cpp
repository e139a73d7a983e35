#include "telemetry/event_log.hpp"

#include <gtest/gtest.h>

namespace dnsguard::telemetry {
namespace {

Event of_kind(std::string kind) {
  Event e;
  e.kind = std::move(kind);
  return e;
}

TEST(EventLog, RingIsBoundedAndCountsWhatItDrops) {
  EventLog log(3);
  for (int i = 0; i < 10; ++i) log.publish(of_kind("block"));
  const auto events = log.since(0);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events.front().sequence, 8u);
  EXPECT_EQ(log.dropped(), 7u);
  EXPECT_EQ(log.since(9).size(), 1u);
}

TEST(EventSampler, AMillionEventsPassAtTheRateAndTheRestAreCounted) {
  EventSampler sampler(100, 200);
  auto now = std::chrono::steady_clock::time_point(std::chrono::seconds(1000));
  uint64_t admitted = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    if (i % 1000 == 0) now += std::chrono::milliseconds(1);  // a million in one second
    admitted += sampler.admit(now);
  }
  EXPECT_GE(admitted, 200u);   // the burst
  EXPECT_LE(admitted, 310u);   // plus about 100 for the second
  EXPECT_EQ(sampler.take_suppressed(), 1'000'000 - admitted);
  EXPECT_EQ(sampler.take_suppressed(), 0u);
  EXPECT_FALSE(sampler.admit(now, false));  // a refused summary is not counted
  EXPECT_EQ(sampler.take_suppressed(), 0u);
}

TEST(EventLog, WaitWakesOnPublishAndOnClose) {
  EventLog log;
  EXPECT_TRUE(log.wait(0, std::chrono::milliseconds(1)));  // timeout: still open
  log.publish(of_kind("apply"));
  EXPECT_TRUE(log.wait(0, std::chrono::seconds(10)));      // returns at once: there is one
  log.close();
  EXPECT_FALSE(log.wait(1, std::chrono::seconds(10)));     // closed
}

}  // namespace
}  // namespace dnsguard::telemetry

namespace dnsguard::telemetry {
namespace {

// Traffic events (the inspector's, NFLOG's) do not know the generation; the log stamps
// the one in force, and keeps an event's own.
TEST(EventLog, EventsCarryTheGenerationInForce) {
  EventLog log;
  log.publish(Event{});
  log.set_generation(3);
  log.publish(Event{});
  Event own;
  own.generation = 2;
  log.publish(own);
  const auto all = log.since(0);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].generation, 0u);
  EXPECT_EQ(all[1].generation, 3u);
  EXPECT_EQ(all[2].generation, 2u);
}

}  // namespace
}  // namespace dnsguard::telemetry
