#include "nft/expressions.hpp"

#include <arpa/inet.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>

#include <cstring>
#include <new>

namespace dnsguard::nft {

nftnl_expr* expr(const char* name) {
  nftnl_expr* e = nftnl_expr_alloc(name);
  if (!e) throw std::bad_alloc();
  return e;
}

void add_meta(nftnl_rule* r, uint32_t key) {
  auto* e = expr("meta");
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
  nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, e);
}

void add_cmp(nftnl_rule* r, uint32_t op, const void* data, uint32_t len) {
  auto* e = expr("cmp");
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
  nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
  nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
  nftnl_rule_add_expr(r, e);
}
void add_cmp_eq(nftnl_rule* r, const void* data, uint32_t len) { add_cmp(r, NFT_CMP_EQ, data, len); }

void add_redirect(nftnl_rule* r, uint16_t port) {
  auto* imm = expr("immediate");
  const uint16_t be_port = htons(port);
  nftnl_expr_set_u32(imm, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
  nftnl_expr_set(imm, NFTNL_EXPR_IMM_DATA, &be_port, sizeof be_port);
  nftnl_rule_add_expr(r, imm);
  auto* e = expr("redir");
  nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
  nftnl_rule_add_expr(r, e);
}

void add_payload(nftnl_rule* r, uint32_t base, uint32_t offset, uint32_t len) {
  auto* e = expr("payload");
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
  nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
  nftnl_rule_add_expr(r, e);
}

void add_nfproto(nftnl_rule* r, AddressFamily f) {
  add_meta(r, NFT_META_NFPROTO);
  const uint8_t proto = f == AddressFamily::ipv4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
  add_cmp_eq(r, &proto, sizeof proto);
}

void add_address_load(nftnl_rule* r, AddressFamily f, ir::Direction d) {
  const bool v4 = f == AddressFamily::ipv4;
  const uint32_t offset = v4 ? (d == ir::Direction::source ? 12 : 16)   // iphdr saddr/daddr
                             : (d == ir::Direction::source ? 8 : 24);   // ipv6hdr saddr/daddr
  add_payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset, v4 ? 4 : 16);
}

void add_limit(nftnl_expr* e, uint64_t rate, uint32_t burst, bool over) {
  nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_RATE, rate);
  nftnl_expr_set_u64(e, NFTNL_EXPR_LIMIT_UNIT, 1);  // per second
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_BURST, burst);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS);
  nftnl_expr_set_u32(e, NFTNL_EXPR_LIMIT_FLAGS, over ? NFT_LIMIT_F_INV : 0);
}

void add_verdict(nftnl_rule* r, int verdict) {
  auto* e = expr("immediate");
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
  nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, static_cast<uint32_t>(verdict));
  nftnl_rule_add_expr(r, e);
}

void add_reject(nftnl_rule* r, uint32_t type, uint8_t code) {
  auto* e = expr("reject");
  nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
  nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
  nftnl_rule_add_expr(r, e);
}

void add_queue(nftnl_rule* r, const ir::QueueSpec& q, QueueBackend backend) {
  if (backend == QueueBackend::native) {
    auto* e = expr("queue");
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_NUM, q.first);
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_TOTAL, q.count);
    uint16_t flags = 0;
    if (q.bypass) flags |= NFT_QUEUE_FLAG_BYPASS;
    if (q.fanout && q.count > 1) flags |= NFT_QUEUE_FLAG_CPU_FANOUT;
    nftnl_expr_set_u16(e, NFTNL_EXPR_QUEUE_FLAGS, flags);
    nftnl_rule_add_expr(r, e);
    return;
  }
  // What iptables-nft emits for -j NFQUEUE: the xtables target through nft_compat.
  nftnl_rule_set_u32(r, NFTNL_RULE_COMPAT_PROTO, 0);
  nftnl_rule_set_u32(r, NFTNL_RULE_COMPAT_FLAGS, 0);
  auto* e = expr("target");
  nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
  nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
  auto* info = static_cast<xt_NFQ_info_v3*>(calloc(1, XT_ALIGN(sizeof(xt_NFQ_info_v3))));
  if (!info) throw std::bad_alloc();
  info->queuenum = q.first;
  info->queues_total = q.count;
  info->flags = static_cast<uint16_t>((q.bypass ? NFQ_FLAG_BYPASS : 0) |
                                      (q.fanout && q.count > 1 ? NFQ_FLAG_CPU_FANOUT : 0));
  // libnftnl takes ownership of `info` and frees it with the expression.
  nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, XT_ALIGN(sizeof(xt_NFQ_info_v3)));
  nftnl_rule_add_expr(r, e);
}


}  // namespace dnsguard::nft
