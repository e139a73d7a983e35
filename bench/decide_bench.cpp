// Decision cost: parse a query packet's DNS message, match it against 1,000,000 blocked
// names (exact and wildcard), the allow list and the per-client rate limit, as the
// inspector does for every packet, with tunneling detection off and on. Also reports the
// memory the list takes, and the resident size of the tunneling detector under a flood of
// 1,000,000 random registered domains.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "dns/message.hpp"
#include "dns/wire.hpp"
#include "inspect/engine.hpp"

namespace {

using namespace dnsguard;

// A query with an EDNS OPT record, as resolvers' clients send them.
std::vector<uint8_t> query(const std::string& name, uint16_t qtype = 1) { return testing::query(name, qtype, true); }

struct Fixture {
  std::shared_ptr<const inspect::Engine> engine;
  std::shared_ptr<const inspect::Engine> engine_with_tunneling;
  std::vector<std::vector<uint8_t>> queries;
  size_t list_bytes = 0;

  Fixture() {
    const auto dir = std::filesystem::temp_directory_path() / "dnsguard-decide-bench";
    std::filesystem::create_directories(dir);
    {
      std::ofstream list(dir / "million.txt");
      for (int i = 0; i < 1'000'000; ++i) list << "0.0.0.0 ads" << i << ".tracker" << (i % 1000) << ".example\n";
    }
    std::ofstream(dir / "policy.toml")
        << "[policy]\nname = \"bench\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\n"
           "addresses = [\"192.0.2.53\"]\n[inspect]\nenabled = true\nblock_lists = [\"million.txt\"]\n"
           "block_domains = [\"*.doubleclick.example\", \"bad.example\"]\nallow_domains = [\"corp.example\"]\n"
           "deny_qtypes = [\"ANY\", \"NULL\"]\nrate_limit = { per_client_qps = 10000000, burst = 100000000 }\n";
    auto policy = policy::load_policy_file((dir / "policy.toml").string());
    if (!policy) throw std::runtime_error(join_errors(policy.errors()));
    auto built = inspect::Engine::build(policy.value());
    if (!built) throw std::runtime_error(join_errors(built.errors()));
    engine = built.value();
    auto tunneling = policy.value();
    tunneling.inspect.tunneling.enabled = true;
    auto built_tunneling = inspect::Engine::build(tunneling);
    if (!built_tunneling) throw std::runtime_error(join_errors(built_tunneling.errors()));
    engine_with_tunneling = built_tunneling.value();
    list_bytes = engine->memory_bytes();
    std::filesystem::remove_all(dir);
    // A mix: blocked names, names below a wildcard, and everyday names that match nothing
    // (from a working set of 5,000 sites, about what a workstation visits in a day).
    std::mt19937 rng(42);
    for (int i = 0; i < 4096; ++i) {
      switch (i % 4) {
        case 0: {
          const auto j = rng() % 1'000'000;
          queries.push_back(query("ads" + std::to_string(j) + ".tracker" + std::to_string(j % 1000) + ".example"));
          break;
        }
        case 1: queries.push_back(query("pixel.eu.doubleclick.example")); break;
        case 2: queries.push_back(query("www.site" + std::to_string(rng() % 5000) + ".com", 28)); break;
        default: queries.push_back(query("a1b2c3.cdn.provider" + std::to_string(i) + ".net")); break;
      }
    }
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * 4096;
}

// Arg 0: tunneling detection off; 1: on.
void BM_Decide(benchmark::State& state) {
  auto& f = fixture();
  const auto& engine = state.range(0) ? *f.engine_with_tunneling : *f.engine;
  inspect::DecisionState decisions;
  inspect::Client client{parse_prefix("192.0.2.10").prefix->address, 1000};
  size_t i = 0;
  size_t blocked = 0;
  // The inspector reads the clock once per batch of packets (up to 64), not per query:
  // the clock is not part of the decision.
  auto now = inspect::SteadyClock::now();
  for (auto _ : state) {
    if ((i & 63) == 0) now = inspect::SteadyClock::now();
    const auto& m = f.queries[i++ & 4095];
    dns::Query q;
    const auto err = dns::parse_query(m, q);
    const auto v = engine.decide(err == dns::ParseError::none ? &q : nullptr, err, client, now, decisions);
    blocked += v.action != inspect::Action::accept;
    benchmark::DoNotOptimize(v);
  }
  state.counters["blocked_share"] = static_cast<double>(blocked) / static_cast<double>(state.iterations());
  state.counters["list_MiB"] = static_cast<double>(f.list_bytes) / (1 << 20);
  state.counters["blocked_names"] = static_cast<double>(f.engine->blocked_names());
}
BENCHMARK(BM_Decide)->Arg(0)->Arg(1)->ArgName("tunneling");

// 1,000,000 queries, each under a new random registered domain with an encoded label, as
// an attacker would send to wear the detector out: its memory must stay bounded. Run it
// alone (--benchmark_filter=Flood) for a clean resident-size figure: it builds its own
// engine without the million-name list.
void BM_TunnelingFlood(benchmark::State& state) {
  auto policy = policy::load_policy_text(
      "[policy]\nname = \"flood\"\nversion = 1\n[egress]\n[[egress.resolvers]]\nname = \"r\"\n"
      "addresses = [\"192.0.2.53\"]\n[inspect]\nenabled = true\n[inspect.tunneling]\nenabled = true\n",
      "flood.toml");
  auto engine = inspect::Engine::build(policy.value()).value();
  std::mt19937_64 rng(7);
  const size_t before = resident_bytes();
  inspect::DecisionState decisions;
  inspect::Client client{parse_prefix("192.0.2.10").prefix->address, 1000};
  size_t blocked = 0;
  for (auto _ : state) {
    for (int i = 0; i < 1'000'000; ++i) {
      char name[64];
      const auto r = rng();
      std::snprintf(name, sizeof name, "%016llx.d%llu.com", static_cast<unsigned long long>(r),
                    static_cast<unsigned long long>(r % 100'000'000'000ULL));
      const auto m = query(name, i % 2 ? 16 : 1);
      dns::Query q;
      const auto err = dns::parse_query(m, q);
      const auto v = engine->decide(err == dns::ParseError::none ? &q : nullptr, err, client,
                                    inspect::SteadyClock::now(), decisions);
      blocked += v.action != inspect::Action::accept;
    }
  }
  const size_t after = resident_bytes();
  state.counters["accounts"] = static_cast<double>(decisions.tunnel_accounts());
  state.counters["detector_MiB"] = static_cast<double>(decisions.tunnels().memory_bytes()) / (1 << 20);
  state.counters["rss_MiB"] = static_cast<double>(after) / (1 << 20);
  state.counters["rss_growth_MiB"] = static_cast<double>(after - before) / (1 << 20);
  state.counters["blocked"] = static_cast<double>(blocked);
}
BENCHMARK(BM_TunnelingFlood)->Iterations(1)->Unit(benchmark::kMillisecond);

void BM_ParseOnly(benchmark::State& state) {
  auto& f = fixture();
  size_t i = 0;
  for (auto _ : state) {
    dns::Query q;
    benchmark::DoNotOptimize(dns::parse_query(f.queries[i++ & 4095], q));
  }
}
BENCHMARK(BM_ParseOnly);

}  // namespace

BENCHMARK_MAIN();
