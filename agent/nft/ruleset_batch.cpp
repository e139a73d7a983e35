#include "nft/ruleset_batch.hpp"

#include <algorithm>

namespace dnsguard::nft {
namespace {

std::string rule_origin(const ir::Rule& r, size_t index_in_chain) {
  return "rule " + std::to_string(index_in_chain) + " of chain " + r.chain +
         (r.comment.empty() ? "" : " (" + r.comment + ")");
}


uint32_t hook_of(const ir::Chain& c) {
  return c.hook == ir::Hook::output ? NF_INET_LOCAL_OUT : c.hook == ir::Hook::input ? NF_INET_LOCAL_IN : NF_INET_FORWARD;
}

const char* chain_type(const ir::Chain& c) { return c.type == ir::ChainType::nat ? "nat" : "filter"; }

}  // namespace

void add_ruleset(Transaction& tx, const ir::Ruleset& rs, QueueBackend queue_backend, const Inventory& live) {
  // Replace in place, in one commit: flush every rule, delete the sets, counters and any
  // chain the new ruleset does not have in the same shape, then add the new ones. Base
  // chains that stay keep their hooks registered: unregistering a hook makes the kernel
  // drop every packet waiting in an NFQUEUE queue, which would lose in-flight queries
  // on each apply.
  tx.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, kTable, NFPROTO_INET, 0u);
  if (live.table_exists) {
    Rule all(nftnl_rule_alloc());
    nftnl_rule_set_str(all.get(), NFTNL_RULE_TABLE, kTable.c_str());
    nftnl_rule_set_u32(all.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
    tx.message(NFT_MSG_DELRULE, 0, "flush the rules of table " + kTable,
               [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, all.get()); });
    for (const auto& lc : live.chains) {
      const auto wanted = std::find_if(rs.chains.begin(), rs.chains.end(), [&](const ir::Chain& c) {
        return c.name == lc.name && lc.base && lc.hook == hook_of(c) && lc.priority == c.priority &&
               lc.type == chain_type(c);
      });
      if (wanted != rs.chains.end()) continue;
      Chain chain(nftnl_chain_alloc());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, kTable.c_str());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, lc.name.c_str());
      nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
      tx.message(NFT_MSG_DELCHAIN, 0, "delete chain " + lc.name,
                 [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, chain.get()); });
    }
    for (const auto& name : live.sets) {
      Set set(nftnl_set_alloc());
      nftnl_set_set_str(set.get(), NFTNL_SET_TABLE, kTable.c_str());
      nftnl_set_set_str(set.get(), NFTNL_SET_NAME, name.c_str());
      nftnl_set_set_u32(set.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
      tx.message(NFT_MSG_DELSET, 0, "delete set " + name,
                 [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, set.get()); });
    }
    for (const auto& [name, type] : live.objects) {
      Object o(nftnl_obj_alloc());
      nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, kTable.c_str());
      nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, name.c_str());
      nftnl_obj_set_u32(o.get(), NFTNL_OBJ_FAMILY, NFPROTO_INET);
      nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, type);
      tx.message(NFT_MSG_DELOBJ, 0, "delete object " + name,
                 [&](nlmsghdr* nlh) { nftnl_obj_nlmsg_build_payload(nlh, o.get()); });
    }
  }

  for (const auto& c : rs.counters) {
    Object o(nftnl_obj_alloc());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, kTable.c_str());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_NAME, c.name.c_str());
    nftnl_obj_set_u32(o.get(), NFTNL_OBJ_FAMILY, NFPROTO_INET);
    nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
    set_comment(o.get(), NFTNL_UDATA_OBJ_COMMENT, c.description, [](nftnl_obj* x, void* d, uint32_t l) {
      nftnl_obj_set_data(x, NFTNL_OBJ_USERDATA, d, l);
    });
    tx.message(NFT_MSG_NEWOBJ, NLM_F_CREATE, "counter " + c.name,
               [&](nlmsghdr* nlh) { nftnl_obj_nlmsg_build_payload(nlh, o.get()); });
  }

  uint32_t set_id = 1;
  for (const auto& s : rs.sets) {
    const uint32_t id = set_id++;
    Set set = new_set(s.name, s.family, s.interval ? NFT_SET_INTERVAL : 0, id);
    set_comment(set.get(), NFTNL_UDATA_SET_COMMENT, s.origin, [](nftnl_set* x, void* d, uint32_t l) {
      nftnl_set_set_data(x, NFTNL_SET_USERDATA, d, l);
    });
    const std::string what = "set " + s.name + " (" + s.origin + ")";
    tx.message(NFT_MSG_NEWSET, NLM_F_CREATE, what,
               [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, set.get()); });
    // One kernel interval per prefix, adjacent ones included, exactly as nft sends them,
    // so `nft list` shows what the policy says. The loader has ruled out overlaps.
    std::vector<IpRange> ranges;
    for (const auto& p : s.elements) ranges.push_back({p.first(), p.last()});
    tx.add_set_elements(s, id, ranges, what);
  }
  for (const auto& s : rs.meter_sets) {
    Set set = new_set(s.name, s.family, NFT_SET_EVAL | NFT_SET_TIMEOUT, set_id++);
    nftnl_set_set_u32(set.get(), NFTNL_SET_DESC_SIZE, s.size);
    nftnl_set_set_u64(set.get(), NFTNL_SET_TIMEOUT, uint64_t{s.timeout_seconds} * 1000);
    set_comment(set.get(), NFTNL_UDATA_SET_COMMENT, s.origin, [](nftnl_set* x, void* d, uint32_t l) {
      nftnl_set_set_data(x, NFTNL_SET_USERDATA, d, l);
    });
    tx.message(NFT_MSG_NEWSET, NLM_F_CREATE, "set " + s.name + " (" + s.origin + ")",
               [&](nlmsghdr* nlh) { nftnl_set_nlmsg_build_payload(nlh, set.get()); });
  }

  for (const auto& c : rs.chains) {
    Chain chain(nftnl_chain_alloc());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, kTable.c_str());
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, c.name.c_str());
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, NFPROTO_INET);
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_HOOKNUM, hook_of(c));
    nftnl_chain_set_s32(chain.get(), NFTNL_CHAIN_PRIO, c.priority);
    nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TYPE, chain_type(c));
    nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_POLICY, NF_ACCEPT);
    // A kept chain is updated (its policy), not re-created: its hook stays registered.
    tx.message(NFT_MSG_NEWCHAIN, NLM_F_CREATE, "chain " + c.name,
               [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, chain.get()); });

    size_t index = 0;
    for (const auto& r : rs.rules) {
      if (r.chain != c.name) continue;
      Rule rule = build_rule(r, queue_backend);
      tx.message(NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, rule_origin(r, index++),
                 [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, rule.get()); });
    }
  }
}


}  // namespace dnsguard::nft
