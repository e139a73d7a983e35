#pragma once
// Inside the nft backend: what our table holds (an apply replaces it in place), and the
// ruleset generation. Every request names table dnsguard.

#include "nft/handles.hpp"

namespace dnsguard::nft {

// What our table holds before an apply: the apply replaces it in place.
struct LiveChain {
  std::string name;
  bool base = false;
  uint32_t hook = 0;
  int32_t priority = 0;
  std::string type;
};
struct Inventory {
  bool table_exists = false;
  std::vector<LiveChain> chains;
  std::vector<std::string> sets;
  std::vector<std::pair<std::string, uint32_t>> objects;  // name, type
};


// The ruleset generation: every commit, by anyone, moves it on.
Result<uint32_t> read_generation(mnl_socket* nl);
Result<Inventory> read_inventory(mnl_socket* nl);

}  // namespace dnsguard::nft
