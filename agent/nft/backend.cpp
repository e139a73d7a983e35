// NetlinkBackend: apply (one batch, retried when the answer was lost), remove and the
// kernel probe. Modeled on nftables' src/mnl.c: the whole batch goes out in one sendmsg,
// the kernel processes it inside that call, and every reply is then already queued on
// the socket. The parts: handles (RAII), expressions, lowering (IR to libnftnl),
// transaction (the batch), inventory and ruleset_batch (what an apply replaces),
// read_back (the fingerprint for drift, and the counters).

#include "nft/backend.hpp"

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>

#include "nft/expressions.hpp"
#include "nft/inventory.hpp"
#include "nft/lowering.hpp"
#include "nft/ruleset_batch.hpp"
#include "nft/transaction.hpp"

namespace dnsguard::nft {

std::string_view to_string(QueueBackend b) {
  switch (b) {
    case QueueBackend::native: return "nft-queue";
    case QueueBackend::xt_compat: return "xt-NFQUEUE";
    case QueueBackend::none: return "none";
  }
  return "?";
}

QueueBackend KernelFeatures::queue_backend() const {
  if (native_queue) return QueueBackend::native;
  if (xt_nfqueue) return QueueBackend::xt_compat;
  return QueueBackend::none;
}

Result<TransactionStats> NetlinkBackend::apply(const ir::Ruleset& ruleset) {
  // Nothing may leave a backend call: an exception before the batch is sent (bad_alloc
  // while building it) changed nothing; send() reports what happens after.
  try {
    return apply_once_or_retry(ruleset);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kernel, std::string("building the nftables transaction failed: ") + e.what() +
                                             "; nothing was sent");
  }
}

Result<TransactionStats> NetlinkBackend::apply_once_or_retry(const ir::Ruleset& ruleset) {
  // Queue rules are lowered to what this kernel has, which the probe finds out.
  QueueBackend queue_backend = QueueBackend::none;
  const bool queues = std::any_of(ruleset.rules.begin(), ruleset.rules.end(),
                                  [](const ir::Rule& r) { return r.verdict == ir::Verdict::queue; });
  if (queues) {
    if (!features_) {
      auto probed = probe();
      if (!probed) return probed.errors();
    }
    queue_backend = features_->queue_backend();
    if (queue_backend == QueueBackend::none)
      return make_error("this kernel can queue no packets to the inspector: it has neither the nft "
                        "queue expression (nft_queue) nor the xtables NFQUEUE target (nft_compat, "
                        "xt_NFQUEUE); load one of them or disable [inspect]");
  }
  // As nft does: the batch carries the generation the inventory was read at, and when
  // another commit came in between, everything is read and sent again.
  for (int attempt = 1;; ++attempt) {
    auto nl = open_socket();
    if (!nl) return nl.errors();
    const auto before = read_generation(nl->get());
    auto live = read_inventory(nl->get());
    if (!live) return live.errors();
    Transaction tx(before ? std::optional(before.value()) : std::nullopt);
    add_ruleset(tx, ruleset, queue_backend, live.value());
    auto sent = tx.send(nl->get(), true, size_t{1} << (attempt - 1));
    if (sent) return sent;
    if (tx.generation_changed() && attempt < 3) continue;
    if (!before || sent.errors().front().code != ErrorCode::unknown_outcome) return sent;
    // The answer was lost. An unchanged generation means nothing was committed (so it
    // is sent again, with room for more replies); a new one that it was, by us or by
    // someone racing us: only the caller can tell.
    auto fresh = open_socket();
    const auto after = fresh ? read_generation(fresh->get()) : Result<uint32_t>(fresh.errors());
    if (after && after.value() == before.value()) {
      if (attempt < 3) continue;
      return make_error(ErrorCode::kernel, sent.errors().front().message +
                                               "; the ruleset generation is unchanged, so nothing was committed");
    }
    return make_error(ErrorCode::unknown_outcome,
                      sent.errors().front().message + "; the outcome is unknown (ruleset generation " +
                          std::to_string(before.value()) + " -> " +
                          (after ? std::to_string(after.value()) : "unreadable") + ")");
  }
}

Status NetlinkBackend::remove() {
  auto nl = open_socket();
  if (!nl) return nl.errors();
  Transaction tx;
  tx.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, kTable, NFPROTO_INET);
  tx.add_table(NFT_MSG_DELTABLE, 0, kTable, NFPROTO_INET);
  auto sent = tx.send(nl->get(), true);
  if (!sent) return sent.errors();
  return ok_status();
}

Result<KernelFeatures> NetlinkBackend::probe() {
  auto nl = open_socket();
  if (!nl) return nl.errors();
  KernelFeatures features;
  const std::string probe_table = kTable + "_probe";

  // Each check runs in its own validate-then-abort batch so one missing feature cannot
  // hide another. `family` is the table family the rule is tried in.
  auto check = [&](uint16_t family, uint32_t table_flags, auto&& add_exprs) {
    Transaction tx;
    tx.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, probe_table, family, table_flags);
    if (add_exprs) {
      Chain chain(nftnl_chain_alloc());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, probe_table.c_str());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, "probe");
      nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, family);
      tx.message(
          NFT_MSG_NEWCHAIN, NLM_F_CREATE, "probe chain",
          [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, chain.get()); }, family);
      Rule r(nftnl_rule_alloc());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, probe_table.c_str());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "probe");
      nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
      add_exprs(r.get());
      tx.message(
          NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "probe rule",
          [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); }, family);
    }
    return tx.send(nl->get(), false).ok();
  };
  using AddExprs = void (*)(nftnl_rule*);

  features.nf_tables = check(NFPROTO_INET, 0, AddExprs{nullptr});
  if (!features.nf_tables) return make_error("the kernel's nf_tables did not accept a table; is nf_tables available?");
  features.table_owner_flag = check(NFPROTO_INET, NFT_TABLE_F_OWNER, AddExprs{nullptr});
  features.native_queue = check(NFPROTO_INET, 0, AddExprs{[](nftnl_rule* r) {
    add_queue(r, ir::QueueSpec{0, 1, true, false}, QueueBackend::native);
  }});
  features.xt_nfqueue = check(NFPROTO_INET, 0, AddExprs{[](nftnl_rule* r) {
    add_queue(r, ir::QueueSpec{0, 1, true, false}, QueueBackend::xt_compat);
  }});
  features_ = features;
  return features;
}

}  // namespace dnsguard::nft
