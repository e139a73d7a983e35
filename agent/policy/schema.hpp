#pragma once
// Every key the policy loader accepts, by table: the one list the loader checks keys
// against, "did you mean" draws from, and the reference test holds docs/policy.md to.

#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace dnsguard::policy {

// A table of the policy file and its keys. `path` is the dotted path of the table;
// arrays of tables end in "[]" (e.g. "egress.resolvers[]"); the root is "".
struct TableKeys {
  std::string_view path;
  std::span<const std::string_view> keys;
};

// Every table, root first.
std::span<const TableKeys> policy_tables();

// The keys of the table at `path` (as in TableKeys::path); empty when unknown.
std::span<const std::string_view> keys_of(std::string_view path);

// Every key as its dotted path ("inspect.tunneling.hold_seconds",
// "egress.resolvers[].name"), tables included.
std::vector<std::string> all_policy_keys();

// The known key a misspelt `key` most likely meant: within two edits (a swap of
// neighbours counts as one), or differing only by a trailing "s"; nullopt when none.
std::optional<std::string_view> nearest_key(std::string_view key, std::span<const std::string_view> known);

}  // namespace dnsguard::policy
