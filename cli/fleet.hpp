#pragma once
// dnsguardctl across a fleet: one verb against many agents over TCP with mutual TLS,
// concurrently (bounded), each with its own deadline; one row per agent and a summary.

#include <chrono>
#include <string>
#include <vector>

namespace dnsguard::cli {

struct FleetOptions {
  std::vector<std::string> agents;  // HOST:PORT
  std::string certificate, key, ca;
  size_t parallel = 32;
  std::chrono::seconds timeout{30};
  bool json = false;
};

// Reads one HOST:PORT a line; '#' comments and blank lines skipped. False (with a
// message on stderr) when the file cannot be read.
bool read_agents_file(const std::string& path, std::vector<std::string>& into);

// Runs `verb` (status, apply, confirm, rollback, disable) with its arguments on every
// agent. Returns the exit status: 0 when every agent succeeded, 1 otherwise.
int run_fleet(const FleetOptions& options, const std::string& verb, const std::vector<std::string>& args);

}  // namespace dnsguard::cli
