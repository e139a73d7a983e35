#include "control/controller.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "control/fake_kernel.hpp"
#include "control/policies.hpp"

namespace dnsguard::control {
namespace {

using ::testing::HasSubstr;
using testing::FakeKernel;
using testing::policy_text;

// A state directory of its own, removed afterwards.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/dnsguard-controller-test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

class ControllerTest : public ::testing::Test {
 protected:
  // A clock the test moves by hand, so confirm deadlines need no waiting.
  Clock::time_point now_ = Clock::time_point(std::chrono::hours(24 * 365 * 56));
  FakeKernel kernel_;
  telemetry::EventLog events_;
  TempDir dir_;

  std::unique_ptr<Controller> make() {
    ControllerOptions options;
    options.now = [this] { return now_; };
    auto c = std::make_unique<Controller>(kernel_, StateStore(dir_.path() / "state"), events_, options);
    auto started = c->start();
    EXPECT_TRUE(started.ok()) << (started.ok() ? "" : join_errors(started.errors()));
    return c;
  }

  std::vector<std::string> event_kinds() const {
    std::vector<std::string> out;
    for (const auto& e : events_.since(0)) out.push_back(e.kind);
    return out;
  }
};

TEST_F(ControllerTest, ApplyCommitsAndCountsGenerations) {
  auto c = make();
  auto r = c->apply({policy_text(1), "p.toml"}, {});
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  EXPECT_TRUE(r->committed);
  EXPECT_EQ(r->generation, 1u);
  EXPECT_EQ(r->policy.name, "test");
  EXPECT_EQ(r->policy.sha256.size(), 64u);
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_EQ(c->apply({policy_text(2), "p.toml"}, {})->generation, 2u);
  auto s = c->status();
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->enforcing);
  EXPECT_EQ(s->policy->version, 2);
  EXPECT_TRUE(s->has_previous);
  EXPECT_FALSE(s->drift);
}

// Traffic events (the inspector's, NFLOG's) carry the generation in force, also after a
// restart and a rollback.
TEST_F(ControllerTest, TrafficEventsCarryTheGenerationInForce) {
  auto traffic_generation = [this] {
    events_.publish(telemetry::Event{});
    return events_.since(0).back().generation;
  };
  {
    auto c = make();
    EXPECT_EQ(traffic_generation(), 0u);
    ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
    EXPECT_EQ(traffic_generation(), 1u);
    ASSERT_TRUE(c->apply({policy_text(2), "p.toml"}, {}).ok());
    ASSERT_TRUE(c->rollback().ok());
    EXPECT_EQ(traffic_generation(), 3u);
  }
  // A restarted agent (a fresh event log) stamps the saved generation from the start.
  telemetry::EventLog fresh;
  ControllerOptions options;
  options.now = [this] { return now_; };
  Controller restarted(kernel_, StateStore(dir_.path() / "state"), fresh, options);
  ASSERT_TRUE(restarted.start().ok());
  fresh.publish(telemetry::Event{});
  EXPECT_EQ(fresh.since(0).back().generation, 3u);
}

TEST_F(ControllerTest, ABadPolicyChangesNothing) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  const auto before = kernel_.table;
  auto r = c->apply({"[policy]\nname = \"x\"\n", "bad.toml"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].to_string(), "bad.toml:1:1: policy.version: missing (required)");
  EXPECT_EQ(kernel_.table, before);
  EXPECT_EQ(c->status()->generation, 1u);
}

TEST_F(ControllerTest, DryRunShowsTheDiffAndCommitsNothing) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  ApplyOptions dry;
  dry.dry_run = true;
  auto r = c->apply({policy_text(2, "192.0.2.54"), "p.toml"}, dry);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->committed);
  ASSERT_EQ(r->diff.set_changes.size(), 1u);
  EXPECT_THAT(r->diff.set_changes[0].added, ::testing::ElementsAre("192.0.2.54"));
  EXPECT_THAT(r->diff.set_changes[0].removed, ::testing::ElementsAre("192.0.2.53"));
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_EQ(c->status()->generation, 1u);
}

TEST_F(ControllerTest, AStalePlanIsDetected) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  auto plan = c->plan({policy_text(2), "p.toml"});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->base_generation, 1u);
  ASSERT_TRUE(c->apply({policy_text(5), "other.toml"}, {}).ok());  // someone else applied
  ApplyOptions expect;
  expect.expected_generation = plan->base_generation;
  auto stale = c->apply({policy_text(2), "p.toml"}, expect);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.errors()[0].code, ErrorCode::failed_precondition);
  EXPECT_THAT(stale.errors()[0].message, HasSubstr("generation is 2, the plan was made against 1"));
  expect.expected_generation = 2;
  EXPECT_TRUE(c->apply({policy_text(2), "p.toml"}, expect).ok());
}

