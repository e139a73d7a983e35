#include "control/controller.hpp"

#include <algorithm>
#include <sstream>

#include "common/sha256.hpp"
#include "compiler/compile.hpp"

namespace dnsguard::control {
namespace {

int64_t to_unix_ms(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

Clock::time_point from_unix_ms(int64_t ms) { return Clock::time_point(std::chrono::milliseconds(ms)); }

Error precondition(std::string message) {
  return make_error(ErrorCode::failed_precondition, std::move(message));
}

// Index of the first byte that breaks UTF-8, or npos.
size_t invalid_utf8_at(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (len == 0 || i + len > s.size()) return i;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return i;
    i += len;
  }
  return std::string_view::npos;
}

// Lines of `a` missing from `b`, at most `limit`, for a drift report.
std::vector<std::string> missing_lines(const std::string& a, const std::string& b, size_t limit) {
  std::vector<std::string> la, lb, out;
  std::istringstream sa(a), sb(b);
  for (std::string l; std::getline(sa, l);) la.push_back(l);
  for (std::string l; std::getline(sb, l);) lb.push_back(l);
  std::sort(la.begin(), la.end());
  std::sort(lb.begin(), lb.end());
  std::set_difference(la.begin(), la.end(), lb.begin(), lb.end(), std::back_inserter(out));
  if (out.size() > limit) out.resize(limit);
  return out;
}

}  // namespace

Controller::Controller(nft::Kernel& kernel, StateStore store, telemetry::EventLog& events,
                       ControllerOptions options)
    : kernel_(kernel), store_(std::move(store)), events_(events), options_(std::move(options)) {}

Controller::~Controller() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  timer_wakeup_.notify_all();
  if (timer_.joinable()) timer_.join();
}

Result<Controller::Compiled> Controller::compile(const PolicySource& source) const {
  const std::string& name = source.file_name.empty() ? std::string("policy.toml") : source.file_name;
  const SourceLocation where{name, 0, 0};
  if (source.text.empty()) return make_error(where, "", "the policy is empty");
  if (source.text.size() > kMaxPolicyBytes)
    return make_error(where, "",
                      "the policy is " + std::to_string(source.text.size()) + " bytes; the limit is " +
                          std::to_string(kMaxPolicyBytes));
  if (const size_t at = invalid_utf8_at(source.text); at != std::string_view::npos)
    return make_error(where, "", "the policy is not UTF-8 text (invalid byte at offset " + std::to_string(at) + ")");

  auto loaded = policy::load_policy_text(source.text, name, options_.load);
  if (!loaded) return loaded.errors();
  Compiled c{std::move(loaded).value(), {}, {}, nullptr};
  c.ruleset = compiler::compile(c.policy);
  c.info = PolicyInfo{c.policy.name, c.policy.version, sha256_hex(source.text), name};
  if (c.policy.inspect.enabled) {
    if (!options_.inspector)
      return make_error(SourceLocation{name, 0, 0}, "inspect.enabled",
                        "this agent runs without the inspector; it cannot enforce [inspect]");
    // Block lists load here, before anything is committed: a bad list fails the request.
    auto engine = inspect::Engine::build(c.policy);
    if (!engine) return engine.errors();
    c.engine = std::move(engine).value();
  }
  return c;
}

Status Controller::set_inspector(const std::optional<Compiled>& compiled) {
  if (!options_.inspector) return ok_status();
  if (!compiled || !compiled->engine) {
    options_.inspector->stop();
    return ok_status();
  }
  const auto& in = compiled->policy.inspect;
  auto s = options_.inspector->configure(compiled->engine, in.queues, in.fail == policy::FailMode::open);
  if (!s) return with_code(s.errors(), ErrorCode::kernel);
  return ok_status();
}

void Controller::shrink_inspector(const std::optional<Compiled>& compiled) {
  if (!options_.inspector) return;
  options_.inspector->shrink(compiled && compiled->engine ? compiled->policy.inspect.queues : 0);
}

void Controller::publish(const std::string& kind, const std::string& message) {
  telemetry::Event e;
  e.time = options_.now();
  e.kind = kind;
  e.message = message;
  e.generation = state_.generation();
  if (running_) {
    e.policy_name = running_->info.name;
    e.policy_version = running_->info.version;
    e.policy_sha256 = running_->info.sha256;
  }
  events_.publish(std::move(e));
}

