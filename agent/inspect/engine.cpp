#include "inspect/engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace dnsguard::inspect {
namespace {

constexpr std::string_view kCanaryName = "use-application-dns.net";
constexpr uint16_t kBlockDomainsSource = 0;

bool is_hosts_boilerplate(std::string_view name) {
  static constexpr std::string_view kNames[] = {
      "localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
      "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
      "ip6-allhosts", "0.0.0.0"};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

bool looks_like_address(std::string_view word) {
  return parse_prefix(word).prefix.has_value();
}

}  // namespace

std::string_view to_string(Action a) {
  switch (a) {
    case Action::accept: return "accept";
    case Action::drop: return "drop";
    case Action::answer_nxdomain: return "nxdomain";
    case Action::answer_refused: return "refused";
    case Action::answer_nodata: return "nodata";
    case Action::answer_sinkhole: return "sinkhole";
  }
  return "?";
}

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::no_match: return "no_match";
    case Reason::allowed_domain: return "allowed_domain";
    case Reason::blocked_domain: return "blocked_domain";
    case Reason::blocked_list: return "blocked_list";
    case Reason::denied_qtype: return "denied_qtype";
    case Reason::canary: return "canary";
    case Reason::rate_limited: return "rate_limited";
    case Reason::malformed: return "malformed";
    case Reason::not_inspected: return "not_inspected";
    case Reason::tunneling: return "tunneling";
    case Reason::denied_opcode: return "denied_opcode";
  }
  return "?";
}

uint64_t address_hash(const IpAddress& address) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a
  for (size_t i = 0; i < address.size(); ++i) h = (h ^ address.bytes[i]) * 1099511628211ULL;
  return h;
}

TunnelDetector& DecisionState::tunnels() {
  if (TunnelDetector* made = tunnels_.load(std::memory_order_acquire)) return *made;  // every later query
  std::call_once(tunnels_made_, [this] { tunnels_.store(new TunnelDetector(), std::memory_order_release); });
  return *tunnels_.load(std::memory_order_acquire);
}

size_t DecisionState::tunnel_accounts() const {
  const TunnelDetector* t = tunnels_.load(std::memory_order_acquire);
  return t ? t->accounts() : 0;
}

DecisionState::~DecisionState() { delete tunnels_.load(); }

bool RateLimiter::allow(uint64_t client_hash, std::optional<uint32_t> uid, uint32_t per_second, uint32_t burst,
                        SteadyClock::time_point now) {
  const uint64_t key = mix_hash(client_hash ^ (uid ? *uid + 1ULL : 0));
  Shard& shard = shards_[key % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(key);
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_clients_ / kShards) {
      // Full: forget clients idle for a minute; failing that, an arbitrary one.
      std::erase_if(shard.buckets, [&](const auto& kv) { return now - kv.second.last > std::chrono::minutes(1); });
      if (shard.buckets.size() >= max_clients_ / kShards) shard.buckets.erase(shard.buckets.begin());
    }
    it = shard.buckets.emplace(key, Bucket{static_cast<double>(std::max(burst, per_second)), now}).first;
  }
  Bucket& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(static_cast<double>(std::max(burst, per_second)), b.tokens + elapsed * per_second);
  b.last = now;
  if (b.tokens < 1.0) return false;
  b.tokens -= 1.0;
  return true;
}

size_t RateLimiter::tracked() const {
  size_t n = 0;
  for (const auto& s : shards_) {
    std::lock_guard lock(s.mutex);
    n += s.buckets.size();
  }
  return n;
}

namespace {

constexpr size_t kMaxListLine = 4096;
// A list with more bad lines than this, or more bad lines than good ones, is not a list
// (a file named by mistake, or on purpose: /etc/shadow): its errors quote nothing of it.
constexpr size_t kQuotedBadLines = 3;

struct BadLine {
  uint32_t line = 0, column = 0;
  std::string word;  // quoted only while the file looks like a list
  std::string why;
};

}  // namespace

