// TOML text to a validated Policy. Every problem is collected (not just the first) and
// reported with file:line:col and the dotted key, so one run shows a user every fix.

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <map>
#include <sstream>
#include <tuple>
#include <toml++/toml.h>

#include "common/domain_name.hpp"
#include "policy/policy.hpp"
#include "policy/schema.hpp"

namespace dnsguard::policy {
namespace {

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

std::string quote(std::string_view s) { return '"' + std::string(s) + '"'; }

std::string join_key(std::string_view path, std::string_view key) {
  return path.empty() ? std::string(key) : std::string(path) + '.' + std::string(key);
}

std::string index_key(std::string_view path, size_t i) {
  return std::string(path) + '[' + std::to_string(i) + ']';
}

// A prefix and where the user wrote it, for overlap reports.
struct PlacedPrefix {
  IpPrefix prefix;
  std::string key;
  SourceLocation where;
};

// The TOML library's description of a syntax error, led by what it means in plain
// words when it is one of the common ones.
std::string plain_words(std::string_view description) {
  struct Known {
    std::string_view contains, meaning;
  };
  static constexpr Known kKnown[] = {
      {"parsing string: unescaped control", "a string is not closed on its line (its closing quote is missing)"},
      {"parsing string: encountered end-of-file", "a string is not closed (its closing quote is missing)"},
      {"encountered end-of-file", "the file ends in the middle of something (an unclosed string, array or table header?)"},
      {"redefin", "a key or table is defined twice"},
      {"expected '='", "a key must be followed by = and a value"},
      {"expected keys, tables", "a line must be a key = value, a [table] header or a comment"},
      {"expected bare key", "a key is missing or has characters a bare key cannot hold (quote it)"},
      {"expected ']'", "a table header or array is not closed with ]"},
      {"expected value, saw", "a value is missing after ="},
      {"expected comma or closing ']'", "array items must be separated by commas"},
  };
  for (const auto& k : kKnown)
    if (description.find(k.contains) != std::string_view::npos)
      return std::string(k.meaning) + " (" + std::string(description) + ")";
  return std::string(description);
}

template <typename E>
using Choices = std::initializer_list<std::pair<std::string_view, E>>;

class Loader {
 public:
  Loader(std::string file, std::filesystem::path base_dir, const LoadOptions& options)
      : file_(std::move(file)), base_dir_(std::move(base_dir)), options_(options) {}

  Result<Policy> load(std::string_view text) {
    toml::table root;
    try {
      root = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      return make_error(at(e.source()), "", "TOML syntax error: " + plain_words(e.description()));
    }
    Policy policy;
    policy.source_file = file_;
    check_keys(root, "");

    if (const auto* t = required_table(root, "", "policy")) load_header(*t, policy);
    if (const auto* t = table(root, "", "egress")) policy.egress = load_egress(*t);
    if (const auto* t = table(root, "", "ingress")) policy.ingress = load_ingress(*t);
    if (const auto* t = table(root, "", "inspect")) policy.inspect = load_inspect(*t);
    if (const auto* t = table(root, "", "telemetry")) policy.telemetry = load_telemetry(*t);

    // Errors about one key point at that key's line.
    auto node_of = [&](std::string_view dotted) -> const toml::node& {
      const toml::node* n = root.at_path(dotted).node();
      return n ? *n : root;
    };
    if (policy.inspect.enabled && (!policy.egress || policy.egress->resolvers.empty()) && !resolvers_malformed_) {
      error(node_of("inspect.enabled"), "inspect.enabled",
            "inspection needs at least one [[egress.resolvers]]: it inspects queries to them");
    }
    if (policy.egress && policy.egress->encrypted_dns.canary && !policy.inspect.enabled) {
      error(node_of("egress.encrypted_dns.canary"), "egress.encrypted_dns.canary",
            "the canary answer is given by the inspector; set inspect.enabled = true");
    }
    if (!errors_.empty()) {
      // In file order, the way a reader fixes them.
      auto position = [](const Error& e) {
        return e.where ? std::pair(e.where->line, e.where->column) : std::pair(0u, 0u);
      };
      std::stable_sort(errors_.begin(), errors_.end(),
                       [&](const Error& a, const Error& b) { return position(a) < position(b); });
      return std::move(errors_);
    }
    return policy;
  }

