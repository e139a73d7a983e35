#include "nft/inventory.hpp"

#include <cerrno>
#include <ctime>
#include <optional>

#include "nft/dump.hpp"

namespace dnsguard::nft {

using netlink::request;

Result<uint32_t> read_generation(mnl_socket* nl) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  auto* nlh = nftnl_nlmsg_build_hdr(buf.data(), NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK,
                                    static_cast<uint32_t>(time(nullptr)) ^ 0x6e6e0000u);
  std::optional<uint32_t> id;
  const int err = request(nl, nlh, [&](const nlmsghdr* m) {
    std::unique_ptr<nftnl_gen, void (*)(const nftnl_gen*)> gen(nftnl_gen_alloc(), nftnl_gen_free);
    if (gen && nftnl_gen_nlmsg_parse(m, gen.get()) == 0 && nftnl_gen_is_set(gen.get(), NFTNL_GEN_ID))
      id = nftnl_gen_get_u32(gen.get(), NFTNL_GEN_ID);
  });
  if (err != 0 || !id) return make_error("reading the ruleset generation: " + errno_text(err ? err : ENOMSG));
  return *id;
}

Result<Inventory> read_inventory(mnl_socket* nl) {
  Inventory inv;
  uint32_t seq = static_cast<uint32_t>(time(nullptr)) ^ 0x5a5a0000u;
  auto failed = [](int err, const char* what) {
    return make_error(std::string("reading the ") + what + " of table inet " + kTable + ": " + errno_text(err));
  };
  auto any = [](auto*) {};
  const int table_err = get_objects<TableKind>(nl, NLM_F_ACK, ++seq, any, [](nftnl_table*) {});
  if (table_err == ENOENT) return inv;
  if (table_err != 0) return failed(table_err, "table");
  inv.table_exists = true;

  if (int err = get_objects<ChainKind>(nl, NLM_F_DUMP, ++seq, any, [&](nftnl_chain* c) {
        LiveChain lc;
        lc.name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
        lc.base = nftnl_chain_is_set(c, NFTNL_CHAIN_HOOKNUM);
        if (lc.base) {
          lc.hook = nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
          lc.priority = nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
          if (nftnl_chain_is_set(c, NFTNL_CHAIN_TYPE)) lc.type = nftnl_chain_get_str(c, NFTNL_CHAIN_TYPE);
        }
        inv.chains.push_back(std::move(lc));
      }))
    return failed(err, "chains");
  if (int err = get_objects<SetKind>(nl, NLM_F_DUMP, ++seq, any, [&](nftnl_set* set) {
        // Anonymous sets ("{ 53, 853 }" in a rule) go with their rules.
        if (nftnl_set_get_u32(set, NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS) return;
        inv.sets.emplace_back(nftnl_set_get_str(set, NFTNL_SET_NAME));
      }))
    return failed(err, "sets");
  if (int err = get_objects<ObjectKind>(nl, NLM_F_DUMP, ++seq, any, [&](nftnl_obj* o) {
        inv.objects.emplace_back(nftnl_obj_get_str(o, NFTNL_OBJ_NAME), nftnl_obj_get_u32(o, NFTNL_OBJ_TYPE));
      }))
    return failed(err, "objects");
  return inv;
}

}  // namespace dnsguard::nft