// What the read-back compares: every set element, except in the sets too large to read
// back in reasonable time (their definitions are still compared).
nft::ReadOptions Controller::read_options(const std::optional<Compiled>& compiled) {
  nft::ReadOptions options;
  if (compiled)
    for (const auto& set : compiled->ruleset.sets)
      if (set.elements.size() > nft::kLargeSetRanges) options.sets_without_elements.push_back(set.name);
  return options;
}

void Controller::set_running(std::optional<Compiled> compiled) {
  events_.set_generation(state_.generation());  // the generation traffic events carry
  running_ = std::move(compiled);
  std::lock_guard lock(telemetry_mutex_);
  telemetry_ = running_ ? running_->policy.telemetry : policy::Telemetry{};
}

// Reads our table back right after we wrote it: the reference for drift.
void Controller::record_table() {
  auto live = kernel_.read_table(read_options(running_));
  applied_fingerprint_ = live && live.value() ? live.value()->fingerprint : std::string();
}

Status Controller::start() {
  std::lock_guard lock(mutex_);
  if (auto s = store_.prepare(); !s) return with_code(s.errors(), ErrorCode::storage);
  auto loaded = store_.load();
  if (!loaded) return with_code(loaded.errors(), ErrorCode::storage);
  state_ = std::move(loaded).value();
  events_.set_generation(state_.generation());  // traffic events from the first packet on

  auto features = kernel_.probe();
  if (!features) return with_code(features.errors(), ErrorCode::kernel);
  features_ = features.value();

  if (state_.enforcing()) {
    auto compiled = compile({state_.current().text(), state_.current().file_name()});
    if (!compiled) {
      Errors errors = compiled.errors();
      errors.insert(errors.begin(), make_error(ErrorCode::invalid_input,
                                               "the saved policy no longer loads on this host:"));
      return errors;
    }
    // Someone changed our table while the agent was away: say so, then repair it.
    if (auto live = kernel_.read_table(read_options(compiled.value())); live) {
      const bool missing = !live.value();
      if (missing || sha256_hex(live.value()->fingerprint) != state_.applied_table_sha256()) {
        set_running(compiled.value());  // the event names the policy
        publish("drift", missing ? "table inet dnsguard was missing at start-up; re-applied"
                                 : "table inet dnsguard was changed outside the agent; re-applied");
      }
    }
    // The queues are served before the rules send packets to them.
    if (auto s = set_inspector(compiled.value()); !s) return s.errors();
    auto applied = kernel_.apply(compiled->ruleset);
    if (!applied) return with_code(applied.errors(), ErrorCode::kernel);
    set_running(std::move(compiled).value());
    record_table();
    state_.set_applied_table_sha256(sha256_hex(applied_fingerprint_));
    if (auto s = store_.save(state_); !s) return with_code(s.errors(), ErrorCode::storage);
    publish("start", "agent started; policy re-applied at generation " + std::to_string(state_.generation()));
  } else {
    publish("start", "agent started; no policy is enforced");
  }
  timer_ = std::thread([this] { timer_loop(); });
  return ok_status();
}

Result<PolicyInfo> Controller::validate(const PolicySource& source) const {
  auto c = compile(source);
  if (!c) return c.errors();
  return c->info;
}

Result<PlanResult> Controller::plan(const PolicySource& source) {
  auto c = compile(source);
  if (!c) return c.errors();
  std::lock_guard lock(mutex_);
  return PlanResult{c->info, diff_from_running(&c->ruleset), state_.generation(), ir::render_nft(c->ruleset)};
}