TEST_F(ControllerTest, UnconfirmedApplyRollsBackByItself) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  ApplyOptions confirm;
  confirm.confirm_within = std::chrono::seconds(60);
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, confirm);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->confirm_deadline);
  EXPECT_THAT(*kernel_.table, HasSubstr("198.51.100.53"));
  // Another apply while waiting would bury the rescue: refused.
  EXPECT_EQ(c->apply({policy_text(3), "p.toml"}, {}).errors()[0].code, ErrorCode::failed_precondition);

  now_ += std::chrono::seconds(59);
  c->check_confirm_deadline();
  EXPECT_THAT(*kernel_.table, HasSubstr("198.51.100.53"));  // not yet
  now_ += std::chrono::seconds(2);
  c->check_confirm_deadline();
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  auto s = c->status();
  EXPECT_EQ(s->policy->version, 1);
  EXPECT_EQ(s->generation, 3u);
  EXPECT_FALSE(s->confirm_deadline);
  EXPECT_EQ(event_kinds().back(), "confirm_timeout");
}

TEST_F(ControllerTest, ConfirmedApplyStays) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  ApplyOptions confirm;
  confirm.confirm_within = std::chrono::seconds(60);
  ASSERT_TRUE(c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, confirm).ok());
  EXPECT_EQ(c->confirm().value(), 2u);
  now_ += std::chrono::hours(1);
  c->check_confirm_deadline();
  EXPECT_THAT(*kernel_.table, HasSubstr("198.51.100.53"));
  EXPECT_FALSE(c->confirm().ok());  // nothing left to confirm
}

TEST_F(ControllerTest, APendingConfirmationSurvivesARestart) {
  {
    auto c = make();
    ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
    ApplyOptions confirm;
    confirm.confirm_within = std::chrono::seconds(30);
    ASSERT_TRUE(c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, confirm).ok());
  }  // the agent goes away before the deadline
  now_ += std::chrono::seconds(31);
  auto c = make();  // and comes back after it
  c->check_confirm_deadline();
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_EQ(c->status()->policy->version, 1);
}

TEST_F(ControllerTest, FirstApplyUnconfirmedRemovesTheRules) {
  auto c = make();
  ApplyOptions confirm;
  confirm.confirm_within = std::chrono::seconds(5);
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, confirm).ok());
  now_ += std::chrono::seconds(6);
  c->check_confirm_deadline();
  EXPECT_FALSE(kernel_.table);
  EXPECT_FALSE(c->status()->enforcing);
}

TEST_F(ControllerTest, RollbackRestoresThePreviousPolicyAndTogglesBack) {
  auto c = make();
  EXPECT_EQ(c->rollback().errors()[0].message, "there is no previous policy to restore");
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  ASSERT_TRUE(c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {}).ok());
  auto r = c->rollback();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->policy.version, 1);
  EXPECT_EQ(r->generation, 3u);
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_EQ(c->rollback()->policy.version, 2);
}

TEST_F(ControllerTest, RestartReappliesTheSameGenerationWithoutDrift) {
  {
    auto c = make();
    ASSERT_TRUE(c->apply({policy_text(4), "p.toml"}, {}).ok());
  }
  kernel_.table.reset();  // a reboot: the kernel forgot everything
  auto c = make();
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  auto s = c->status();
  EXPECT_EQ(s->generation, 1u);
  EXPECT_EQ(s->policy->version, 4);
  EXPECT_FALSE(s->drift);
  EXPECT_THAT(event_kinds(), ::testing::Contains("drift"));  // the missing table was noticed
}

TEST_F(ControllerTest, HandEditsShowAsDrift) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  *kernel_.table += "\nrule added by hand";
  auto s = c->status();
  EXPECT_TRUE(s->drift);
  EXPECT_THAT(s->drift_detail, HasSubstr("+ rule added by hand"));
  kernel_.table.reset();
  EXPECT_EQ(c->status()->drift_detail, "table inet dnsguard is missing");
}

TEST_F(ControllerTest, AKernelRefusalLeavesStateAndRulesAsTheyWere) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  kernel_.refuse_next_apply = true;
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].code, ErrorCode::kernel);
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_EQ(c->status()->generation, 1u);
  auto restarted = make();  // the state on disk is the old one too
  EXPECT_EQ(restarted->status()->policy->version, 1);
}

TEST_F(ControllerTest, AnExceptionInTheBackendLeavesStateFileAndKernelAgreeing) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  kernel_.next_fault = FakeKernel::Fault::throws;
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.errors()[0].message, HasSubstr("the change was not made"));
  EXPECT_EQ(c->status()->generation, 1u);
  c.reset();
  kernel_.table.reset();  // a restart after a reboot applies what the state file says
  auto restarted = make();
  EXPECT_EQ(restarted->status()->policy->version, 1);
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_THAT(*kernel_.table, ::testing::Not(HasSubstr("198.51.100.53")));
}

