// Tunneling detection, evaluated offline: replays a day of benign workstation traffic
// and a set of tunnel sessions through the inspector's decide() with simulated time, and
// reports recall, time to detect (queries, payload bytes and seconds of traffic before
// the block) and false positives (benign queries blocked, benign registered domains
// flagged). Deterministic: the same seed gives the same figures.
//
//   tunnel_eval [--domains top-domains.csv] [--clients N] [--hours H] [--check]
//
// With --check it exits 1 unless the targets hold: every tunnel session blocked, the
// fast tools within 50 queries, the slow script within 10 minutes, under 0.01% of
// benign queries blocked and no benign registered domain flagged.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "dns/message.hpp"
#include "dns/wire.hpp"
#include "inspect/engine.hpp"

namespace {

using namespace dnsguard;
using namespace std::chrono_literals;
using Clock = inspect::SteadyClock;

struct Query {
  std::string name;
  uint16_t qtype = 1;
  size_t payload = 0;  // tunnel payload bytes this query carries (0 for benign)
};

// ---- Encodings the tunnels use -----------------------------------------------------------

constexpr std::string_view kBase32 = "abcdefghijklmnopqrstuvwxyz012345";  // iodine's
constexpr std::string_view kBase64 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-+";
constexpr std::string_view kBase64u = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

std::string base128_alphabet() {  // iodine's: letters, digits, then bytes 0xbc..0xfd
  std::string a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  for (int c = 0xbc; a.size() < 128; ++c) a += static_cast<char>(c);
  return a;
}

std::string encode_bits(const std::vector<uint8_t>& data, std::string_view alphabet, int bits) {
  std::string out;
  uint32_t acc = 0;
  int have = 0;
  for (uint8_t b : data) {
    acc = (acc << 8) | b;
    have += 8;
    while (have >= bits) {
      out += alphabet[(acc >> (have - bits)) & ((1u << bits) - 1)];
      have -= bits;
    }
  }
  if (have > 0) out += alphabet[(acc << (bits - have)) & ((1u << bits) - 1)];
  return out;
}

std::string hex(const std::vector<uint8_t>& data) { return encode_bits(data, "0123456789abcdef", 4); }

// Splits into labels of at most `label` characters.
std::string dotify(const std::string& s, size_t label) {
  std::string out;
  for (size_t i = 0; i < s.size(); i += label) {
    if (!out.empty()) out += '.';
    out += s.substr(i, label);
  }
  return out;
}

std::vector<uint8_t> random_bytes(std::mt19937_64& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(rng());
  return v;
}

// ---- Tunnel sessions ---------------------------------------------------------------------

struct Session {
  std::string tool;
  bool fast = true;  // a ready-made tunnel (target: 50 queries); false: slow script (10 min)
  std::vector<Query> queries;
  std::chrono::milliseconds interval{50};
};

// iodine: a handshake (version, login, address, upstream codec check with non-ASCII test
// bytes, downstream codec and fragment size probes), then data queries carrying up to
// ~150 bytes each, dotted every 57 characters, in the chosen record type.
Session iodine(std::mt19937_64& rng, const std::string& type_name, uint16_t qtype, const std::string& codec,
               const std::string& domain, bool data_only = false) {
  Session s{"iodine " + type_name + " " + codec + (data_only ? ", data only" : ""), true, {}, 20ms};
  std::string alphabet;
  int bits = 5;
  if (codec == "base32") alphabet = kBase32;
  else if (codec == "base64") alphabet = kBase64, bits = 6;
  else if (codec == "base64u") alphabet = kBase64u, bits = 6;
  else alphabet = base128_alphabet(), bits = 7;
  auto q = [&](const std::string& name, size_t payload) { s.queries.push_back({name + "." + domain, qtype, payload}); };
  const std::string user = std::string(1, "0123456789abcdef"[rng() % 16]);
  q("v" + encode_bits(random_bytes(rng, 6), kBase32, 5), 6);                 // version
  q("l" + user + encode_bits(random_bytes(rng, 19), kBase32, 5), 19);        // login
  q("i" + user + encode_bits(random_bytes(rng, 2), kBase32, 5), 2);          // address
  q("z" + user + "aA-Aaahhh-Drink-mal-ein-J\xe4germeister-", 0);              // case/8-bit check
  for (int i = 0; i < 3; ++i) q("y" + user + encode_bits(random_bytes(rng, 3), kBase32, 5), 3);
  q("o" + user + encode_bits(random_bytes(rng, 3), kBase32, 5), 3);          // options
  for (int i = 0; i < 6; ++i) q("r" + user + encode_bits(random_bytes(rng, 4), kBase32, 5), 4);  // frag probes
  if (data_only) s.queries.clear();  // as if the handshake had not been seen
  for (int i = 0; i < 200; ++i) {
    const size_t payload = 40 + rng() % 110;
    q(dotify(user + encode_bits(random_bytes(rng, payload + 2), alphabet, bits), 57), payload);
  }
  return s;
}

// dnscat2: hex of a small header and the data, random record types among TXT, CNAME and
// MX; with long labels (its default) or kept short to evade length signals.
Session dnscat2(std::mt19937_64& rng, size_t label, const std::string& domain) {
  Session s{"dnscat2 hex, " + std::to_string(label) + "-char labels", true, {}, 100ms};
  const uint16_t types[] = {16, 5, 15};
  const uint16_t session = static_cast<uint16_t>(rng());
  for (int i = 0; i < 300; ++i) {
    const bool idle = i % 3 != 0;
    const size_t payload = idle ? 0 : 20 + rng() % 90;
    auto data = random_bytes(rng, 9 + payload);
    data[3] = static_cast<uint8_t>(session);
    data[4] = static_cast<uint8_t>(session >> 8);
    s.queries.push_back({dotify(hex(data), label) + "." + domain, types[rng() % 3], payload});
  }
  return s;
}

// A hand-written exfiltration script: one A query a second carrying 20-30 bytes. With
// `fast`, ten a second: a tool kept under every per-query signal.
Session slow_script(std::mt19937_64& rng, const std::string& codec, const std::string& domain, bool fast = false) {
  Session s{(fast ? "evasive script " : "slow script ") + codec + (fast ? ", 10 queries/s" : ", 1 query/s"), false, {},
            fast ? 100ms : 1000ms};
  for (int i = 0; i < 1800; ++i) {
    const size_t payload = 20 + rng() % 11;
    const auto data = random_bytes(rng, payload);
    std::string label = codec == "hex" ? hex(data) : encode_bits(data, codec == "base32" ? kBase32 : kBase64u, codec == "base32" ? 5 : 6);
    s.queries.push_back({dotify(label, 40) + "." + std::to_string(i) + "." + domain, 1, payload});
  }
  return s;
}

// ---- Benign traffic ----------------------------------------------------------------------

std::vector<std::string> load_domains(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto comma = line.find(',');
    std::string d = comma == std::string::npos ? line : line.substr(comma + 1);
    while (!d.empty() && (d.back() == '\r' || d.back() == ' ')) d.pop_back();
    if (!d.empty()) out.push_back(d);
  }
  return out;
}