Result<nft::TransactionStats> Controller::commit(AgentState next,
                                                  const std::optional<Compiled>& compiled) {
  if (auto s = store_.save(next); !s)
    return with_code(s.errors(), ErrorCode::storage);  // nothing in the kernel changed
  // Until the kernel has committed, any way out of here (an error, an exception such as
  // bad_alloc) puts the previous state file and engine back: a restart must never
  // enforce a policy the caller was told had failed.
  bool committed = false;
  const bool inspects = compiled && compiled->engine;
  auto restore = [&] {
    (void)store_.save(state_);
    if (inspects) {
      (void)set_inspector(running_);
      shrink_inspector(running_);
    }
  };
  try {
    // A new inspector engine goes in before the rules that queue to it; an inspector that
    // is no longer needed stops after its rules are gone.
    if (inspects) {
      if (auto s = set_inspector(compiled); !s) {
        (void)store_.save(state_);
        return s.errors();
      }
    }
    Result<nft::TransactionStats> applied = nft::TransactionStats{};
    if (compiled) {
      applied = kernel_.apply(compiled->ruleset);
    } else if (auto removed = kernel_.remove(); !removed) {
      applied = removed.errors();
    }
    if (!applied && applied.errors().front().code == ErrorCode::unknown_outcome) applied = resolve_unknown(applied);
    if (!applied) {
      // The kernel kept the previous rules; put the previous state (and engine) back too.
      // (An outcome still unknown is reported as such; the previous state stays the one
      // a restart enforces, and a table that did change shows as drift meanwhile.)
      restore();
      if (applied.errors().front().code == ErrorCode::unknown_outcome) return applied.errors();
      return with_code(applied.errors(), ErrorCode::kernel);
    }
    committed = true;
    // Queues the new rules no longer use stop only now: until the commit the old rules
    // still sent packets to them.
    if (inspects) shrink_inspector(compiled);
    if (!inspects) (void)set_inspector(std::nullopt);
    state_ = std::move(next);
    set_running(compiled);
    record_table();
    state_.set_applied_table_sha256(sha256_hex(applied_fingerprint_));
    (void)store_.save(state_);  // the fingerprint only speeds up drift checks at start
    timer_wakeup_.notify_all();
    return applied;
  } catch (const std::exception& e) {
    if (committed) throw;  // the kernel and the state file agree; the caller reports it
    try {
      restore();
    } catch (...) {
    }
    return make_error(ErrorCode::internal, std::string("the change was not made: ") + e.what());
  }
}

// The kernel's answer to a commit was lost. Our own table tells: if it is still the one
// recorded after the last commit, nothing changed; if it changed, the commit went in.
// When the table cannot be read either, the outcome stays unknown, and the error says so.
Result<nft::TransactionStats> Controller::resolve_unknown(const Result<nft::TransactionStats>& lost) {
  const std::string why = lost.errors().front().message;
  auto live = kernel_.read_table(read_options(running_));
  if (!live) return make_error(ErrorCode::unknown_outcome, why + "; reading the table back failed too");
  const std::string now = live.value() ? live.value()->fingerprint : std::string();
  if (now == applied_fingerprint_)
    return make_error(ErrorCode::kernel, why + "; the table is as it was, so nothing was committed");
  publish("apply", "the kernel's answer was lost (" + why + "), but table inet dnsguard changed: taken as committed");
  return nft::TransactionStats{};
}

ir::RulesetDiff Controller::diff_from_running(const ir::Ruleset* target) const {
  const ir::Ruleset empty;
  return ir::diff(running_ ? running_->ruleset : empty, target ? *target : empty);
}

void Controller::record_commit(ApplyResult& result, const nft::TransactionStats& stats,
                               std::chrono::steady_clock::time_point started) {
  result.committed = true;
  result.generation = state_.generation();
  result.stats = stats;
  last_apply_duration_ = std::chrono::steady_clock::now() - started;
  ++applies_;
}

