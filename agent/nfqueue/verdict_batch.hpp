#pragma once
// Verdicts for one read of the queue: consecutive accepts become one batch verdict (the
// kernel accepts every packet still waiting whose id is not after it, in serial-number
// order, so the ids may wrap); a drop flushes the run and goes on its own. Pure: the
// queue thread turns the messages into netlink.

#include <cstdint>
#include <optional>
#include <vector>

namespace dnsguard::nfqueue {

struct VerdictMessage {
  bool batch = false;  // NFQNL_MSG_VERDICT_BATCH: every waiting id up to `id`
  uint32_t id = 0;
  bool accept = true;
  bool operator==(const VerdictMessage&) const = default;
};

class VerdictBatcher {
 public:
  explicit VerdictBatcher(bool batching = true) : batching_(batching) {}

  void accept(uint32_t id) {
    if (!batching_) {
      out_.push_back({false, id, true});
      return;
    }
    pending_accept_ = id;  // 0 is an id like any other once the counter has wrapped
  }
  void drop(uint32_t id) {
    flush();
    out_.push_back({false, id, false});
  }
  // The messages to send for this read, in order; clears the batcher for the next one.
  const std::vector<VerdictMessage>& finish() {
    flush();
    return out_;
  }
  void clear() { out_.clear(); }

 private:
  void flush() {
    if (!pending_accept_) return;
    out_.push_back({true, *pending_accept_, true});
    pending_accept_.reset();
  }

  bool batching_;
  std::optional<uint32_t> pending_accept_;
  std::vector<VerdictMessage> out_;
};

}  // namespace dnsguard::nfqueue
