// dnsguard-nft-tool: drives the nft backend directly, for integration tests and the
// demo until the agent exists. Not installed; users apply policies through dnsguardd.
//
//   dnsguard-nft-tool apply FILE [--inject-invalid-rule]
//   dnsguard-nft-tool remove | probe | fingerprint | counters

#include <chrono>
#include <iostream>
#include <string>
#include <string_view>

#include "compiler/compile.hpp"
#include "nft/backend.hpp"
#include "policy/policy.hpp"

using namespace dnsguard;

namespace {

int fail(const Errors& errors) {
  std::cerr << join_errors(errors);
  return 1;
}

int apply(const std::string& path, bool inject_invalid) {
  const auto started = std::chrono::steady_clock::now();
  auto policy = policy::load_policy_file(path);
  if (!policy) return fail(policy.errors());
  ir::Ruleset rs = compiler::compile(policy.value());
  if (inject_invalid) {
    // A rule that looks up a set that does not exist: the kernel must refuse the
    // whole transaction, which is what the atomicity test checks.
    ir::Rule bad;
    bad.chain = rs.chains.empty() ? "egress" : rs.chains.front().name;
    bad.address = ir::AddressMatch{ir::Direction::destination, AddressFamily::ipv4, "no_such_set"};
    bad.verdict = ir::Verdict::drop;
    bad.comment = "injected by the test";
    rs.rules.push_back(bad);
  }
  const auto compiled = std::chrono::steady_clock::now();
  nft::NetlinkBackend backend;
  auto stats = backend.apply(rs);
  if (!stats) return fail(stats.errors());
  const auto committed = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); };
  std::cout << "applied " << rs.policy_name << " version " << rs.policy_version << ": "
            << stats->messages << " messages, " << stats->set_elements << " set elements, "
            << stats->bytes << " bytes in one transaction\n"
            << "load and compile " << ms(compiled - started) << " ms, netlink transaction " << ms(committed - compiled)
            << " ms\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string_view verb = argc > 1 ? argv[1] : "";
  nft::NetlinkBackend backend;
  if (verb == "apply" && (argc == 3 || argc == 4)) {
    const bool inject = argc == 4 && std::string_view(argv[3]) == "--inject-invalid-rule";
    if (argc == 4 && !inject) return 2;
    return apply(argv[2], inject);
  }
  if (verb == "remove") {
    auto s = backend.remove();
    return s ? 0 : fail(s.errors());
  }
  if (verb == "probe") {
    auto f = backend.probe();
    if (!f) return fail(f.errors());
    std::cout << "native_queue " << f->native_queue << "\nxt_nfqueue " << f->xt_nfqueue
              << "\ntable_owner_flag " << f->table_owner_flag << "\nqueue_backend "
              << nft::to_string(f->queue_backend()) << '\n';
    return 0;
  }
  if (verb == "fingerprint") {
    auto t = backend.read_table();
    if (!t) return fail(t.errors());
    if (!t.value()) {
      std::cout << "no table\n";
      return 3;
    }
    std::cout << t.value()->fingerprint;
    return 0;
  }
  if (verb == "counters") {
    auto c = backend.read_counters();
    if (!c) return fail(c.errors());
    for (const auto& v : c.value()) std::cout << v.name << ' ' << v.packets << ' ' << v.bytes << '\n';
    return 0;
  }
  std::cerr << "usage: dnsguard-nft-tool apply FILE [--inject-invalid-rule] | remove | probe | "
               "fingerprint | counters\n";
  return 2;
}
