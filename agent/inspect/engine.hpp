#pragma once
// The inspector's decision: a pure function of the parsed query, the client, the time
// and the rate-limit state the caller owns. An Engine is built from a policy off the
// packet path (block lists loaded, all or nothing) and then only read, so the runtime
// can swap a new one in while packets flow.

#include <array>
#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/error.hpp"
#include "dns/message.hpp"
#include "inspect/domain_set.hpp"
#include "inspect/tunnel.hpp"
#include "policy/policy.hpp"

namespace dnsguard::inspect {

using SteadyClock = std::chrono::steady_clock;

enum class Action : uint8_t {
  accept,
  drop,
  answer_nxdomain,
  answer_refused,
  answer_nodata,
  answer_sinkhole,
};
inline constexpr size_t kActionCount = 6;
std::string_view to_string(Action a);

// Why: the rule that decided. Counters are kept per reason and per action.
enum class Reason : uint8_t {
  no_match,        // nothing matched: accepted
  allowed_domain,  // allow_domains
  blocked_domain,  // block_domains
  blocked_list,    // one of block_lists (Verdict::source says which)
  denied_qtype,    // deny_qtypes
  canary,          // use-application-dns.net
  rate_limited,    // inspect.rate_limit
  malformed,       // not a parseable query; inspect.malformed decides
  not_inspected,   // an opcode other than QUERY that inspect.opcodes lets through
  tunneling,       // inspect.tunneling: the registered domain is held as a tunnel
  denied_opcode,   // an opcode other than QUERY that inspect.opcodes does not list
};
inline constexpr size_t kReasonCount = 11;
std::string_view to_string(Reason r);

struct Verdict {
  Action action = Action::accept;
  Reason reason = Reason::no_match;
  uint16_t list = 0;  // with Reason::blocked_list: index into block_lists
  // With Reason::tunneling: whether this query made the detection, what showed it, the
  // estimated outbound information over the budget, and where in the query's name the
  // registered domain starts.
  bool tunnel_detected_now = false;
  uint8_t registered_label = 0;
  uint16_t tunnel_signals = 0;
  float tunnel_score = 0;
};

// Who asked: the source address, and the local user when the kernel says (queries from
// this host share its address, so the uid is what tells processes apart).
struct Client {
  IpAddress address;
  std::optional<uint32_t> uid;
};

// Token buckets per client, bounded in memory; safe to share between queue threads.
class RateLimiter {
 public:
  explicit RateLimiter(size_t max_clients = 65536) : max_clients_(max_clients) {}
  // Takes one token for the client (its address_hash and uid); false when it is over
  // its rate.
  bool allow(uint64_t client_hash, std::optional<uint32_t> uid, uint32_t per_second, uint32_t burst,
             SteadyClock::time_point now);
  size_t tracked() const;

 private:
  struct Bucket {
    double tokens = 0;
    SteadyClock::time_point last;
  };
  static constexpr size_t kShards = 16;
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<uint64_t, Bucket> buckets;
  };
  size_t max_clients_;
  std::array<Shard, kShards> shards_;
};

// A hash of an address, for keys of per-client state: made once per query.
uint64_t address_hash(const IpAddress& address);

// The state decisions read and update, owned by the caller and shared by its threads;
// it outlives engines, so an apply keeps rate buckets and tunneling accounts.
class DecisionState {
 public:
  DecisionState() = default;
  ~DecisionState();
  DecisionState(const DecisionState&) = delete;
  DecisionState& operator=(const DecisionState&) = delete;

  RateLimiter rates;
  // Made by the first call (the inspector's, when it installs a policy with detection
  // on): an agent whose policies never turn it on pays nothing for it (no public suffix
  // list, no account table).
  TunnelDetector& tunnels();
  size_t tunnel_accounts() const;  // 0 until then

 private:
  std::once_flag tunnels_made_;
  std::atomic<TunnelDetector*> tunnels_{nullptr};
};

// Reads a block list: one domain per line, or hosts format ("0.0.0.0 name [name...]");
// '#' comments and blank lines are skipped, and so are the hosts-file boilerplate names
// (localhost, broadcasthost, ...). Any other line that is not a domain name is an error
// naming file:line.
// Loads every block list `policy` names, for validation: what apply would refuse,
// `validate` and `dnsguardd --check-policy` refuse too.
Status check_block_lists(const policy::Policy& policy);
Status load_block_list(const std::string& path, DomainMatcher& into, uint16_t source);

class Engine {
 public:
  // Builds the engine for a policy's [inspect] section, loading every list. Fails as a
  // whole: a bad list file never yields a half-loaded engine.
  static Result<std::shared_ptr<const Engine>> build(const policy::Policy& policy);

  // `query` is null when parsing failed with `error`.
  Verdict decide(const dns::Query* query, dns::ParseError error, const Client& client,
                 SteadyClock::time_point now, DecisionState& state) const;

  const policy::Inspect& settings() const { return settings_; }
  // Where dnstap messages go ([telemetry] dnstap); empty when off.
  const std::string& dnstap_target() const { return dnstap_target_; }
  // The designated resolvers that take DNS over TCP: the TCP proxy connects only there.
  const std::vector<IpPrefix>& tcp_resolvers() const { return tcp_resolvers_; }
  const std::vector<std::string>& list_names() const { return settings_.block_lists; }
  size_t blocked_names() const { return blocked_.size(); }
  size_t memory_bytes() const { return blocked_.memory_bytes() + allowed_.memory_bytes(); }
  // The answer for a blocking action: rcode and sinkhole addresses.
  dns::ResponseSpec response_for(Action action) const;

 private:
  Engine() = default;
  Action block_action() const;

  policy::Inspect settings_;
  std::string dnstap_target_;
  std::vector<IpPrefix> tcp_resolvers_;
  bool canary_ = false;
  DomainMatcher allowed_;
  DomainMatcher tunneling_allowed_;
  DomainMatcher blocked_;  // source 0: block_domains; i + 1: block_lists[i]
  std::array<bool, 65536> denied_qtypes_{};
};

}  // namespace dnsguard::inspect