TEST_F(ControllerTest, ALostAnswerAfterTheCommitIsTakenAsCommitted) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  kernel_.next_fault = FakeKernel::Fault::lost_after_commit;
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {});
  ASSERT_TRUE(r.ok()) << join_errors(r.errors());
  EXPECT_EQ(c->status()->generation, 2u);
  EXPECT_FALSE(c->status()->drift);
  std::string messages;
  for (const auto& e : events_.since(0)) messages += e.message + "\n";
  EXPECT_THAT(messages, HasSubstr("taken as committed"));
  c.reset();
  auto restarted = make();  // state file and kernel agree: no drift, the new policy
  EXPECT_EQ(restarted->status()->policy->version, 2);
  EXPECT_FALSE(restarted->status()->drift);
}

TEST_F(ControllerTest, ALostAnswerBeforeTheCommitIsARefusal) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  kernel_.next_fault = FakeKernel::Fault::lost_before_commit;
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].code, ErrorCode::kernel);
  EXPECT_THAT(r.errors()[0].message, HasSubstr("nothing was committed"));
  c.reset();
  auto restarted = make();
  EXPECT_EQ(restarted->status()->policy->version, 1);
}

TEST_F(ControllerTest, AnOutcomeThatCannotBeKnownIsReportedAsUnknown) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  kernel_.next_fault = FakeKernel::Fault::lost_after_commit;
  kernel_.table_unreadable = true;
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].code, ErrorCode::unknown_outcome);
  EXPECT_THAT(r.errors()[0].message, HasSubstr("reading the table back failed too"));
}

TEST_F(ControllerTest, AnUnwritableStateFileFailsTheApplyWithRulesUnchanged) {
  auto c = make();
  ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  // A directory where the temporary state file goes: unwritable even for root.
  std::filesystem::create_directory(dir_.path() / "state" / "state.json.tmp");
  auto r = c->apply({policy_text(2, "198.51.100.53"), "p.toml"}, {});
  std::filesystem::remove(dir_.path() / "state" / "state.json.tmp");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors()[0].code, ErrorCode::storage);
  EXPECT_THAT(r.errors()[0].message, HasSubstr("cannot write state"));
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
  EXPECT_EQ(c->status()->generation, 1u);
}

TEST_F(ControllerTest, DisableRemovesTheRulesAndARestartKeepsThemOff) {
  {
    auto c = make();
    ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
    EXPECT_EQ(c->disable().value(), 2u);
    EXPECT_FALSE(kernel_.table);
  }
  auto c = make();
  EXPECT_FALSE(kernel_.table);
  EXPECT_FALSE(c->status()->enforcing);
  EXPECT_EQ(c->rollback()->policy.version, 1);  // what was disabled can be restored
}

TEST_F(ControllerTest, ACrashBetweenWriteAndRenameLeavesALoadableState) {
  {
    auto c = make();
    ASSERT_TRUE(c->apply({policy_text(1), "p.toml"}, {}).ok());
  }
  // What a crash after writing the temporary file and before the rename leaves: the
  // old state plus a half-written temporary file.
  std::ofstream(dir_.path() / "state" / "state.json.tmp") << "{\"generation\": \"2\", \"enforcing\": tr";
  auto c = make();
  auto s = c->status();
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->generation, 1u);
  EXPECT_EQ(s->policy->version, 1);
  EXPECT_TRUE(c->apply({policy_text(2), "p.toml"}, {}).ok());  // and the next write replaces it
}

TEST_F(ControllerTest, ACorruptStateFileStopsTheStartWithAClearError) {
  std::filesystem::create_directories(dir_.path() / "state");
  std::ofstream(dir_.path() / "state" / "state.json") << "not json";
  ControllerOptions options;
  Controller c(kernel_, StateStore(dir_.path() / "state"), events_, options);
  auto started = c.start();
  ASSERT_FALSE(started.ok());
  EXPECT_THAT(started.errors()[0].message, HasSubstr("is not valid"));
  EXPECT_THAT(started.errors()[0].message, HasSubstr("move it away to start without state"));
}

TEST_F(ControllerTest, ConcurrentAppliesAreSerialized) {
  auto c = make();
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i)
        if (c->apply({policy_text(t * 10 + i), "p.toml"}, {}).ok()) ++ok;
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(ok.load(), 20);
  auto s = c->status();
  EXPECT_EQ(s->generation, 20u);  // every apply got its own generation
  EXPECT_FALSE(s->drift);         // and the kernel holds the last one committed
  EXPECT_EQ(kernel_.applies, 20);
}

TEST_F(ControllerTest, RequestInputIsCheckedBeforeParsing) {
  auto c = make();
  EXPECT_EQ(c->validate({"", "p.toml"}).errors()[0].to_string(), "p.toml: the policy is empty");
  EXPECT_EQ(c->validate({"[policy]\nname = \"\xff\"\n", "p.toml"}).errors()[0].to_string(),
            "p.toml: the policy is not UTF-8 text (invalid byte at offset 17)");
  EXPECT_THAT(c->validate({std::string(kMaxPolicyBytes + 1, '#'), "p.toml"}).errors()[0].message,
              HasSubstr("the limit is"));
}

}  // namespace
}  // namespace dnsguard::control
