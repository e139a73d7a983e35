#pragma once
// Inside the nft backend: the messages that replace our table's contents with a ruleset.

#include "nft/inventory.hpp"
#include "nft/transaction.hpp"

namespace dnsguard::nft {

// Adds to `tx` what turns table inet dnsguard from `live` into `rs`, in place.
void add_ruleset(Transaction& tx, const ir::Ruleset& rs, QueueBackend queue_backend, const Inventory& live);

}  // namespace dnsguard::nft
