#include "nft/lowering.hpp"

#include <new>
#include <vector>

#include "nft/expressions.hpp"

namespace dnsguard::nft {

Rule build_rule(const ir::Rule& ir_rule, QueueBackend queue_backend) {
  Rule r(nftnl_rule_alloc());
  if (!r) throw std::bad_alloc();
  nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, kTable.c_str());
  nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, ir_rule.chain.c_str());
  nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, NFPROTO_INET);
  nftnl_rule* rp = r.get();

  if (ir_rule.loopback) {
    add_meta(rp, *ir_rule.loopback == ir::Direction::source ? NFT_META_IIF : NFT_META_OIF);
    const uint32_t lo_index = 1;  // the loopback device is ifindex 1 in every netns
    add_cmp_eq(rp, &lo_index, sizeof lo_index);
  }
  const auto family = ir_rule.address ? std::optional(ir_rule.address->family) : ir_rule.family;
  if (family) add_nfproto(rp, *family);
  if (ir_rule.address) {
    add_address_load(rp, ir_rule.address->family, ir_rule.address->direction);
    auto* e = expr("lookup");
    nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
    nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, ir_rule.address->set.c_str());
    nftnl_rule_add_expr(rp, e);
  }
  if (ir_rule.protocol) {
    add_meta(rp, NFT_META_L4PROTO);
    const uint8_t proto = *ir_rule.protocol == ir::L4Protocol::udp ? IPPROTO_UDP : IPPROTO_TCP;
    add_cmp_eq(rp, &proto, sizeof proto);
  }
  if (ir_rule.destination_port) {
    add_payload(rp, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2);  // udphdr/tcphdr dest
    const uint16_t port = htons(*ir_rule.destination_port);
    add_cmp_eq(rp, &port, sizeof port);
  }
  if (ir_rule.socket_uid) {
    add_meta(rp, NFT_META_SKUID);
    add_cmp_eq(rp, &*ir_rule.socket_uid, sizeof(uint32_t));
  }
  if (ir_rule.mark) {
    add_meta(rp, NFT_META_MARK);
    add_cmp_eq(rp, &*ir_rule.mark, sizeof(uint32_t));
  }
  if (ir_rule.not_mark) {
    add_meta(rp, NFT_META_MARK);
    add_cmp(rp, NFT_CMP_NEQ, &*ir_rule.not_mark, sizeof(uint32_t));
  }
  if (ir_rule.meter) {
    add_address_load(rp, ir_rule.meter->family, ir::Direction::source);
    auto* limit = expr("limit");
    add_limit(limit, ir_rule.meter->rate_per_second, ir_rule.meter->burst, true);
    auto* e = expr("dynset");
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1);
    nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE);
    nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, ir_rule.meter->set.c_str());
    nftnl_expr_set(e, NFTNL_EXPR_DYNSET_EXPR, limit, 0);  // the dynset owns it now
    nftnl_rule_add_expr(rp, e);
  }
  if (ir_rule.log) {
    auto* limit = expr("limit");
    add_limit(limit, ir_rule.log->rate_per_second, ir_rule.log->burst, false);
    nftnl_rule_add_expr(rp, limit);
    auto* e = expr("log");
    nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, ir_rule.log->prefix.c_str());
    nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, ir_rule.log->group);
    nftnl_rule_add_expr(rp, e);
  }
  if (ir_rule.counter) {
    auto* e = expr("objref");
    nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
    nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, ir_rule.counter->c_str());
    nftnl_rule_add_expr(rp, e);
  }
  switch (ir_rule.verdict) {
    case ir::Verdict::none: break;
    case ir::Verdict::accept: add_verdict(rp, NF_ACCEPT); break;
    case ir::Verdict::drop: add_verdict(rp, NF_DROP); break;
    case ir::Verdict::reject_icmp_port_unreachable:
      add_reject(rp, NFT_REJECT_ICMPX_UNREACH, NFT_REJECT_ICMPX_PORT_UNREACH);
      break;
    case ir::Verdict::reject_tcp_reset: add_reject(rp, NFT_REJECT_TCP_RST, 0); break;
    case ir::Verdict::queue: add_queue(rp, ir_rule.queue, queue_backend); break;
    case ir::Verdict::redirect: add_redirect(rp, ir_rule.redirect_port); break;
  }
  set_comment(rp, NFTNL_UDATA_RULE_COMMENT, ir_rule.comment, [](nftnl_rule* o, void* d, uint32_t l) {
    nftnl_rule_set_data(o, NFTNL_RULE_USERDATA, d, l);
  });
  return r;
}

Set new_set(const std::string& name, AddressFamily family, uint32_t flags, uint32_t id) {
  Set s(nftnl_set_alloc());
  if (!s) throw std::bad_alloc();
  const bool v4 = family == AddressFamily::ipv4;
  nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kTable.c_str());
  nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
  nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_TYPE, v4 ? 7 : 8);  // nft's ipv4_addr / ipv6_addr
  nftnl_set_set_u32(s.get(), NFTNL_SET_KEY_LEN, v4 ? 4 : 16);
  nftnl_set_set_u32(s.get(), NFTNL_SET_FLAGS, flags);
  nftnl_set_set_u32(s.get(), NFTNL_SET_ID, id);
  return s;
}

void add_element(nftnl_set* s, const IpAddress& key, bool interval_end, bool open_end) {
  nftnl_set_elem* e = nftnl_set_elem_alloc();
  if (!e) throw std::bad_alloc();
  nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key.bytes.data(), static_cast<uint32_t>(key.size()));
  if (interval_end) nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_INTERVAL_END);
  if (open_end) {  // how nft marks a range that runs to the family's last address
    UdataBuf buf(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_ELEM_FLAGS, NFTNL_SET_ELEM_F_INTERVAL_OPEN);
    nftnl_set_elem_set(e, NFTNL_SET_ELEM_USERDATA, nftnl_udata_buf_data(buf.get()),
                       nftnl_udata_buf_len(buf.get()));
  }
  nftnl_set_elem_add(s, e);
}


std::string describe_lowering(const ir::Rule& rule, QueueBackend queue_backend) {
  Rule r = build_rule(rule, queue_backend);
  std::vector<char> text(16384);
  nftnl_rule_snprintf(text.data(), text.size(), r.get(), NFTNL_OUTPUT_DEFAULT, 0);
  return text.data();
}


}  // namespace dnsguard::nft
