#pragma once
// The nft backend: the only code that talks nf_tables netlink. It replaces table
// `inet dnsguard` in one atomic transaction, probes what the kernel supports, and reads
// our own table back. It never lists, changes or deletes any other table.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "ir/ruleset.hpp"

namespace dnsguard::nft {

// How queue rules are lowered on this kernel (see probe()).
enum class QueueBackend : uint8_t { native, xt_compat, none };
std::string_view to_string(QueueBackend b);

struct KernelFeatures {
  bool nf_tables = false;       // nf_tables netlink answered at all
  bool native_queue = false;    // nft `queue` expression (nft_queue)
  bool xt_nfqueue = false;      // xtables NFQUEUE target through nft_compat
  bool table_owner_flag = false;  // NFT_TABLE_F_OWNER (kernel 5.12+)
  QueueBackend queue_backend() const;
};

struct TransactionStats {
  size_t messages = 0;      // netlink messages in the batch, begin/end excluded
  size_t set_elements = 0;  // kernel set elements sent (intervals count twice)
  size_t bytes = 0;
};

// The live table, reduced to what the agent controls: chains, rules, sets and their
// elements, counter names. Handles and counter values are left out, so two readings of
// an untouched table compare equal and any hand edit shows as a difference.
struct LiveTable {
  std::string fingerprint;
};

// Sets whose elements the read-back leaves out (it still compares their definitions).
// The kernel dumps an interval set's elements 32 KiB at a time and walks the set from
// its start for every message, so reading a million prefixes back takes minutes; the
// controller passes the sets it made with more than kLargeSetRanges ranges.
inline constexpr size_t kLargeSetRanges = 20000;
struct ReadOptions {
  std::vector<std::string> sets_without_elements;
};

struct CounterValue {
  std::string name;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

// Largest number of set ranges sent in one netlink message; an interval range is two
// kernel elements, and one message must stay below 64 KiB of elements.
inline constexpr size_t kRangesPerMessage = 512;

// What the agent needs from the kernel. NetlinkBackend is the real one; tests of the
// controller and the API substitute a fake, so they run without root.
class Kernel {
 public:
  virtual ~Kernel() = default;
  // Replaces table inet dnsguard with `ruleset` in one transaction. On an error with
  // ErrorCode::kernel the kernel has applied nothing, and the message names the rule or
  // set (and its policy key); ErrorCode::unknown_outcome: its answer was lost, and it
  // may have committed.
  virtual Result<TransactionStats> apply(const ir::Ruleset& ruleset) = 0;
  // Deletes table inet dnsguard; succeeds when it is already gone.
  virtual Status remove() = 0;
  // Asks the kernel, in a transaction that is validated and then aborted, which
  // features it has. Changes nothing.
  virtual Result<KernelFeatures> probe() = 0;
  // nullopt when the table does not exist.
  virtual Result<std::optional<LiveTable>> read_table(const ReadOptions& options = {}) = 0;
  virtual Result<std::vector<CounterValue>> read_counters() = 0;
};

// The libnftnl expressions `rule` lowers to, as libnftnl prints them. For tests: it shows
// both queue lowerings without needing a kernel that has both.
std::string describe_lowering(const ir::Rule& rule, QueueBackend queue_backend);

// Queue rules are lowered to the native `queue` expression where the kernel has it and
// to the xtables NFQUEUE target otherwise, as the last probe() found (probed on first
// need).
class NetlinkBackend final : public Kernel {
 public:
  Result<TransactionStats> apply(const ir::Ruleset& ruleset) override;
  Status remove() override;
  Result<KernelFeatures> probe() override;
  Result<std::optional<LiveTable>> read_table(const ReadOptions& options = {}) override;
  Result<std::vector<CounterValue>> read_counters() override;

 private:
  Result<TransactionStats> apply_once_or_retry(const ir::Ruleset& ruleset);
  std::optional<KernelFeatures> features_;
};

}  // namespace dnsguard::nft
