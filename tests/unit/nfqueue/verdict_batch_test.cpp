#include "nfqueue/verdict_batch.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace dnsguard::nfqueue {
namespace {

using ::testing::ElementsAre;

TEST(VerdictBatcher, ConsecutiveAcceptsBecomeOneBatchAndDropsSplitThem) {
  VerdictBatcher b;
  b.accept(1);
  b.accept(2);
  b.drop(3);
  b.accept(4);
  b.accept(5);
  EXPECT_THAT(b.finish(), ElementsAre(VerdictMessage{true, 2, true}, VerdictMessage{false, 3, false},
                                      VerdictMessage{true, 5, true}));
  b.clear();
  EXPECT_TRUE(b.finish().empty());
}

TEST(VerdictBatcher, PacketIdZeroGetsItsVerdict) {
  // After 2^32 packets the kernel's id counter wraps and 0 is a real id.
  VerdictBatcher b;
  b.accept(0);
  EXPECT_THAT(b.finish(), ElementsAre(VerdictMessage{true, 0, true}));
}

TEST(VerdictBatcher, IdsThatWrapStayInOneBatch) {
  // The kernel compares ids in serial-number order: a batch up to 1 covers 0xFFFFFFFF.
  VerdictBatcher b;
  b.accept(0xFFFFFFFEu);
  b.accept(0xFFFFFFFFu);
  b.accept(0);
  b.accept(1);
  EXPECT_THAT(b.finish(), ElementsAre(VerdictMessage{true, 1, true}));
}

TEST(VerdictBatcher, WithoutBatchingEveryPacketHasItsOwnVerdict) {
  VerdictBatcher b(false);
  b.accept(7);
  b.drop(8);
  b.accept(9);
  EXPECT_THAT(b.finish(), ElementsAre(VerdictMessage{false, 7, true}, VerdictMessage{false, 8, false},
                                      VerdictMessage{false, 9, true}));
}

}  // namespace
}  // namespace dnsguard::nfqueue