Result<ApplyResult> Controller::apply(const PolicySource& source, const ApplyOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  auto c = compile(source);
  if (!c) return c.errors();
  std::lock_guard lock(mutex_);
  if (options.expected_generation != 0 && options.expected_generation != state_.generation())
    return precondition("the running policy changed since the plan: generation is " +
                        std::to_string(state_.generation()) + ", the plan was made against " +
                        std::to_string(options.expected_generation) + "; plan again");
  if (state_.confirm_deadline_unix_ms() != 0 && !options.dry_run)
    return precondition("generation " + std::to_string(state_.generation()) +
                        " is waiting for confirmation; run `dnsguardctl confirm` or `dnsguardctl "
                        "rollback` first");

  ApplyResult result;
  result.policy = c->info;
  result.diff = diff_from_running(&c->ruleset);
  result.generation = state_.generation();
  if (options.dry_run) return result;

  AgentState next = state_;
  if (state_.enforcing()) *next.mutable_previous() = state_.current();
  next.mutable_current()->set_text(source.text);
  next.mutable_current()->set_file_name(c->info.file_name);
  next.set_enforcing(true);
  next.set_generation(state_.generation() + 1);
  const auto now = options_.now();
  next.set_applied_at_unix_ms(to_unix_ms(now));
  next.set_confirm_deadline_unix_ms(options.confirm_within.count() > 0
                                        ? to_unix_ms(now + options.confirm_within)
                                        : 0);
  auto stats = commit(std::move(next), c.value());
  if (!stats) return stats.errors();
  record_commit(result, stats.value(), started);
  if (state_.confirm_deadline_unix_ms() != 0)
    result.confirm_deadline = from_unix_ms(state_.confirm_deadline_unix_ms());
  publish("apply", "applied " + c->info.name + " version " + std::to_string(c->info.version) +
                       (result.confirm_deadline ? " (confirm within " +
                                                      std::to_string(options.confirm_within.count()) + "s)"
                                                : ""));
  return result;
}

Result<uint64_t> Controller::confirm() {
  std::lock_guard lock(mutex_);
  if (state_.confirm_deadline_unix_ms() == 0) return precondition("no apply is waiting for confirmation");
  AgentState next = state_;
  next.set_confirm_deadline_unix_ms(0);
  if (auto s = store_.save(next); !s) return with_code(s.errors(), ErrorCode::storage);
  state_ = std::move(next);
  publish("confirm", "generation " + std::to_string(state_.generation()) + " confirmed");
  return state_.generation();
}

Result<ApplyResult> Controller::rollback_locked(const std::string& reason, const std::string& kind) {
  const auto started = std::chrono::steady_clock::now();
  AgentState next = state_;
  next.set_generation(state_.generation() + 1);
  next.set_applied_at_unix_ms(to_unix_ms(options_.now()));
  next.set_confirm_deadline_unix_ms(0);
  std::optional<Compiled> target;
  if (state_.has_previous()) {
    auto c = compile({state_.previous().text(), state_.previous().file_name()});
    if (!c) {
      Errors errors = c.errors();
      errors.insert(errors.begin(), precondition("the previous policy no longer loads on this host:"));
      return errors;
    }
    target = std::move(c).value();
    *next.mutable_current() = state_.previous();
    if (state_.enforcing())
      *next.mutable_previous() = state_.current();
    else
      next.clear_previous();
    next.set_enforcing(true);
  } else {
    // The first policy ever applied had nothing before it: going back means no rules.
    next.set_enforcing(false);
    next.clear_previous();
  }
  ApplyResult result;
  result.diff = diff_from_running(target ? &target->ruleset : nullptr);
  auto stats = commit(std::move(next), target);
  if (!stats) return stats.errors();
  record_commit(result, stats.value(), started);
  if (running_) result.policy = running_->info;
  publish(kind, reason + (running_ ? "; restored " + running_->info.name + " version " +
                                         std::to_string(running_->info.version)
                                   : "; no previous policy, rules removed"));
  return result;
}

Result<ApplyResult> Controller::rollback() {
  std::lock_guard lock(mutex_);
  if (!state_.has_previous() && state_.confirm_deadline_unix_ms() == 0)
    return precondition("there is no previous policy to restore");
  return rollback_locked("rollback requested", "rollback");
}

void Controller::check_confirm_deadline() {
  std::lock_guard lock(mutex_);
  const int64_t deadline = state_.confirm_deadline_unix_ms();
  if (deadline == 0 || to_unix_ms(options_.now()) < deadline) return;
  auto r = rollback_locked("generation " + std::to_string(state_.generation()) +
                               " was not confirmed in time",
                           "confirm_timeout");
  if (!r) publish("confirm_timeout", "automatic rollback failed: " + join_errors(r.errors()));
}