std::vector<std::string> synthetic_domains() {  // when no list is available
  std::vector<std::string> out;
  const char* tlds[] = {"com", "net", "org", "de", "co.uk", "ru", "com.br", "io", "jp", "fr"};
  for (int i = 0; i < 20000; ++i) out.push_back("site" + std::to_string(i * 7919 % 100000) + "." + tlds[i % 10]);
  return out;
}

std::string random_from(std::mt19937_64& rng, std::string_view alphabet, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) s += alphabet[rng() % alphabet.size()];
  return s;
}

// One workstation's day: page visits to popular domains (Zipf-like by rank), each asking
// the apex, www and a few of the subdomains sites use, hashed CDN hosts, and the
// background a desktop has (mail with DKIM and spam-list lookups, trust-anchor
// signalling, reverse lookups, software updates).
std::vector<std::pair<std::chrono::milliseconds, Query>> workstation_day(std::mt19937_64& rng,
                                                                         const std::vector<std::string>& domains,
                                                                         int hours) {
  std::vector<std::pair<std::chrono::milliseconds, Query>> out;
  const std::string subs[] = {"www", "api", "cdn", "static", "img", "images", "m", "mail", "login", "accounts",
                              "assets", "media", "fonts", "apis", "auth", "s", "app", "video", "news", "shop"};
  std::uniform_real_distribution<double> unit(0, 1);
  const double n = static_cast<double>(domains.size());
  auto pick_domain = [&] {  // rank ~ n^u: heavy head, long tail
    return domains[std::min(domains.size() - 1, static_cast<size_t>(std::pow(n, unit(rng))) - 1)];
  };
  std::chrono::milliseconds t{static_cast<long>(rng() % 60000)};
  const std::chrono::milliseconds end = std::chrono::hours(hours);
  while (t < end) {
    const std::string site = pick_domain();
    auto ask = [&](const std::string& name, uint16_t qtype = 1) {
      out.push_back({t, {name, qtype, 0}});
      t += std::chrono::milliseconds(rng() % 40);
    };
    ask(site);
    ask("www." + site);
    ask("www." + site, 28);
    for (int i = 0, k = static_cast<int>(rng() % 6); i < k; ++i) ask(subs[rng() % 20] + "." + site);
    // Third-party resources: another popular domain's CDN/API hosts.
    for (int i = 0, k = static_cast<int>(rng() % 4); i < k; ++i) ask(subs[rng() % 20] + "." + pick_domain());
    switch (rng() % 10) {
      case 0: ask("d" + random_from(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 13) + ".cloudfront.net"); break;
      case 1: ask("e" + std::to_string(rng() % 100000) + ".dscb.akamaiedge.net"); break;
      case 2: ask("r" + std::to_string(rng() % 10) + "---sn-" + random_from(rng, "abcdefghijklmnopqrstuvwxyz0123456789", 8) +
                  ".googlevideo.com");
        break;
      case 3: ask(random_from(rng, "0123456789abcdef", 8) + "-" + random_from(rng, "0123456789abcdef", 4) + ".cdn." + site); break;
      default: break;
    }
    // Background: a mail client checking DKIM and spam lists, DNSSEC trust-anchor
    // signalling, reverse lookups, update checks.
    switch (rng() % 25) {
      case 0: ask("selector" + std::to_string(1 + rng() % 2) + "._domainkey." + site, 16); break;
      case 1: ask(std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) +
                  "." + std::to_string(rng() % 256) + ".zen.spamhaus.org");
        break;
      case 2: ask("_ta-4f66", 10); break;
      case 3: ask(std::to_string(rng() % 256) + "." + std::to_string(rng() % 256) + ".51.198.in-addr.arpa", 12); break;
      case 4: ask("_dmarc." + site, 16); break;
      case 5: ask(site, 15); break;  // MX
      case 6: ask("_imaps._tcp." + site, 33); break;
      default: break;
    }
    t += std::chrono::milliseconds(2000 + rng() % 40000);  // think time between pages
  }
  return out;
}

