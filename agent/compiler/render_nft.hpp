#pragma once
// The Ruleset IR as nft text: what `dnsguardctl compile` prints and plans show.

#include <string>

#include "ir/ruleset.hpp"

namespace dnsguard::ir {

// nft text that `nft -f` applies as one transaction replacing table inet dnsguard.
std::string render_nft(const Ruleset& ruleset);
// One rule in nft syntax, as it appears inside its chain.
std::string render_rule(const Rule& rule);

}  // namespace dnsguard::ir