void Controller::timer_loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    const int64_t deadline = state_.confirm_deadline_unix_ms();
    if (deadline == 0) {
      timer_wakeup_.wait(lock);
      continue;
    }
    // Wall-clock deadline (it survives restarts); re-check at least every second so
    // a clock step does not delay the rescue.
    const auto wait = std::min<std::chrono::milliseconds>(
        std::chrono::milliseconds(std::max<int64_t>(deadline - to_unix_ms(options_.now()), 0)),
        std::chrono::seconds(1));
    timer_wakeup_.wait_for(lock, wait);
    if (stopping_) break;
    if (state_.confirm_deadline_unix_ms() != 0 && to_unix_ms(options_.now()) >= state_.confirm_deadline_unix_ms()) {
      lock.unlock();
      std::string failure;
      try {  // nothing may leave the timer thread: it is what rolls a bad apply back
        check_confirm_deadline();
      } catch (const std::exception& e) {
        failure = e.what();
      }
      lock.lock();
      if (!failure.empty()) publish("confirm_timeout", "rolling back failed: " + failure + "; trying again");
    }
  }
}

Result<uint64_t> Controller::disable() {
  std::lock_guard lock(mutex_);
  AgentState next = state_;
  next.set_generation(state_.generation() + 1);
  next.set_enforcing(false);
  next.set_confirm_deadline_unix_ms(0);
  if (state_.enforcing()) *next.mutable_previous() = state_.current();
  auto removed = commit(std::move(next), std::nullopt);
  if (!removed) return removed.errors();
  publish("disable", "rules removed; the agent keeps running");
  return state_.generation();
}

Result<AgentStatus> Controller::status() {
  std::lock_guard lock(mutex_);
  AgentStatus s;
  s.enforcing = state_.enforcing();
  s.generation = state_.generation();
  s.kernel = features_;
  s.has_previous = state_.has_previous();
  s.last_apply_duration = last_apply_duration_;
  s.applies = applies_;
  if (running_) {
    s.policy = running_->info;
    if (running_->policy.inspect.enabled)
      s.fail_mode = running_->policy.inspect.fail == policy::FailMode::open ? "open" : "closed";
  }
  if (state_.applied_at_unix_ms() != 0) s.applied_at = from_unix_ms(state_.applied_at_unix_ms());
  if (state_.confirm_deadline_unix_ms() != 0)
    s.confirm_deadline = from_unix_ms(state_.confirm_deadline_unix_ms());

  auto live = kernel_.read_table(read_options(running_));
  if (!live) return with_code(live.errors(), ErrorCode::kernel);
  if (s.enforcing && !live.value()) {
    s.drift = true;
    s.drift_detail = "table inet dnsguard is missing";
  } else if (!s.enforcing && live.value()) {
    s.drift = true;
    s.drift_detail = "table inet dnsguard exists but the agent enforces no policy";
  } else if (s.enforcing && live.value()->fingerprint != applied_fingerprint_) {
    s.drift = true;
    std::string detail = "table inet dnsguard differs from what the agent applied";
    for (const auto& l : missing_lines(live.value()->fingerprint, applied_fingerprint_, 3))
      detail += "\n  + " + l;
    for (const auto& l : missing_lines(applied_fingerprint_, live.value()->fingerprint, 3))
      detail += "\n  - " + l;
    s.drift_detail = detail;
  }
  return s;
}

bool Controller::events_to_stdout() {
  std::lock_guard lock(telemetry_mutex_);
  return telemetry_.events_stdout;
}

std::string Controller::metrics_address() {
  std::lock_guard lock(telemetry_mutex_);
  return telemetry_.metrics;
}

Result<Stats> Controller::stats() {
  std::lock_guard lock(mutex_);
  Stats out;
  out.generation = state_.generation();
  auto counters = kernel_.read_counters();
  if (!counters) return with_code(counters.errors(), ErrorCode::kernel);
  for (const auto& c : counters.value()) {
    CounterStat stat{c.name, "", c.packets, c.bytes};
    if (running_)
      for (const auto& d : running_->ruleset.counters)
        if (d.name == c.name) stat.description = d.description;
    out.counters.push_back(std::move(stat));
  }
  if (options_.inspector && running_ && running_->engine) out.inspector = options_.inspector->counters();
  return out;
}

}  // namespace dnsguard::control
