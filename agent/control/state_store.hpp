#pragma once
// The agent's state directory: one state file, replaced atomically (write a temporary
// file, fsync it, rename it over the old one, fsync the directory), so a crash at any
// instant leaves a loadable state: the old one or the new one.

#include <filesystem>

#include "common/error.hpp"
#include "dnsguard/state/v1/state.pb.h"

namespace dnsguard::control {

using AgentState = dnsguard::state::v1::AgentState;

class StateStore {
 public:
  explicit StateStore(std::filesystem::path dir) : dir_(std::move(dir)) {}

  // Creates the directory (mode 0700) when missing.
  Status prepare() const;
  // The saved state, or a fresh one when nothing was saved yet.
  Result<AgentState> load() const;
  Status save(const AgentState& state) const;

  std::filesystem::path state_file() const { return dir_ / "state.json"; }

 private:
  std::filesystem::path dir_;
};

}  // namespace dnsguard::control
