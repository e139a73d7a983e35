#pragma once
// An in-memory nft::Kernel: the "table" is the nft text of the last ruleset applied.
// Lets the controller and the API be tested without root or netlink.

#include "compiler/render_nft.hpp"
#include "nft/backend.hpp"

#include <new>
#include <utility>

namespace dnsguard::testing {

class FakeKernel final : public nft::Kernel {
 public:
  std::optional<std::string> table;  // nullopt: no table inet dnsguard
  bool refuse_next_apply = false;
  // Faults of the next apply: the answer is lost after the kernel committed (or before);
  // an exception (bad_alloc) while the transaction is built.
  enum class Fault { none, lost_after_commit, lost_before_commit, throws };
  Fault next_fault = Fault::none;
  bool table_unreadable = false;
  int applies = 0;

  Result<nft::TransactionStats> apply(const ir::Ruleset& ruleset) override {
    if (refuse_next_apply) {
      refuse_next_apply = false;
      return make_error(ErrorCode::kernel, "kernel rejected rule 0 of chain egress: Operation not supported");
    }
    const Fault fault = std::exchange(next_fault, Fault::none);
    if (fault == Fault::throws) throw std::bad_alloc();
    if (fault == Fault::lost_before_commit)
      return make_error(ErrorCode::unknown_outcome, "the kernel acknowledged 0 of 9 messages");
    if (fault == Fault::lost_after_commit) {
      table = ir::render_nft(ruleset);
      return make_error(ErrorCode::unknown_outcome, "the kernel acknowledged 3 of 9 messages");
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
    if (table_unreadable) return make_error(ErrorCode::kernel, "reading the table: No buffer space available");
    if (!table) return std::optional<nft::LiveTable>{};
    return std::optional<nft::LiveTable>{nft::LiveTable{*table}};
  }
  Result<std::vector<nft::CounterValue>> read_counters() override {
    return std::vector<nft::CounterValue>{{"egress_dns_denied", 3, 180}};
  }
};

}  // namespace dnsguard::testing
