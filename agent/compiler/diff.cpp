#include <algorithm>
#include <map>

#include "compiler/diff.hpp"
#include "compiler/render_nft.hpp"

namespace dnsguard::ir {
namespace {

// Elements of `a` not in `b` and of `b` not in `a`, both sorted; duplicates count.
template <typename T>
void sorted_difference(std::vector<T> a, std::vector<T> b, std::vector<T>& only_a,
                       std::vector<T>& only_b) {
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(only_a));
  std::set_difference(b.begin(), b.end(), a.begin(), a.end(), std::back_inserter(only_b));
}

std::vector<std::string> rule_lines(const Ruleset& rs) {
  std::vector<std::string> out;
  for (const auto& r : rs.rules) out.push_back(r.chain + ": " + render_rule(r));
  return out;
}

// Lines of `a` that `b` lacks (as a multiset), in `a`'s order: rules read in the order
// they are evaluated.
std::vector<std::string> ordered_difference(const std::vector<std::string>& a,
                                            const std::vector<std::string>& b) {
  std::map<std::string_view, size_t> available;
  for (const auto& line : b) ++available[line];
  std::vector<std::string> out;
  for (const auto& line : a) {
    auto it = available.find(line);
    if (it != available.end() && it->second > 0)
      --it->second;
    else
      out.push_back(line);
  }
  return out;
}

}  // namespace

bool RulesetDiff::empty() const {
  return rules_added.empty() && rules_removed.empty() && sets_added.empty() &&
         sets_removed.empty() && set_changes.empty() && counters_added.empty() &&
         counters_removed.empty();
}

RulesetDiff diff(const Ruleset& from, const Ruleset& to) {
  RulesetDiff d;
  // Rules are compared as text: a rule whose matches or comment change shows as one
  // removed and one added, which is how a reviewer reads it anyway.
  const auto old_rules = rule_lines(from);
  const auto new_rules = rule_lines(to);
  d.rules_added = ordered_difference(new_rules, old_rules);
  d.rules_removed = ordered_difference(old_rules, new_rules);

  std::map<std::string, const AddressSet*> old_sets, new_sets;
  for (const auto& s : from.sets) old_sets[s.name] = &s;
  for (const auto& s : to.sets) new_sets[s.name] = &s;
  for (const auto& s : from.meter_sets) d.sets_removed.push_back(s.name);
  for (const auto& s : to.meter_sets) d.sets_added.push_back(s.name);
  for (const auto& [name, set] : new_sets) {
    auto it = old_sets.find(name);
    if (it == old_sets.end()) {
      d.sets_added.push_back(name);
      continue;
    }
    std::vector<IpPrefix> added, removed;
    sorted_difference(set->elements, it->second->elements, added, removed);
    if (added.empty() && removed.empty()) continue;
    SetChange change{name, {}, {}};
    for (const auto& p : added) change.added.push_back(p.to_string());
    for (const auto& p : removed) change.removed.push_back(p.to_string());
    d.set_changes.push_back(std::move(change));
  }
  for (const auto& [name, set] : old_sets)
    if (!new_sets.count(name)) d.sets_removed.push_back(name);
  // A set (a meter set, say) named on both sides was neither added nor removed.
  std::vector<std::string> added, removed;
  sorted_difference(d.sets_added, d.sets_removed, added, removed);
  d.sets_added = std::move(added);
  d.sets_removed = std::move(removed);

  std::vector<std::string> old_counters, new_counters;
  for (const auto& c : from.counters) old_counters.push_back(c.name);
  for (const auto& c : to.counters) new_counters.push_back(c.name);
  sorted_difference(new_counters, old_counters, d.counters_added, d.counters_removed);
  return d;
}

}  // namespace dnsguard::ir