Status load_block_list(const std::string& path, DomainMatcher& into, uint16_t source) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return make_error(SourceLocation{path, 0, 0}, "", "not a regular file: a block list is a text file");
  std::ifstream in(path);
  if (!in) return make_error(SourceLocation{path, 0, 0}, "", std::string("cannot read list file: ") + std::strerror(errno));
  std::string line;
  uint32_t number = 0;
  size_t good = 0;
  size_t bad_count = 0;
  std::vector<BadLine> bad;  // the first few
  auto reject = [&](uint32_t column, std::string_view word, std::string why) {
    if (bad_count++ < kQuotedBadLines) bad.push_back({number, column, std::string(word), std::move(why)});
  };
  while (std::getline(in, line)) {
    ++number;
    if (line.size() > kMaxListLine) {
      reject(1, {}, "a line longer than " + std::to_string(kMaxListLine) + " bytes");
      continue;
    }
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    std::vector<std::string_view> words;
    std::string_view rest = line;
    while (!rest.empty()) {
      const size_t start = rest.find_first_not_of(" \t\r");
      if (start == std::string_view::npos) break;
      rest.remove_prefix(start);
      const size_t end = rest.find_first_of(" \t\r");
      words.push_back(rest.substr(0, end));
      rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
    }
    if (words.empty()) continue;
    // Hosts format: an address, then one or more names.
    const size_t first_name = looks_like_address(words[0]) ? 1 : 0;
    if (first_name == 1 && words.size() == 1) {
      reject(1, words[0], "an address without a name");
      continue;
    }
    if (first_name == 0 && words.size() > 1) {
      reject(1, words[0], "expected one domain per line, or hosts format \"0.0.0.0 name\"");
      continue;
    }
    bool line_ok = true;
    for (size_t i = first_name; i < words.size(); ++i) {
      auto name = normalize_domain(words[i]);
      if (!name) {
        reject(static_cast<uint32_t>(words[i].data() - line.data() + 1), words[i], "is not a domain name");
        line_ok = false;
        break;
      }
      if (first_name == 1 && is_hosts_boilerplate(*name)) continue;
      into.add(*name, source);
    }
    good += line_ok;
  }
  if (in.bad()) return make_error(SourceLocation{path, number, 0}, "", "read error");
  if (bad_count == 0) return ok_status();
  if (bad_count > kQuotedBadLines || bad_count > good)
    return make_error(SourceLocation{path, bad.front().line, 0}, "",
                      "not a block list: " + std::to_string(bad_count) + " of " + std::to_string(bad_count + good) +
                          " lines are not domain names or hosts entries (the first at line " +
                          std::to_string(bad.front().line) + ")");
  Errors errors;
  for (const auto& b : bad) {
    const std::string what = b.word.empty() ? b.why
                             : b.why.starts_with("is ") ? "\"" + b.word + "\" " + b.why
                                                        : b.why;
    errors.push_back(make_error(SourceLocation{path, b.line, b.column}, "", what));
  }
  return errors;
}

Status check_block_lists(const policy::Policy& policy) {
  if (!policy.inspect.enabled) return ok_status();
  auto engine = Engine::build(policy);
  if (!engine) return engine.errors();
  return ok_status();
}

Result<std::shared_ptr<const Engine>> Engine::build(const policy::Policy& policy) {
  std::shared_ptr<Engine> e(new Engine());
  e->settings_ = policy.inspect;
  e->dnstap_target_ = policy.telemetry.dnstap;
  e->canary_ = policy.egress && policy.egress->encrypted_dns.canary;
  if (policy.egress)
    for (const auto& r : policy.egress->resolvers)
      if (std::find(r.protocols.begin(), r.protocols.end(), policy::Protocol::tcp) != r.protocols.end())
        e->tcp_resolvers_.insert(e->tcp_resolvers_.end(), r.addresses.begin(), r.addresses.end());
  for (const auto& d : policy.inspect.allow_domains) e->allowed_.add(d, 0);
  for (const auto& d : policy.inspect.block_domains) e->blocked_.add(d, kBlockDomainsSource);
  // A tunneling exemption covers the domain and every name below it: that is where the
  // encoded names of a reputation or signing service live.
  for (const auto& d : policy.inspect.tunneling.allow_domains) {
    e->tunneling_allowed_.add(d, 0);
    if (!d.starts_with("*.")) e->tunneling_allowed_.add("*." + d, 0);
  }
  Errors errors;
  for (size_t i = 0; i < policy.inspect.block_lists.size(); ++i) {
    auto s = load_block_list(policy.inspect.block_lists[i], e->blocked_, static_cast<uint16_t>(i + 1));
    if (!s) errors.insert(errors.end(), s.errors().begin(), s.errors().end());
  }
  if (!errors.empty()) return errors;
  for (uint16_t t : policy.inspect.deny_qtypes) e->denied_qtypes_[t] = true;
  return std::shared_ptr<const Engine>(std::move(e));
}

