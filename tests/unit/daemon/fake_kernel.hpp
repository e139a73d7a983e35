#pragma once
// An in-memory nft::Kernel: the "table" is the nft text of the last ruleset applied.
// Lets the controller and the API be tested without root or netlink.

#include "compiler/ruleset.hpp"
#include "nft/backend.hpp"

namespace dnsguard::testing {

class FakeKernel final : public nft::Kernel {
 public:
  std::optional<std::string> table;  // nullopt: no table inet dnsguard
  bool refuse_next_apply = false;
  int applies = 0;

  Result<nft::TransactionStats> apply(const ir::Ruleset& ruleset) override {
    if (refuse_next_apply) {
      refuse_next_apply = false;
      return make_error("kernel rejected rule 0 of chain egress: Operation not supported");
    }
    ++applies;
    table = ir::render_nft(ruleset);
    return nft::TransactionStats{ruleset.rules.size(), 0, table->size()};
  }
  Status remove() override {
    table.reset();
    return ok_status();
  }
  Result<nft::KernelFeatures> probe() override {
    nft::KernelFeatures f;
    f.nf_tables = true;
    f.xt_nfqueue = true;
    return f;
  }
  Result<std::optional<nft::LiveTable>> read_table(const nft::ReadOptions& = {}) override {
    if (!table) return std::optional<nft::LiveTable>{};
    return std::optional<nft::LiveTable>{nft::LiveTable{*table}};
  }
  Result<std::vector<nft::CounterValue>> read_counters() override {
    return std::vector<nft::CounterValue>{{"egress_dns_denied", 3, 180}};
  }
};

}  // namespace dnsguard::testing
