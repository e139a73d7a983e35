#pragma once
// The agent's domain logic: validate, plan, apply (with dry-run and confirm-or-revert),
// confirm, rollback, disable, status and stats. It owns the running policy and the
// state directory; the kernel is reached only through nft::Kernel and time only
// through a clock, so all of it is testable without root.
//
// Every state change is written to disk before the kernel is touched: a full or
// read-only disk fails the request with the rules unchanged, and after a crash the
// agent re-applies what the state file says.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "compiler/diff.hpp"
#include "ir/ruleset.hpp"
#include "control/state_store.hpp"
#include "inspect/engine.hpp"
#include "inspect/runtime.hpp"
#include "nft/backend.hpp"
#include "policy/policy.hpp"
#include "telemetry/event_log.hpp"

namespace dnsguard::control {

using Clock = std::chrono::system_clock;

// Largest policy text the agent accepts (a policy with about a million prefixes).
inline constexpr size_t kMaxPolicyBytes = 48u << 20;

struct PolicySource {
  std::string text;
  std::string file_name = "policy.toml";
};

struct PolicyInfo {
  std::string name;
  int64_t version = 0;
  std::string sha256;
  std::string file_name;
};

struct PlanResult {
  PolicyInfo policy;
  ir::RulesetDiff diff;
  uint64_t base_generation = 0;
  std::string nft_text;
};

struct ApplyOptions {
  bool dry_run = false;
  std::chrono::seconds confirm_within{0};
  uint64_t expected_generation = 0;  // 0: do not check
};

struct ApplyResult {
  PolicyInfo policy;
  bool committed = false;
  uint64_t generation = 0;
  ir::RulesetDiff diff;
  std::optional<Clock::time_point> confirm_deadline;
  nft::TransactionStats stats;
};

struct AgentStatus {
  bool enforcing = false;
  std::optional<PolicyInfo> policy;
  uint64_t generation = 0;
  std::optional<Clock::time_point> applied_at;
  std::optional<Clock::time_point> confirm_deadline;
  nft::KernelFeatures kernel;
  std::string fail_mode;  // inspector fail mode; empty when the policy does not inspect
  bool drift = false;
  std::string drift_detail;
  bool has_previous = false;
  // The last apply or rollback this agent process made: validating, compiling, loading
  // lists and committing to the kernel.
  std::optional<std::chrono::nanoseconds> last_apply_duration;
  uint64_t applies = 0;  // applies and rollbacks committed since the agent started
};

struct CounterStat {
  std::string name;
  std::string description;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct Stats {
  uint64_t generation = 0;
  std::vector<CounterStat> counters;
  std::vector<inspect::RuntimeCounter> inspector;
};

struct ControllerOptions {
  policy::LoadOptions load;
  std::function<Clock::time_point()> now = [] { return Clock::now(); };
  // The packet path for policies with [inspect] enabled; without it such policies are
  // refused.
  inspect::Runtime* inspector = nullptr;
};

class Controller {
 public:
  Controller(nft::Kernel& kernel, StateStore store, telemetry::EventLog& events,
             ControllerOptions options = {});
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Loads the state, probes the kernel and re-applies the current policy (repairing
  // drift), then resolves or re-arms a pending confirmation. Call once, before serving.
  Status start();

  Result<PolicyInfo> validate(const PolicySource& source) const;
  Result<PlanResult> plan(const PolicySource& source);
  Result<ApplyResult> apply(const PolicySource& source, const ApplyOptions& options);
  Result<uint64_t> confirm();
  Result<ApplyResult> rollback();
  Result<uint64_t> disable();
  Result<AgentStatus> status();
  Result<Stats> stats();
  // Whether the running policy asks for JSON event lines on stdout ([telemetry] events).
  bool events_to_stdout();
  // [telemetry] metrics of the running policy ("HOST:PORT"); empty when off.
  std::string metrics_address();

  // Applies the rollback when a confirmation deadline has passed. The controller's own
  // timer thread calls this; tests call it directly with a fake clock.
  void check_confirm_deadline();

 private:
  struct Compiled {
    policy::Policy policy;
    ir::Ruleset ruleset;
    PolicyInfo info;
    std::shared_ptr<const inspect::Engine> engine;  // with [inspect] enabled
  };

  Result<Compiled> compile(const PolicySource& source) const;
  // Points the inspector at `compiled`'s engine, or stops it when there is none.
  Status set_inspector(const std::optional<Compiled>& compiled);
  Result<nft::TransactionStats> resolve_unknown(const Result<nft::TransactionStats>& lost);
  // Stops the queues beyond those `compiled`'s rules use.
  void shrink_inspector(const std::optional<Compiled>& compiled);
  // Writes `next` and then makes the kernel match it; restores the old state file if
  // the kernel refuses. `ruleset` is nullopt to remove our table.
  Result<nft::TransactionStats> commit(AgentState next, const std::optional<Compiled>& compiled);
  Result<ApplyResult> rollback_locked(const std::string& reason, const std::string& event_kind);
  void record_table();
  void publish(const std::string& kind, const std::string& message);
  // The change from the running ruleset to `target` (none: no rules).
  ir::RulesetDiff diff_from_running(const ir::Ruleset* target) const;
  // The epilogue of apply and rollback once the kernel took the transaction.
  void record_commit(ApplyResult& result, const nft::TransactionStats& stats,
                     std::chrono::steady_clock::time_point started);
  void timer_loop();

  nft::Kernel& kernel_;
  StateStore store_;
  telemetry::EventLog& events_;
  ControllerOptions options_;

  std::mutex mutex_;  // serializes every request that reads or changes state
  AgentState state_;
  std::optional<Compiled> running_;  // the compiled current policy, while enforcing
  static nft::ReadOptions read_options(const std::optional<Compiled>& compiled);
  void set_running(std::optional<Compiled> compiled);
  std::string applied_fingerprint_;  // our table as read back right after our apply
  std::optional<std::chrono::nanoseconds> last_apply_duration_;
  // The running policy's [telemetry], readable without mutex_ (which an apply holds for
  // its whole kernel commit): the agent's main loop and event printer poll it.
  mutable std::mutex telemetry_mutex_;
  policy::Telemetry telemetry_;
  uint64_t applies_ = 0;
  nft::KernelFeatures features_;

  std::condition_variable timer_wakeup_;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace dnsguard::control
