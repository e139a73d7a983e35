// The IR's queue verdict lowers to the native nft `queue` expression or to the xtables
// NFQUEUE target, whichever the kernel has. The CI kernel has only the second, which the
// inspector integration test exercises; both lowerings are checked here, no kernel needed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "nft/backend.hpp"

namespace dnsguard::nft {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

ir::Rule queue_rule(uint16_t count, bool bypass) {
  ir::Rule r;
  r.chain = "egress";
  r.protocol = ir::L4Protocol::udp;
  r.destination_port = 53;
  r.verdict = ir::Verdict::queue;
  r.queue = ir::QueueSpec{0, count, bypass, true};
  return r;
}

TEST(QueueLowering, NativeQueueExpressionWithBypassAndFanout) {
  const auto text = describe_lowering(queue_rule(2, true), QueueBackend::native);
  EXPECT_THAT(text, HasSubstr("[ queue num 0-1 bypass fanout ]"));
  EXPECT_THAT(text, Not(HasSubstr("target")));
}

TEST(QueueLowering, FailClosedHasNoBypass) {
  EXPECT_THAT(describe_lowering(queue_rule(1, false), QueueBackend::native), HasSubstr("[ queue num 0 ]"));
}

TEST(QueueLowering, XtablesTargetThroughNftCompat) {
  const auto text = describe_lowering(queue_rule(2, true), QueueBackend::xt_compat);
  EXPECT_THAT(text, HasSubstr("[ target name NFQUEUE rev 3 ]"));
  EXPECT_THAT(text, Not(HasSubstr("queue num")));
}

TEST(QueueLowering, PortMatchIsNetworkOrder) {
  EXPECT_THAT(describe_lowering(queue_rule(1, true), QueueBackend::native),
              HasSubstr("[ payload load 2b @ transport header + 2 => reg 1 ]"));
}

}  // namespace
}  // namespace dnsguard::nft