Action Engine::block_action() const {
  switch (settings_.block_response) {
    case policy::BlockResponse::nxdomain: return Action::answer_nxdomain;
    case policy::BlockResponse::refused: return Action::answer_refused;
    case policy::BlockResponse::nodata: return Action::answer_nodata;
    case policy::BlockResponse::drop: return Action::drop;
    case policy::BlockResponse::sinkhole: return Action::answer_sinkhole;
  }
  return Action::answer_nxdomain;
}

dns::ResponseSpec Engine::response_for(Action action) const {
  dns::ResponseSpec spec;
  switch (action) {
    case Action::answer_refused: spec.rcode = dns::Rcode::refused; break;
    case Action::answer_nodata: spec.rcode = dns::Rcode::noerror; break;
    case Action::answer_sinkhole:
      spec.rcode = dns::Rcode::noerror;
      for (const auto& a : settings_.sinkhole)
        (a.family == AddressFamily::ipv4 ? spec.sinkhole_v4 : spec.sinkhole_v6) = a;
      break;
    default: spec.rcode = dns::Rcode::nxdomain; break;
  }
  return spec;
}

Verdict Engine::decide(const dns::Query* query, dns::ParseError /*why query is null*/, const Client& client,
                       SteadyClock::time_point now, DecisionState& state) const {
  if (!query) {
    return {settings_.malformed == policy::MalformedAction::drop ? Action::drop : Action::accept,
            Reason::malformed, 0};
  }
  // NOTIFY, UPDATE and the rest: no workstation needs them, and they carry data.
  if (query->opcode != 0) {
    if (settings_.allowed_opcodes & (1u << query->opcode)) return {Action::accept, Reason::not_inspected, 0};
    return {Action::answer_refused, Reason::denied_opcode, 0};
  }
  std::array<uint64_t, 128> suffixes;
  hash_suffixes(query->qname, suffixes);
  const uint64_t client_hash = address_hash(client.address);
  const auto& tunneling = settings_.tunneling;
  TunnelDetector* tunnels = tunneling.enabled ? &state.tunnels() : nullptr;
  if (tunnels) tunnels->prefetch(query->qname, suffixes, client_hash);
  if (allowed_.size() != 0 && allowed_.match(query->qname, suffixes))
    return {Action::accept, Reason::allowed_domain, 0};
  if (settings_.rate_limit && !state.rates.allow(client_hash, client.uid, settings_.rate_limit->per_client_qps,
                                                 settings_.rate_limit->burst, now))
    return {Action::answer_refused, Reason::rate_limited, 0};
  if (canary_ && query->qname.view() == kCanaryName) return {Action::answer_nxdomain, Reason::canary, 0};
  if (denied_qtypes_[query->qtype]) return {Action::answer_refused, Reason::denied_qtype, 0};
  if (auto source = blocked_.match(query->qname, suffixes)) {
    if (*source == kBlockDomainsSource) return {block_action(), Reason::blocked_domain, 0};
    return {block_action(), Reason::blocked_list, static_cast<uint16_t>(*source - 1)};
  }
  if (tunnels && !(tunneling_allowed_.size() != 0 && tunneling_allowed_.match(query->qname, suffixes))) {
    const TunnelObservation seen = tunnels->observe(*query, suffixes, client_hash, tunneling, now);
    if (seen.held) {
      Verdict v;
      v.action = tunneling.action == policy::TunnelingAction::drop       ? Action::drop
                 : tunneling.action == policy::TunnelingAction::nxdomain ? Action::answer_nxdomain
                                                                         : Action::accept;
      v.reason = Reason::tunneling;
      v.tunnel_detected_now = seen.detected_now;
      v.registered_label = seen.registered_label;
      v.tunnel_signals = seen.signals;
      v.tunnel_score = seen.score;
      return v;
    }
  }
  return {Action::accept, Reason::no_match, 0};
}

}  // namespace dnsguard::inspect
