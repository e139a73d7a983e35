// NetlinkBackend::read_table and read_counters: our table as a fingerprint for drift
// detection, and the deny rules' counters.

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <sstream>

#include "nft/backend.hpp"
#include "nft/dump.hpp"
#include "nft/handles.hpp"

namespace dnsguard::nft {
namespace {

// A set element's key in hex, and whether it ends an interval.
std::string element_text(nftnl_set_elem* e) {
  uint32_t len = 0;
  const auto* key = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
  std::string hex;
  for (uint32_t i = 0; i < len; ++i) {
    char b[3];
    std::snprintf(b, sizeof b, "%02x", key[i]);
    hex += b;
  }
  const uint32_t flags = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS) ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
  return hex + (flags & NFT_SET_ELEM_INTERVAL_END ? " end" : "");
}

// A rule as libnftnl prints it, on one line, without its handle and position.
std::string rule_text(nftnl_rule* r) {
  nftnl_rule_unset(r, NFTNL_RULE_HANDLE);
  nftnl_rule_unset(r, NFTNL_RULE_POSITION);
  std::vector<char> text(16384);
  nftnl_rule_snprintf(text.data(), text.size(), r, NFTNL_OUTPUT_DEFAULT, 0);
  std::string line(text.data());
  std::replace(line.begin(), line.end(), '\n', ' ');
  return line;
}

}  // namespace

Result<std::optional<LiveTable>> NetlinkBackend::read_table(const ReadOptions& options) {
  auto socket = open_socket();
  if (!socket) return socket.errors();
  mnl_socket* nl = socket->get();
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  std::ostringstream fp;
  Errors errors;
  auto fail = [&](int err, const char* what) {
    if (err != 0) errors.push_back(make_error(std::string("reading ") + what + " of table inet " + kTable + ": " + errno_text(err)));
    return err != 0;
  };
  auto any = [](auto*) {};

  // The table itself: its use count covers chains, sets and objects, so an object added
  // by hand shows even when we do not know its name.
  const int table_err = get_objects<TableKind>(nl, NLM_F_ACK, ++seq, any, [&](nftnl_table* t) {
    fp << "table inet " << kTable << " flags " << nftnl_table_get_u32(t, NFTNL_TABLE_FLAGS) << " use "
       << nftnl_table_get_u32(t, NFTNL_TABLE_USE) << '\n';
  });
  if (table_err == ENOENT) return std::optional<LiveTable>{};
  if (fail(table_err, "the table")) return errors;

  // Counters (names only; values change all the time).
  std::vector<std::string> objects;
  fail(get_objects<ObjectKind>(nl, NLM_F_DUMP, ++seq, any, [&](nftnl_obj* o) {
         objects.push_back("object " + std::to_string(nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE)) + " " +
                           nftnl_obj_get_str(o, NFTNL_OBJ_NAME));
       }),
       "objects");
  std::sort(objects.begin(), objects.end());
  for (const auto& o : objects) fp << o << '\n';

  // Sets and, for static ones, their elements.
  std::vector<std::pair<std::string, bool>> sets;  // name, dynamic
  fail(get_objects<SetKind>(nl, NLM_F_DUMP, ++seq, any, [&](nftnl_set* s) {
         const uint32_t flags = nftnl_set_get_u32(s, NFTNL_SET_FLAGS);
         sets.emplace_back(nftnl_set_get_str(s, NFTNL_SET_NAME), (flags & NFT_SET_EVAL) != 0);
         fp << "set " << sets.back().first << " flags " << flags << " keytype " << nftnl_set_get_u32(s, NFTNL_SET_KEY_TYPE)
            << '\n';
       }),
       "sets");
  std::sort(sets.begin(), sets.end());
  for (const auto& set : sets) {
    const std::string& name = set.first;  // (a plain reference: lambdas below capture it)
    if (set.second) continue;             // dynamic: filled by the packet path
    if (std::find(options.sets_without_elements.begin(), options.sets_without_elements.end(), name) !=
        options.sets_without_elements.end()) {
      fp << "elements " << name << ": not compared (a large set)\n";
      continue;
    }
    std::vector<std::string> elements;
    const auto named = [&](nftnl_set* s) {
      nftnl_set_set_str(s, NFTNL_SET_NAME, name.c_str());
      nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
    };
    fail(get_objects<SetElementsKind>(nl, NLM_F_DUMP, ++seq, named, [&](nftnl_set* s) {
           auto* it = nftnl_set_elems_iter_create(s);
           // iter_next returns the current element and then advances.
           for (auto* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it))
             elements.push_back(element_text(e));
           nftnl_set_elems_iter_destroy(it);
         }),
         "set elements");
    std::sort(elements.begin(), elements.end());
    fp << "elements " << name << ":";
    for (const auto& e : elements) fp << ' ' << e;
    fp << '\n';
  }

  // Rules of every chain in our table, in order, one line each so a drift report can
  // name whole rules; then each chain's hook, priority and policy.
  std::vector<std::string> chains;
  fail(get_objects<RuleKind>(nl, NLM_F_DUMP, ++seq, any, [&](nftnl_rule* r) {
         const std::string chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
         if (std::find(chains.begin(), chains.end(), chain) == chains.end()) chains.push_back(chain);
         fp << "rule " << rule_text(r) << '\n';
       }),
       "rules");
  for (const auto& name : chains) {
    const auto named = [&](nftnl_chain* c) { nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name.c_str()); };
    fail(get_objects<ChainKind>(nl, NLM_F_ACK, ++seq, named, [&](nftnl_chain* c) {
           auto u32 = [&](uint16_t attr) { return nftnl_chain_is_set(c, attr) ? nftnl_chain_get_u32(c, attr) : 0u; };
           fp << "chain " << name << " hook " << u32(NFTNL_CHAIN_HOOKNUM) << " prio "
              << static_cast<int32_t>(u32(NFTNL_CHAIN_PRIO)) << " policy " << u32(NFTNL_CHAIN_POLICY) << " rules "
              << u32(NFTNL_CHAIN_USE) << '\n';
         }),
         "chains");
  }
  if (!errors.empty()) return errors;
  return std::optional<LiveTable>{LiveTable{fp.str()}};
}

Result<std::vector<CounterValue>> NetlinkBackend::read_counters() {
  auto socket = open_socket();
  if (!socket) return socket.errors();
  std::vector<CounterValue> out;
  const auto counters = [](nftnl_obj* o) { nftnl_obj_set_u32(o, NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER); };
  const int err = get_objects<ObjectKind>(socket->get(), NLM_F_DUMP, static_cast<uint32_t>(time(nullptr)), counters,
                                          [&](nftnl_obj* o) {
                                            if (nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE) != NFT_OBJECT_COUNTER) return;
                                            out.push_back({nftnl_obj_get_str(o, NFTNL_OBJ_NAME),
                                                           nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_PKTS),
                                                           nftnl_obj_get_u64(o, NFTNL_OBJ_CTR_BYTES)});
                                          });
  if (err != 0) return make_error("reading the counters of table inet " + kTable + ": " + errno_text(err));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace dnsguard::nft