// ---- Replay ------------------------------------------------------------------------------

struct Replayer {
  Replayer(const inspect::Engine& e, inspect::DecisionState& s) : engine(e), state(s) {}
  const inspect::Engine& engine;
  inspect::DecisionState& state;
  inspect::RegisteredDomains domains;
  Clock::time_point start = Clock::time_point{} + 1000h;

  struct Outcome {
    inspect::Verdict verdict;
    std::string registered_domain;  // as the detector sees it
  };

  Outcome decide(const Query& q, const inspect::Client& client, std::chrono::milliseconds at) {
    const auto m = testing::query(q.name, q.qtype);
    dns::Query parsed;
    const auto err = dns::parse_query(m, parsed);
    Outcome out;
    out.verdict = engine.decide(err == dns::ParseError::none ? &parsed : nullptr, err, client, start + at, state);
    if (err == dns::ParseError::none) {
      std::array<uint64_t, 128> suffixes;
      inspect::hash_suffixes(parsed.qname, suffixes);
      out.registered_domain = parsed.qname.suffix(domains.first_label(parsed.qname, suffixes));
    }
    return out;
  }
};

inspect::Client client_number(uint32_t n) {
  inspect::Client c;
  c.address = parse_prefix("fd00:e7a1::" + std::to_string(n)).prefix->address;
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  std::string domains_path;
  int clients = 20;
  int hours = 8;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--domains" && i + 1 < argc) domains_path = argv[++i];
    else if (a == "--clients" && i + 1 < argc) clients = std::atoi(argv[++i]);
    else if (a == "--hours" && i + 1 < argc) hours = std::atoi(argv[++i]);
    else if (a == "--check") check = true;
    else {
      std::cerr << "usage: tunnel_eval [--domains top-domains.csv] [--clients N] [--hours H] [--check]\n";
      return 2;
    }
  }
  std::vector<std::string> domains;
  if (!domains_path.empty()) {
    domains = load_domains(domains_path);
    if (domains.empty()) {
      std::cerr << "tunnel_eval: no domains in " << domains_path << "\n";
      return 2;
    }
    std::cout << "benign domains: " << domains.size() << " from " << domains_path << "\n";
  } else {
    domains = synthetic_domains();
    std::cout << "benign domains: " << domains.size() << " synthetic (pass --domains for a popularity list)\n";
  }

  auto policy = policy::load_policy_text(
      "[policy]\nname = \"eval\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\naddresses = [\"192.0.2.53\"]\n[inspect]\nenabled = true\n[inspect.tunneling]\nenabled = true\n",
      "eval.toml");
  if (!policy) {
    std::cerr << join_errors(policy.errors());
    return 2;
  }
  const auto settings = policy->inspect.tunneling;
  auto engine = inspect::Engine::build(policy.value()).value();
  inspect::DecisionState state;
  Replayer replay(*engine, state);
  std::mt19937_64 rng(20261122);

  // Benign: every client's day, interleaved in time order.
  std::vector<std::tuple<std::chrono::milliseconds, uint32_t, Query>> benign;
  for (int c = 0; c < clients; ++c)
    for (auto& [t, q] : workstation_day(rng, domains, hours)) benign.emplace_back(t, c, std::move(q));
  std::sort(benign.begin(), benign.end(), [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
  size_t benign_blocked = 0;
  std::set<std::string> benign_domains, flagged;
  std::map<std::string, std::string> flagged_example;
  for (const auto& [t, c, q] : benign) {
    const auto [v, domain] = replay.decide(q, client_number(static_cast<uint32_t>(c)), t);
    benign_domains.insert(domain);
    if (v.reason == inspect::Reason::tunneling) {
      ++benign_blocked;
      if (flagged.insert(domain).second)
        flagged_example[domain] = q.name + " (" + inspect::signal_names(v.tunnel_signals) + ")";
    }
  }

  // Tunnels: each session from its own client, under its own domain.
  std::vector<Session> sessions;
  const std::pair<std::string, uint16_t> iodine_types[] = {{"NULL", 10}, {"PRIVATE", 65399}, {"TXT", 16},
                                                           {"SRV", 33},  {"MX", 15},         {"CNAME", 5},
                                                           {"A", 1}};
  int n = 0;
  for (const auto& [type_name, qtype] : iodine_types)
    for (const std::string codec : {"base32", "base64", "base64u", "base128"})
      sessions.push_back(iodine(rng, type_name, qtype, codec, "t" + std::to_string(n++) + ".tunnel.example"));
  for (const std::string codec : {"base32", "base128"})
    sessions.push_back(iodine(rng, "TXT", 16, codec, "t" + std::to_string(n++) + ".tunnel.example", true));
  sessions.push_back(dnscat2(rng, 63, "c1.example"));
  sessions.push_back(dnscat2(rng, 30, "c2.example"));
  for (const std::string codec : {"base32", "hex", "base64"})
    sessions.push_back(slow_script(rng, codec, "exfil-" + codec + ".example"));
  sessions.push_back(slow_script(rng, "hex", "evasive.example", true));

  std::printf("\n%-34s %8s %9s %9s %10s  %s\n", "tunnel session", "blocked", "queries", "bytes", "seconds", "signals");
  int missed = 0, fast_late = 0, slow_late = 0;
  uint32_t client = 1000;
  for (const auto& s : sessions) {
    const auto who = client_number(client++);
    size_t queries = 0, bytes = 0;
    std::chrono::milliseconds t{0};
    bool blocked = false;
    uint16_t signals = 0;
    for (const auto& q : s.queries) {
      const auto v = replay.decide(q, who, std::chrono::hours(hours) + t).verdict;
      ++queries;
      if (v.reason == inspect::Reason::tunneling && v.action != inspect::Action::accept) {
        blocked = true;
        signals = v.tunnel_signals;
        break;
      }
      bytes += q.payload;
      t += s.interval;
    }
    const double seconds = std::chrono::duration<double>(t).count();
    if (!blocked) ++missed;
    else if (s.fast && queries > 50) ++fast_late;
    else if (!s.fast && seconds > 600) ++slow_late;
    std::printf("%-34s %8s %9zu %9zu %10.1f  %s\n", s.tool.c_str(), blocked ? "yes" : "NO", queries, bytes, seconds,
                inspect::signal_names(signals).c_str());
  }

  const double fp_share = benign.empty() ? 0 : 100.0 * static_cast<double>(benign_blocked) / static_cast<double>(benign.size());
  std::printf("\nrecall: %zu/%zu tunnel sessions blocked (%d fast tools over 50 queries, %d slow over 10 min)\n",
              sessions.size() - static_cast<size_t>(missed), sessions.size(), fast_late, slow_late);
  std::printf("benign: %zu queries from %d clients over %d h, %zu registered domains; blocked %zu (%.4f%%); "
              "registered domains flagged: %zu\n",
              benign.size(), clients, hours, benign_domains.size(), benign_blocked, fp_share, flagged.size());
  for (const auto& [d, example] : flagged_example) std::printf("  flagged %s e.g. %s\n", d.c_str(), example.c_str());
  std::printf("settings: budget %u bytes/hour, %u names/hour, hold %u s; detector accounts in use: %zu\n",
              settings.budget_bytes_per_hour, settings.names_per_hour, settings.hold_seconds, state.tunnel_accounts());
  if (check && (missed || fast_late || slow_late || fp_share >= 0.01 || !flagged.empty())) {
    std::printf("targets NOT met\n");
    return 1;
  }
  if (check) std::printf("targets met\n");
  return 0;
}