 private:
  // ---- locations and errors ----
  SourceLocation at(const toml::source_region& r) const {
    return SourceLocation{file_, static_cast<uint32_t>(r.begin.line),
                          static_cast<uint32_t>(r.begin.column)};
  }
  void error(const toml::node& n, std::string key, std::string message) {
    errors_.push_back(make_error(at(n.source()), std::move(key), std::move(message)));
  }
  void error(const SourceLocation& where, std::string key, std::string message) {
    errors_.push_back(make_error(where, std::move(key), std::move(message)));
  }

  // Keys of `t` that table `schema` (a path of policy_tables()) does not have, each with
  // the key it most likely meant.
  void check_keys(const toml::table& t, std::string_view path, std::string_view schema) {
    const auto allowed = keys_of(schema);
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) != allowed.end()) continue;
      std::string known;
      for (auto a : allowed) known += (known.empty() ? "" : ", ") + std::string(a);
      const auto meant = nearest_key(k.str(), allowed);
      errors_.push_back(make_error(at(k.source()), join_key(path, k.str()),
                                   "unknown key" + (meant ? "; did you mean " + quote(*meant) + "?" : std::string()) +
                                       " (known here: " + known + ")"));
    }
  }
  void check_keys(const toml::table& t, std::string_view path) { check_keys(t, path, path); }

  // ---- typed getters: each reports a wrong type and returns nothing ----
  const toml::node* node(const toml::table& t, std::string_view path, std::string_view key,
                         bool required) {
    const toml::node* n = t.get(key);
    if (!n && required) error(t, join_key(path, key), "missing (required)");
    return n;
  }

  const toml::table* table(const toml::table& t, std::string_view path, std::string_view key) {
    const toml::node* n = node(t, path, key, false);
    if (!n) return nullptr;
    if (!n->is_table()) {
      error(*n, join_key(path, key), "expected a table, found " + std::string(type_name(*n)));
      return nullptr;
    }
    return n->as_table();
  }

  const toml::table* required_table(const toml::table& t, std::string_view path,
                                    std::string_view key) {
    if (!t.get(key)) {
      error(t, join_key(path, key), "missing (required) table [" + join_key(path, key) + "]");
      return nullptr;
    }
    return table(t, path, key);
  }

  const toml::array* array(const toml::table& t, std::string_view path, std::string_view key) {
    const toml::node* n = node(t, path, key, false);
    if (!n) return nullptr;
    if (!n->is_array()) {
      error(*n, join_key(path, key), "expected an array, found " + std::string(type_name(*n)));
      return nullptr;
    }
    return n->as_array();
  }

  std::optional<std::string> string(const toml::table& t, std::string_view path,
                                    std::string_view key, bool required = false) {
    const toml::node* n = node(t, path, key, required);
    if (!n) return std::nullopt;
    if (!n->is_string()) {
      error(*n, join_key(path, key), "expected a string, found " + std::string(type_name(*n)));
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  bool boolean(const toml::table& t, std::string_view path, std::string_view key, bool fallback) {
    const toml::node* n = node(t, path, key, false);
    if (!n) return fallback;
    if (!n->is_boolean()) {
      error(*n, join_key(path, key),
            "expected a boolean (true or false), found " + std::string(type_name(*n)));
      return fallback;
    }
    return n->as_boolean()->get();
  }

  std::optional<int64_t> integer(const toml::table& t, std::string_view path,
                                 std::string_view key, int64_t min, int64_t max,
                                 bool required = false) {
    const toml::node* n = node(t, path, key, required);
    if (!n) return std::nullopt;
    if (!n->is_integer()) {
      error(*n, join_key(path, key), "expected an integer, found " + std::string(type_name(*n)));
      return std::nullopt;
    }
    const int64_t v = n->as_integer()->get();
    if (v < min || v > max) {
      error(*n, join_key(path, key),
            std::to_string(v) + " is out of range (" + std::to_string(min) + " to " +
                std::to_string(max) + ")");
      return std::nullopt;
    }
    return v;
  }

  // The chosen value, `fallback` when the key is absent, nullopt (reported) when invalid.
  template <typename E>
  std::optional<E> choice(const toml::table& t, std::string_view path, std::string_view key,
                          E fallback, Choices<E> choices) {
    const toml::node* n = node(t, path, key, false);
    if (!n) return fallback;
    std::string names;
    for (const auto& c : choices) names += (names.empty() ? "" : " | ") + quote(c.first);
    if (!n->is_string()) {
      error(*n, join_key(path, key),
            "expected one of " + names + ", found " + std::string(type_name(*n)));
      return std::nullopt;
    }
    const std::string& value = n->as_string()->get();
    for (const auto& c : choices)
      if (value == c.first) return c.second;
    error(*n, join_key(path, key), quote(value) + " is not one of " + names);
    return std::nullopt;
  }

  // An array of strings; each element is handed to `each` with its key path.
  template <typename F>
  void strings(const toml::array& a, std::string_view path, F&& each) {
    for (size_t i = 0; i < a.size(); ++i) {
      const toml::node& n = a[i];
      const std::string key = index_key(path, i);
      if (!n.is_string()) {
        error(n, key, "expected a string, found " + std::string(type_name(n)));
        continue;
      }
      each(n, key, n.as_string()->get());
    }
  }

  // ---- addresses ----
  std::vector<PlacedPrefix> prefixes(const toml::table& t, std::string_view path,
                                     std::string_view key, bool required_non_empty) {
    std::vector<PlacedPrefix> out;
    const toml::array* a = array(t, path, key);
    const std::string list_key = join_key(path, key);
    if (!a) {
      if (required_non_empty && !t.get(key)) error(t, list_key, "missing (required)");
      return out;
    }
    if (a->empty() && required_non_empty) error(*a, list_key, "must not be empty");
    strings(*a, list_key, [&](const toml::node& n, const std::string& k, const std::string& s) {
      if (zone_id(n, k, s)) return;
      const PrefixParse parsed = parse_prefix(s);
      if (parsed.prefix) {
        out.push_back({*parsed.prefix, k, at(n.source())});
        return;
      }
      switch (parsed.error) {
        case PrefixParseError::not_an_address:
          error(n, k, quote(s) + " is not an IPv4 or IPv6 address or prefix");
          break;
        case PrefixParseError::bad_length:
          error(n, k, quote(s) + " has an invalid prefix length");
          break;
        case PrefixParseError::host_bits_set:
          error(n, k,
                quote(s) + " has bits set past its prefix length; did you mean " +
                    quote(parsed.suggestion->to_string()) + "?");
          break;
      }
    });
    return out;
  }

  // Reports an address with a zone ID ("fe80::1%eth0"): rules match addresses only.
  bool zone_id(const toml::node& n, const std::string& key, std::string_view s) {
    if (s.find('%') == std::string_view::npos) return false;
    error(n, key,
          quote(s) + ": zone IDs (\"%" + std::string(s.substr(s.find('%') + 1)) +
              "\") are not supported; rules match addresses, not interfaces (leave the zone out)");
    return true;
  }

  // Reports every prefix that overlaps (or repeats) an earlier one in `all`.
  void check_overlaps(const std::vector<PlacedPrefix>& all) {
    // Sorted by first address (an index, so a million entries do not move their strings),
    // a prefix can only overlap the widest one seen so far.
    std::vector<uint32_t> order(all.size());
    for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      return std::tie(all[a].prefix.address, all[a].prefix.length) <
             std::tie(all[b].prefix.address, all[b].prefix.length);
    });
    const PlacedPrefix* widest = nullptr;
    for (const uint32_t i : order) {
      const PlacedPrefix& p = all[i];
      if (widest && widest->prefix.overlaps(p.prefix)) {
        const bool same = widest->prefix == p.prefix;
        error(p.where, p.key,
              quote(p.prefix.to_string()) + (same ? " repeats " : " overlaps ") +
                  quote(widest->prefix.to_string()) + " at " + widest->key);
        continue;
      }
      if (!widest || widest->prefix.family() != p.prefix.family() ||
          widest->prefix.last() < p.prefix.last())
        widest = &p;
    }
  }

  static std::vector<IpPrefix> bare(const std::vector<PlacedPrefix>& placed) {
    std::vector<IpPrefix> out;
    out.reserve(placed.size());
    for (const auto& p : placed) out.push_back(p.prefix);
    std::sort(out.begin(), out.end());
    return out;
  }

  // ---- sections ----
  void load_header(const toml::table& t, Policy& policy) {
    check_keys(t, "policy");
    if (auto name = string(t, "policy", "name", true)) {
      const bool valid = !name->empty() && name->size() <= 64 &&
                         std::all_of(name->begin(), name->end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' ||
                                  c == '_' || c == '.';
                         });
      if (valid)
        policy.name = *name;
      else
        error(*t.get("name"), "policy.name",
              quote(*name) + " must be 1-64 characters of letters, digits, '-', '_' or '.'");
    }
    if (auto v = integer(t, "policy", "version", 0, INT64_MAX, true)) policy.version = *v;
  }

  Egress load_egress(const toml::table& t) {
    Egress egress;
    check_keys(t, "egress");
    const auto default_action = choice<EgressDefault>(
        t, "egress", "default", EgressDefault::deny,
        {{"deny", EgressDefault::deny}, {"monitor", EgressDefault::monitor}});
    egress.default_action = default_action.value_or(EgressDefault::deny);
    egress.deny_action = choice<DenyAction>(t, "egress", "deny_action", DenyAction::reject,
                                            {{"reject", DenyAction::reject}, {"drop", DenyAction::drop}})
                             .value_or(DenyAction::reject);
    egress.log_denied = boolean(t, "egress", "log_denied", false);

    std::vector<PlacedPrefix> all_addresses;
    if (const toml::node* n = t.get("resolvers")) {
      if (!n->is_array_of_tables()) {
        resolvers_malformed_ = true;
        error(*n, "egress.resolvers",
              "expected an array of tables ([[egress.resolvers]]), found " +
                  std::string(type_name(*n)));
      } else {
        const auto& a = *n->as_array();
        std::map<std::string, std::string> names;  // name -> key of first use
        for (size_t i = 0; i < a.size(); ++i) {
          const std::string key = index_key("egress.resolvers", i);
          Resolver r = load_resolver(*a[i].as_table(), key, all_addresses);
          if (!r.name.empty()) {
            auto [it, fresh] = names.emplace(r.name, key);
            if (!fresh)
              error(*a[i].as_table()->get("name"), key + ".name",
                    "duplicate resolver name " + quote(r.name) + " (first at " + it->second + ")");
          }
          egress.resolvers.push_back(std::move(r));
        }
      }
    }
    check_overlaps(all_addresses);
    if (default_action == EgressDefault::deny && egress.resolvers.empty() && !resolvers_malformed_) {
      error(t, "egress.resolvers",
            "egress.default = \"deny\" needs at least one [[egress.resolvers]]; without one all "
            "DNS from this host is blocked (use default = \"monitor\" to observe first)");
    }

    if (const auto* e = table(t, "egress", "encrypted_dns")) {
      check_keys(*e, "egress.encrypted_dns");
      egress.encrypted_dns.block_dot = boolean(*e, "egress.encrypted_dns", "block_dot", false);
      egress.encrypted_dns.canary = boolean(*e, "egress.encrypted_dns", "canary", false);
      auto doh = prefixes(*e, "egress.encrypted_dns", "doh_endpoints", false);
      check_overlaps(doh);
      egress.encrypted_dns.doh_endpoints = bare(doh);
    }
    return egress;
  }

  Resolver load_resolver(const toml::table& t, const std::string& path,
                         std::vector<PlacedPrefix>& all_addresses) {
    Resolver r;
    r.where = at(t.source());
    check_keys(t, path, "egress.resolvers[]");
    if (auto name = string(t, path, "name", true)) {
      // Kernel set names take these as they are ("resolver_corp-dns_v4").
      const bool valid = !name->empty() && name->size() <= 32 &&
                         std::all_of(name->begin(), name->end(), [](char c) {
                           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
                         });
      if (valid)
        r.name = *name;
      else
        error(*t.get("name"), path + ".name",
              quote(*name) + " must be 1-32 characters of letters, digits, '-', '_' or '.'");
    }
    auto placed = prefixes(t, path, "addresses", true);
    all_addresses.insert(all_addresses.end(), placed.begin(), placed.end());
    r.addresses = bare(placed);

    r.protocols = {Protocol::udp, Protocol::tcp};
    if (const toml::array* a = array(t, path, "protocols")) {
      r.protocols.clear();
      if (a->empty()) error(*a, path + ".protocols", "must not be empty");
      strings(*a, path + ".protocols",
              [&](const toml::node& n, const std::string& k, const std::string& s) {
                std::optional<Protocol> p;
                if (s == "udp") p = Protocol::udp;
                if (s == "tcp") p = Protocol::tcp;
                if (s == "dot") p = Protocol::dot;
                if (!p)
                  error(n, k, quote(s) + " is not one of \"udp\" | \"tcp\" | \"dot\"");
                else if (std::find(r.protocols.begin(), r.protocols.end(), *p) != r.protocols.end())
                  error(n, k, quote(s) + " is listed twice");
                else
                  r.protocols.push_back(*p);
              });
      std::sort(r.protocols.begin(), r.protocols.end());
    }

    if (const toml::array* a = array(t, path, "users")) {
      if (a->empty()) error(*a, path + ".users", "must not be empty (leave it out for any user)");
      for (size_t i = 0; i < a->size(); ++i) {
        const toml::node& n = (*a)[i];
        const std::string k = index_key(path + ".users", i);
        std::optional<LocalUser> user;
        if (n.is_integer()) {
          const int64_t uid = n.as_integer()->get();
          if (uid < 0 || uid > UINT32_MAX - 1)
            error(n, k, std::to_string(uid) + " is not a valid uid");
          else
            user = LocalUser{std::to_string(uid), static_cast<uint32_t>(uid)};
        } else if (n.is_string()) {
          const std::string& name = n.as_string()->get();
          if (auto uid = options_.lookup_user(name))
            user = LocalUser{name, *uid};
          else
            error(n, k, "no local user " + quote(name) + " on this host");
        } else {
          error(n, k, "expected a user name or uid, found " + std::string(type_name(n)));
        }
        if (!user) continue;
        const bool dup = std::any_of(r.users.begin(), r.users.end(),
                                     [&](const LocalUser& u) { return u.uid == user->uid; });
        if (dup)
          error(n, k, quote(user->name) + " (uid " + std::to_string(user->uid) + ") is listed twice");
        else
          r.users.push_back(*user);
      }
      std::sort(r.users.begin(), r.users.end(),
                [](const LocalUser& a, const LocalUser& b) { return a.uid < b.uid; });
    }
    return r;
  }

  Ingress load_ingress(const toml::table& t) {
    Ingress ingress;
    check_keys(t, "ingress");
    ingress.deny_action = choice<DenyAction>(t, "ingress", "deny_action", DenyAction::drop,
                                             {{"reject", DenyAction::reject}, {"drop", DenyAction::drop}})
                              .value_or(DenyAction::drop);
    if (const auto* z = table(t, "ingress", "zone_transfer")) {
      check_keys(*z, "ingress.zone_transfer");
      auto peers = prefixes(*z, "ingress.zone_transfer", "secondaries", true);
      check_overlaps(peers);
      ingress.zone_transfer = ZoneTransfer{bare(peers)};
    }
    if (const auto* r = table(t, "ingress", "recursion")) {
      check_keys(*r, "ingress.recursion");
      auto clients = prefixes(*r, "ingress.recursion", "allow_from", true);
      check_overlaps(clients);
      ingress.recursion = Recursion{bare(clients)};
    }
    if (const auto* r = table(t, "ingress", "rate_limit")) {
      check_keys(*r, "ingress.rate_limit");
      RateLimit limit;
      if (auto v = integer(*r, "ingress.rate_limit", "per_source_qps", 1, 1'000'000, true))
        limit.per_source_qps = static_cast<uint32_t>(*v);
      limit.burst = limit.per_source_qps;
      if (auto v = integer(*r, "ingress.rate_limit", "burst", 0, 10'000'000))
        limit.burst = static_cast<uint32_t>(*v);
      ingress.rate_limit = limit;
    }
    return ingress;
  }

  // A domain name in the one spelling policies and block lists share.
  std::optional<std::string> domain(const toml::node& n, const std::string& key, std::string_view text) {
    auto name = normalize_domain(text);
    if (!name) error(n, key, quote(text) + " is not a domain name (" + std::string(kDomainNameRule) + ")");
    return name;
  }

  std::vector<std::string> domains(const toml::table& t, std::string_view path,
                                   std::string_view key) {
    std::vector<std::string> out;
    const std::string list_key = join_key(path, key);
    std::map<std::string, std::string> seen;
    if (const toml::array* a = array(t, path, key)) {
      strings(*a, list_key, [&](const toml::node& n, const std::string& k, const std::string& s) {
        auto d = domain(n, k, s);
        if (!d) return;
        auto [it, fresh] = seen.emplace(*d, k);
        if (!fresh)
          error(n, k, quote(*d) + " is listed twice (first at " + it->second + ")");
        else
          out.push_back(*d);
      });
    }
    return out;
  }

  Inspect load_inspect(const toml::table& t) {
    Inspect in;
    const std::string p = "inspect";
    check_keys(t, p);
    in.enabled = boolean(t, p, "enabled", false);
    if (auto q = integer(t, p, "queues", 1, kMaxInspectQueues)) in.queues = static_cast<uint16_t>(*q);
    // Below 1024: a port an unprivileged process could bind would let it answer every
    // user's TCP DNS whenever the agent is not listening.
    if (auto port = integer(t, p, "tcp_proxy_port", 1, 1023)) in.tcp_proxy_port = static_cast<uint16_t>(*port);
    in.fail = choice<FailMode>(t, p, "fail", FailMode::open,
                               {{"open", FailMode::open}, {"closed", FailMode::closed}})
                  .value_or(FailMode::open);
    in.block_response = choice<BlockResponse>(
        t, p, "block_response", BlockResponse::nxdomain,
        {{"nxdomain", BlockResponse::nxdomain},
         {"refused", BlockResponse::refused},
         {"nodata", BlockResponse::nodata},
         {"drop", BlockResponse::drop},
         {"sinkhole", BlockResponse::sinkhole}})
                            .value_or(BlockResponse::nxdomain);
    in.malformed = choice<MalformedAction>(
        t, p, "malformed", MalformedAction::drop,
        {{"drop", MalformedAction::drop}, {"accept", MalformedAction::accept}})
                       .value_or(MalformedAction::drop);

    if (const toml::array* a = array(t, p, "sinkhole")) {
      strings(*a, p + ".sinkhole", [&](const toml::node& n, const std::string& k, const std::string& s) {
        if (zone_id(n, k, s)) return;
        const auto parsed = parse_prefix(s);
        if (!parsed.prefix || !parsed.prefix->is_host()) {
          error(n, k, quote(s) + " is not an IPv4 or IPv6 address");
          return;
        }
        const auto fam = parsed.prefix->family();
        if (std::any_of(in.sinkhole.begin(), in.sinkhole.end(),
                        [&](const IpAddress& x) { return x.family == fam; }))
          error(n, k, "only one sinkhole address per address family");
        else
          in.sinkhole.push_back(parsed.prefix->address);
      });
    }
    if (in.sinkhole.empty()) {
      in.sinkhole.push_back(parse_prefix("0.0.0.0").prefix->address);
      in.sinkhole.push_back(parse_prefix("::").prefix->address);
    }

    in.block_domains = domains(t, p, "block_domains");
    in.allow_domains = domains(t, p, "allow_domains");
    for (const auto& d : in.allow_domains) {
      if (std::find(in.block_domains.begin(), in.block_domains.end(), d) != in.block_domains.end())
        error(t, p + ".allow_domains",
              quote(d) + " is in both block_domains and allow_domains; keep it in one");
    }

    if (const toml::array* a = array(t, p, "block_lists")) {
      strings(*a, p + ".block_lists", [&](const toml::node& n, const std::string& k, const std::string& s) {
        std::filesystem::path path(s);
        if (path.is_relative()) path = base_dir_ / path;
        std::ifstream file(path);
        if (!file) {
          error(n, k, "cannot read list file " + quote(path.string()) + ": " +
                          std::strerror(errno));
          return;
        }
        in.block_lists.push_back(path.lexically_normal().string());
      });
    }

    if (const toml::array* a = array(t, p, "deny_qtypes")) {
      strings(*a, p + ".deny_qtypes", [&](const toml::node& n, const std::string& k, const std::string& s) {
        std::vector<uint16_t> types;
        std::string upper = s;
        for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        if (upper == "PRIVATE") {  // RFC 6895 private use range
          for (uint32_t v = 65280; v <= 65534; ++v) types.push_back(static_cast<uint16_t>(v));
        } else if (auto qt = parse_qtype(s)) {
          types.push_back(*qt);
        } else {
          error(n, k, quote(s) + " is not a DNS record type (e.g. \"ANY\", \"NULL\", \"TYPE65\")");
          return;
        }
        for (uint16_t v : types) {
          if (std::find(in.deny_qtypes.begin(), in.deny_qtypes.end(), v) != in.deny_qtypes.end()) {
            error(n, k, quote(s) + " is listed twice");
            return;
          }
        }
        in.deny_qtypes.insert(in.deny_qtypes.end(), types.begin(), types.end());
      });
      std::sort(in.deny_qtypes.begin(), in.deny_qtypes.end());
    }

    if (const toml::array* a = array(t, p, "opcodes")) {
      in.allowed_opcodes = 0;
      strings(*a, p + ".opcodes", [&](const toml::node& n, const std::string& k, const std::string& s) {
        const auto code = parse_opcode(s);
        if (!code) {
          error(n, k, quote(s) + " is not a DNS opcode (QUERY, IQUERY, STATUS, NOTIFY, UPDATE, DSO, or OPCODE0-15)");
          return;
        }
        if (in.allowed_opcodes & (1u << *code)) {
          error(n, k, quote(s) + " is listed twice");
          return;
        }
        in.allowed_opcodes = static_cast<uint16_t>(in.allowed_opcodes | 1u << *code);
      });
      if (!(in.allowed_opcodes & 1u))
        error(*a, p + ".opcodes", "must list \"QUERY\": without it no lookup would pass");
    }

    if (const auto* tun = table(t, p, "tunneling")) {
      const std::string tp = p + ".tunneling";
      check_keys(*tun, tp);
      in.tunneling.enabled = boolean(*tun, tp, "enabled", false);
      if (auto v = integer(*tun, tp, "budget_bytes_per_hour", 64, 100'000'000))
        in.tunneling.budget_bytes_per_hour = static_cast<uint32_t>(*v);
      if (auto v = integer(*tun, tp, "names_per_hour", 10, 100'000'000))
        in.tunneling.names_per_hour = static_cast<uint32_t>(*v);
      if (auto v = integer(*tun, tp, "hold_seconds", 1, 7 * 24 * 3600))
        in.tunneling.hold_seconds = static_cast<uint32_t>(*v);
      in.tunneling.allow_domains = domains(*tun, tp, "allow_domains");
      in.tunneling.action = choice<TunnelingAction>(
          *tun, p + ".tunneling", "action", TunnelingAction::drop,
          {{"drop", TunnelingAction::drop},
           {"nxdomain", TunnelingAction::nxdomain},
           {"log", TunnelingAction::log}})
                              .value_or(TunnelingAction::drop);
    }
    if (const auto* r = table(t, p, "rate_limit")) {
      check_keys(*r, p + ".rate_limit");
      ClientRateLimit limit;
      if (auto v = integer(*r, p + ".rate_limit", "per_client_qps", 1, 10'000'000, true))
        limit.per_client_qps = static_cast<uint32_t>(*v);
      limit.burst = limit.per_client_qps;
      if (auto v = integer(*r, p + ".rate_limit", "burst", 0, 100'000'000))
        limit.burst = static_cast<uint32_t>(*v);
      in.rate_limit = limit;
    }
    return in;
  }

  Telemetry load_telemetry(const toml::table& t) {
    Telemetry tel;
    check_keys(t, "telemetry");
    tel.events_stdout = choice<bool>(t, "telemetry", "events", false,
                                     {{"stdout", true}, {"none", false}})
                            .value_or(false);
    if (auto s = string(t, "telemetry", "dnstap")) {
      if (s->empty())
        error(*t.get("dnstap"), "telemetry.dnstap",
              "must name a Unix socket path or \"file:PATH\" (leave the key out to turn off)");
      else
        tel.dnstap = *s;
    }
    if (auto s = string(t, "telemetry", "metrics")) {
      const auto colon = s->rfind(':');
      unsigned port = 0;
      bool valid = colon != std::string::npos && colon > 0;
      if (valid) {
        const char* first = s->data() + colon + 1;
        const char* last = s->data() + s->size();
        auto [ptr, ec] = std::from_chars(first, last, port);
        valid = ec == std::errc{} && ptr == last && port > 0 && port <= 65535;
      }
      if (!valid)
        error(*t.get("metrics"), "telemetry.metrics",
              quote(*s) + " is not HOST:PORT (e.g. \"127.0.0.1:9153\")");
      else
        tel.metrics = *s;
    }
    return tel;
  }

  std::string file_;
  std::filesystem::path base_dir_;
  const LoadOptions& options_;
  Errors errors_;
  bool resolvers_malformed_ = false;  // already reported: no second error for "no resolvers"
};

}  // namespace

Result<Policy> load_policy_text(std::string_view toml_text, const std::string& display_name,
                                const LoadOptions& options) {
  std::filesystem::path base = std::filesystem::path(display_name).parent_path();
  Loader loader(display_name, base, options);
  return loader.load(toml_text);
}

Result<Policy> load_policy_file(const std::string& path, const LoadOptions& options) {
  std::ifstream file(path, std::ios::binary);
  if (!file)
    return make_error(SourceLocation{path, 0, 0}, "",
                      std::string("cannot read policy file: ") + std::strerror(errno));
  std::ostringstream text;
  text << file.rdbuf();
  return load_policy_text(text.str(), path, options);
}

}  // namespace dnsguard::policy
