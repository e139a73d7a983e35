#pragma once
// Policy -> Ruleset IR. Pure and deterministic: the same policy always yields the same
// rules in the same order, so golden files and plans can compare them as text.

#include "compiler/diff.hpp"
#include "compiler/render_nft.hpp"
#include "ir/ruleset.hpp"
#include "policy/policy.hpp"

namespace dnsguard::compiler {

ir::Ruleset compile(const policy::Policy& policy);

}  // namespace dnsguard::compiler
