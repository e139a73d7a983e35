#include "policy/schema.hpp"

#include <algorithm>
#include <array>
#include <string>

namespace dnsguard::policy {
namespace {

using namespace std::string_view_literals;

constexpr std::array kRoot = {"policy"sv, "egress"sv, "ingress"sv, "inspect"sv, "telemetry"sv};
constexpr std::array kPolicy = {"name"sv, "version"sv};
constexpr std::array kEgress = {"default"sv, "deny_action"sv, "log_denied"sv, "resolvers"sv, "encrypted_dns"sv};
constexpr std::array kResolver = {"name"sv, "addresses"sv, "protocols"sv, "users"sv};
constexpr std::array kEncryptedDns = {"block_dot"sv, "doh_endpoints"sv, "canary"sv};
constexpr std::array kIngress = {"deny_action"sv, "zone_transfer"sv, "recursion"sv, "rate_limit"sv};
constexpr std::array kZoneTransfer = {"secondaries"sv};
constexpr std::array kRecursion = {"allow_from"sv};
constexpr std::array kIngressRate = {"per_source_qps"sv, "burst"sv};
constexpr std::array kInspect = {"enabled"sv,        "queues"sv,        "fail"sv,          "block_response"sv,
                                 "sinkhole"sv,       "malformed"sv,     "block_domains"sv, "block_lists"sv,
                                 "allow_domains"sv,  "deny_qtypes"sv,   "opcodes"sv,       "tcp_proxy_port"sv,
                                 "tunneling"sv,      "rate_limit"sv};
constexpr std::array kTunneling = {"enabled"sv,      "action"sv,       "budget_bytes_per_hour"sv,
                                   "names_per_hour"sv, "hold_seconds"sv, "allow_domains"sv};
constexpr std::array kInspectRate = {"per_client_qps"sv, "burst"sv};
constexpr std::array kTelemetry = {"events"sv, "dnstap"sv, "metrics"sv};

const std::array<TableKeys, 13> kTables = {{
    {"", kRoot},
    {"policy", kPolicy},
    {"egress", kEgress},
    {"egress.resolvers[]", kResolver},
    {"egress.encrypted_dns", kEncryptedDns},
    {"ingress", kIngress},
    {"ingress.zone_transfer", kZoneTransfer},
    {"ingress.recursion", kRecursion},
    {"ingress.rate_limit", kIngressRate},
    {"inspect", kInspect},
    {"inspect.tunneling", kTunneling},
    {"inspect.rate_limit", kInspectRate},
    {"telemetry", kTelemetry},
}};

// Optimal string alignment distance (Levenshtein with swaps of neighbours), stopping
// early past `limit`.
size_t edit_distance(std::string_view a, std::string_view b, size_t limit) {
  if (a.size() > b.size() + limit || b.size() > a.size() + limit) return limit + 1;
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

}  // namespace

std::span<const TableKeys> policy_tables() { return kTables; }

std::span<const std::string_view> keys_of(std::string_view path) {
  for (const auto& t : kTables)
    if (t.path == path) return t.keys;
  return {};
}

std::vector<std::string> all_policy_keys() {
  std::vector<std::string> out;
  for (const auto& t : kTables)
    for (const auto k : t.keys) out.push_back(t.path.empty() ? std::string(k) : std::string(t.path) + "." + std::string(k));
  return out;
}

std::optional<std::string_view> nearest_key(std::string_view key, std::span<const std::string_view> known) {
  // Short keys get one edit: two would make "dns" mean "dot".
  const size_t limit = key.size() <= 4 ? 1 : 2;
  std::optional<std::string_view> best;
  size_t best_distance = limit + 1;
  for (const auto k : known) {
    const bool plural = k.size() == key.size() + 1 && k.starts_with(key) && k.back() == 's';
    const size_t d = plural ? 1 : edit_distance(key, k, limit);
    if (d < best_distance) {
      best = k;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace dnsguard::policy
