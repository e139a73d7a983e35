#pragma once
// What replacing one ruleset with another changes: the plan a reviewer reads.

#include <string>
#include <vector>

#include "ir/ruleset.hpp"

namespace dnsguard::ir {

struct SetChange {
  std::string set;
  std::vector<std::string> added;
  std::vector<std::string> removed;
};

// What replacing `from` with `to` changes, in words a reviewer reads: rules as
// "chain: nft text", sets and counters by name, elements of sets present in both.
struct RulesetDiff {
  std::vector<std::string> rules_added;
  std::vector<std::string> rules_removed;
  std::vector<std::string> sets_added;
  std::vector<std::string> sets_removed;
  std::vector<SetChange> set_changes;
  std::vector<std::string> counters_added;
  std::vector<std::string> counters_removed;
  bool empty() const;
};

RulesetDiff diff(const Ruleset& from, const Ruleset& to);

}  // namespace dnsguard::ir
