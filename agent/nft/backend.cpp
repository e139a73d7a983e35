// IR -> libnftnl objects -> one nfnetlink batch. Modeled on nftables' src/mnl.c: the
// whole batch goes out in one sendmsg, the kernel processes it inside that call, and
// every reply is then already queued on the socket.

#include "nft/backend.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/object.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "netlink/netlink.hpp"

namespace dnsguard::nft {

std::string_view to_string(QueueBackend b) {
  switch (b) {
    case QueueBackend::native: return "nft-queue";
    case QueueBackend::xt_compat: return "xt-NFQUEUE";
    case QueueBackend::none: return "none";
  }
  return "?";
}

QueueBackend KernelFeatures::queue_backend() const {
  if (native_queue) return QueueBackend::native;
  if (xt_nfqueue) return QueueBackend::xt_compat;
  return QueueBackend::none;
}

namespace {

// ---- RAII around libmnl / libnftnl handles ----
template <typename T, auto Free>
struct Deleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
using Socket = netlink::Socket;
using Batch = std::unique_ptr<nftnl_batch, Deleter<nftnl_batch, nftnl_batch_free>>;
using Table = std::unique_ptr<nftnl_table, Deleter<nftnl_table, nftnl_table_free>>;
using Chain = std::unique_ptr<nftnl_chain, Deleter<nftnl_chain, nftnl_chain_free>>;
using Rule = std::unique_ptr<nftnl_rule, Deleter<nftnl_rule, nftnl_rule_free>>;
using Set = std::unique_ptr<nftnl_set, Deleter<nftnl_set, nftnl_set_free>>;
using Object = std::unique_ptr<nftnl_obj, Deleter<nftnl_obj, nftnl_obj_free>>;
using UdataBuf = std::unique_ptr<nftnl_udata_buf,
                                 Deleter<nftnl_udata_buf, nftnl_udata_buf_free>>;

const std::string kTable(ir::kTableName);
constexpr uint32_t kBatchPageSize = 2 * 1024 * 1024;
constexpr uint32_t kMaxMessageSize = 65536 + 4096;  // nftables' NFT_NLMSG_MAXSIZE

std::string errno_text(int err) { return std::strerror(err); }

Result<Socket> open_socket() {
  Socket nl(mnl_socket_open(NETLINK_NETFILTER));
  if (!nl) return make_error("cannot open a netfilter netlink socket: " + errno_text(errno));
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return make_error("cannot bind the netfilter netlink socket: " + errno_text(errno));
  int on = 1;
  // Errors without an echo of our (possibly huge) request, plus the kernel's text.
  mnl_socket_setsockopt(nl.get(), NETLINK_CAP_ACK, &on, sizeof on);
  mnl_socket_setsockopt(nl.get(), NETLINK_EXT_ACK, &on, sizeof on);
  return nl;
}

// Grows a socket buffer; the FORCE variant needs CAP_NET_ADMIN, which we have.
void grow_buffer(int fd, int force_opt, int opt, size_t size) {
  const int value = static_cast<int>(std::min<size_t>(size, INT32_MAX / 2));
  if (setsockopt(fd, SOL_SOCKET, force_opt, &value, sizeof value) < 0)
    setsockopt(fd, SOL_SOCKET, opt, &value, sizeof value);
}

// ---- expressions ----
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

// redirect to :port - the port in register 1, then the redir expression.
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

// Loads the source or destination address into register 1 (after an nfproto check).
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

// Comments travel as userdata TLVs, where `nft list` finds them.
template <typename Obj, typename SetFn>
void set_comment(Obj* obj, uint8_t type, const std::string& comment, SetFn set_userdata) {
  if (comment.empty()) return;
  UdataBuf buf(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
  if (!buf) throw std::bad_alloc();
  nftnl_udata_put_strz(buf.get(), type, comment.c_str());
  set_userdata(obj, nftnl_udata_buf_data(buf.get()), nftnl_udata_buf_len(buf.get()));
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

// ---- IR -> libnftnl objects ----
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

void add_element(nftnl_set* s, const IpAddress& key, bool interval_end, bool open_end = false) {
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

// ---- the batch ----
// Each message's sequence number maps back to what it creates, so a kernel error can
// name the rule or set and the policy key behind it.
class Transaction {
 public:
  // With `generation`, the kernel commits the batch only while the ruleset is still at
  // that generation (NFNL_BATCH_GENID), and refuses it with ERESTART otherwise.
  explicit Transaction(std::optional<uint32_t> generation = std::nullopt)
      : batch_(nftnl_batch_alloc(kBatchPageSize, kMaxMessageSize)) {
    if (!batch_) throw std::bad_alloc();
    seq_ = static_cast<uint32_t>(time(nullptr)) << 8;
    nlmsghdr* begin = nftnl_batch_begin(static_cast<char*>(nftnl_batch_buffer(batch_.get())), seq_++);
    if (generation) mnl_attr_put_u32(begin, NFNL_BATCH_GENID, htonl(*generation));
    nftnl_batch_update(batch_.get());
  }

  // The kernel refused the batch because another commit came first.
  bool generation_changed() const { return generation_changed_; }

  template <typename BuildPayload>
  void message(uint16_t type, uint16_t flags, std::string what, BuildPayload&& build,
               uint16_t family = NFPROTO_INET) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(nftnl_batch_buffer(batch_.get())),
                                          type, family, flags | NLM_F_ACK, seq_);
    build(nlh);
    origins_.emplace(seq_++, std::move(what));
    nftnl_batch_update(batch_.get());
    ++stats_.messages;
  }

  // `table_flags` given: the table gets exactly these (an update clears others, e.g. a
  // dormant flag set by hand); absent: whatever it has stays.
  void add_table(uint16_t type, uint16_t flags, const std::string& name, uint16_t family,
                 std::optional<uint32_t> table_flags = std::nullopt) {
    Table t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, family);
    if (table_flags) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, *table_flags);
    message(
        type, flags, (type == NFT_MSG_DELTABLE ? "delete table " : "create table ") + name,
        [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); }, family);
  }

  void add_set_elements(const ir::AddressSet& set, uint32_t set_id,
                        const std::vector<IpRange>& ranges, const std::string& what) {
    const bool interval = set.interval;
    // Chunks keep each range's start and end elements in the same message.
    for (size_t first = 0; first < ranges.size(); first += kRangesPerMessage) {
      const size_t last = std::min(ranges.size(), first + kRangesPerMessage);
      Set chunk = new_set(set.name, set.family, 0, set_id);
      size_t count = 0;
      // Like nft, an interval set starts with an end marker at the family's first
      // address unless the first range begins there.
      const IpAddress zero{ranges.front().first.family, {}};
      if (interval && first == 0 && ranges.front().first != zero) {
        add_element(chunk.get(), zero, true);
        ++count;
      }
      for (size_t i = first; i < last; ++i) {
        const auto after = next_address(ranges[i].last);
        add_element(chunk.get(), ranges[i].first, false, interval && !after);
        ++count;
        if (interval && after) {
          add_element(chunk.get(), *after, true);
          ++count;
        }
      }
      message(NFT_MSG_NEWSETELEM, NLM_F_CREATE,
              what + " elements " + std::to_string(first + 1) + "-" + std::to_string(last),
              [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, chunk.get()); });
      stats_.set_elements += count;
    }
  }

  // Sends the batch. With `commit` false the end marker is left out: the kernel then
  // validates every message and aborts, which is how `nft --check` works.
  // `reply_room`: how many times the usual receive buffer to ask for (a retry after
  // lost replies asks for more).
  Result<TransactionStats> send(mnl_socket* nl, bool commit, size_t reply_room = 1) {
    if (commit) {
      nftnl_batch_end(static_cast<char*>(nftnl_batch_buffer(batch_.get())), seq_++);
      nftnl_batch_update(batch_.get());
    }
    const int iov_count = nftnl_batch_iovec_len(batch_.get());
    std::vector<iovec> iov(static_cast<size_t>(iov_count));
    nftnl_batch_iovec(batch_.get(), iov.data(), static_cast<uint32_t>(iov_count));
    size_t total = 0;
    for (const auto& v : iov) total += v.iov_len;
    stats_.bytes = total;

    const int fd = mnl_socket_get_fd(nl);
    grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, total + 65536);
    grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, reply_room * (stats_.messages * 1024 + (1 << 20)));

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    msghdr msg{};
    msg.msg_name = &kernel;
    msg.msg_namelen = sizeof kernel;
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    if (sendmsg(fd, &msg, 0) < 0) {
      return make_error(ErrorCode::kernel, "sending the nftables transaction (" + std::to_string(total) +
                                               " bytes) failed: " + errno_text(errno));
    }
    try {
      return receive(nl);
    } catch (const std::exception& e) {  // sent: the kernel may have committed
      return make_error(ErrorCode::unknown_outcome, std::string("reading the kernel's replies failed: ") + e.what());
    }
  }

 private:
  Result<TransactionStats> receive(mnl_socket* nl) {
    Errors errors;
    size_t acks = 0;
    bool lost_replies = false;
    std::string lost_because;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    const int fd = mnl_socket_get_fd(nl);
    const uint32_t portid = mnl_socket_get_portid(nl);
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) break;  // the kernel answered inside sendmsg: nothing more
      const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        // ENOBUFS: replies were dropped, and with them perhaps the one that mattered.
        lost_replies = true;
        lost_because = errno_text(errno);
        break;
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_pid != portid || nlh->nlmsg_type != NLMSG_ERROR) continue;
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) {
          ++acks;
          continue;
        }
        if (-err->error == ERESTART) generation_changed_ = true;
        errors.push_back(make_error(ErrorCode::kernel, describe_failure(nlh, -err->error)));
      }
    }
    if (!errors.empty()) return errors;
    if (lost_replies || acks < stats_.messages)
      return make_error(ErrorCode::unknown_outcome,
                        "the kernel acknowledged " + std::to_string(acks) + " of " + std::to_string(stats_.messages) +
                            " messages" + (lost_replies ? " (reading its replies failed: " + lost_because + ")" : ""));
    return stats_;
  }

  std::string describe_failure(const nlmsghdr* nlh, int err) const {
    std::string out = "kernel rejected ";
    auto it = origins_.find(nlh->nlmsg_seq);
    out += it != origins_.end() ? it->second : "the transaction";
    out += ": " + errno_text(err);
    // The kernel's own explanation, when it gives one (extended ACK).
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
      const auto* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
      const size_t offset = sizeof(nlmsgerr);  // NETLINK_CAP_ACK: no request echoed
      const auto* attr = reinterpret_cast<const nlattr*>(payload + offset);
      int remaining = static_cast<int>(nlh->nlmsg_len) - static_cast<int>(MNL_NLMSG_HDRLEN + offset);
      for (; mnl_attr_ok(attr, remaining); attr = mnl_attr_next(attr)) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
          out += " (" + std::string(mnl_attr_get_str(attr)) + ")";
        remaining -= static_cast<int>(NLA_ALIGN(attr->nla_len));
      }
    }
    return out;
  }

  Batch batch_;
  uint32_t seq_ = 0;
  bool generation_changed_ = false;
  std::map<uint32_t, std::string> origins_;
  TransactionStats stats_;
};

std::string rule_origin(const ir::Rule& r, size_t index_in_chain) {
  return "rule " + std::to_string(index_in_chain) + " of chain " + r.chain +
         (r.comment.empty() ? "" : " (" + r.comment + ")");
}

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

uint32_t hook_of(const ir::Chain& c) {
  return c.hook == ir::Hook::output ? NF_INET_LOCAL_OUT : c.hook == ir::Hook::input ? NF_INET_LOCAL_IN : NF_INET_FORWARD;
}

const char* chain_type(const ir::Chain& c) { return c.type == ir::ChainType::nat ? "nat" : "filter"; }

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

// ---- reading our table back ----
// Requests always name table dnsguard, so the kernel only ever returns our own objects.
using netlink::request;

nlmsghdr* get_header(std::vector<char>& buf, uint16_t type, uint16_t flags, uint32_t seq) {
  return nftnl_nlmsg_build_hdr(buf.data(), type, NFPROTO_INET, flags, seq);
}

// The ruleset generation: every commit, by anyone, moves it on.
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
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t seq = static_cast<uint32_t>(time(nullptr)) ^ 0x5a5a0000u;
  auto failed = [](int err, const char* what) {
    return make_error(std::string("reading the ") + what + " of table inet " + kTable + ": " + errno_text(err));
  };
  {
    Table t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETTABLE, NLM_F_ACK, ++seq);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    const int err = request(nl, nlh, [](const nlmsghdr*) {});
    if (err == ENOENT) return inv;
    if (err != 0) return failed(err, "table");
    inv.table_exists = true;
  }
  {
    Chain c(nftnl_chain_alloc());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETCHAIN, NLM_F_DUMP, ++seq);
    nftnl_chain_nlmsg_build_payload(nlh, c.get());
    const int err = request(nl, nlh, [&](const nlmsghdr* m) {
      Chain got(nftnl_chain_alloc());
      if (nftnl_chain_nlmsg_parse(m, got.get()) != 0 || kTable != nftnl_chain_get_str(got.get(), NFTNL_CHAIN_TABLE))
        return;
      LiveChain lc;
      lc.name = nftnl_chain_get_str(got.get(), NFTNL_CHAIN_NAME);
      lc.base = nftnl_chain_is_set(got.get(), NFTNL_CHAIN_HOOKNUM);
      if (lc.base) {
        lc.hook = nftnl_chain_get_u32(got.get(), NFTNL_CHAIN_HOOKNUM);
        lc.priority = nftnl_chain_get_s32(got.get(), NFTNL_CHAIN_PRIO);
        if (nftnl_chain_is_set(got.get(), NFTNL_CHAIN_TYPE)) lc.type = nftnl_chain_get_str(got.get(), NFTNL_CHAIN_TYPE);
      }
      inv.chains.push_back(std::move(lc));
    });
    if (err != 0) return failed(err, "chains");
  }
  {
    Set s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETSET, NLM_F_DUMP, ++seq);
    nftnl_set_nlmsg_build_payload(nlh, s.get());
    const int err = request(nl, nlh, [&](const nlmsghdr* m) {
      Set got(nftnl_set_alloc());
      if (nftnl_set_nlmsg_parse(m, got.get()) != 0 || kTable != nftnl_set_get_str(got.get(), NFTNL_SET_TABLE)) return;
      // Anonymous sets ("{ 53, 853 }" in a rule) go with their rules.
      if (nftnl_set_get_u32(got.get(), NFTNL_SET_FLAGS) & NFT_SET_ANONYMOUS) return;
      inv.sets.emplace_back(nftnl_set_get_str(got.get(), NFTNL_SET_NAME));
    });
    if (err != 0) return failed(err, "sets");
  }
  {
    Object o(nftnl_obj_alloc());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETOBJ, NLM_F_DUMP, ++seq);
    nftnl_obj_nlmsg_build_payload(nlh, o.get());
    const int err = request(nl, nlh, [&](const nlmsghdr* m) {
      Object got(nftnl_obj_alloc());
      if (nftnl_obj_nlmsg_parse(m, got.get()) != 0 || kTable != nftnl_obj_get_str(got.get(), NFTNL_OBJ_TABLE)) return;
      inv.objects.emplace_back(nftnl_obj_get_str(got.get(), NFTNL_OBJ_NAME), nftnl_obj_get_u32(got.get(), NFTNL_OBJ_TYPE));
    });
    if (err != 0) return failed(err, "objects");
  }
  return inv;
}


}  // namespace

std::string describe_lowering(const ir::Rule& rule, QueueBackend queue_backend) {
  Rule r = build_rule(rule, queue_backend);
  std::vector<char> text(16384);
  nftnl_rule_snprintf(text.data(), text.size(), r.get(), NFTNL_OUTPUT_DEFAULT, 0);
  return text.data();
}

Result<TransactionStats> NetlinkBackend::apply(const ir::Ruleset& ruleset) {
  // Nothing may leave a backend call: an exception before the batch is sent (bad_alloc
  // while building it) changed nothing; send() reports what happens after.
  try {
    return apply_once_or_retry(ruleset);
  } catch (const std::exception& e) {
    return make_error(ErrorCode::kernel, std::string("building the nftables transaction failed: ") + e.what() +
                                             "; nothing was sent");
  }
}

Result<TransactionStats> NetlinkBackend::apply_once_or_retry(const ir::Ruleset& ruleset) {
  // Queue rules are lowered to what this kernel has, which the probe finds out.
  QueueBackend queue_backend = QueueBackend::none;
  const bool queues = std::any_of(ruleset.rules.begin(), ruleset.rules.end(),
                                  [](const ir::Rule& r) { return r.verdict == ir::Verdict::queue; });
  if (queues) {
    if (!features_) {
      auto probed = probe();
      if (!probed) return probed.errors();
    }
    queue_backend = features_->queue_backend();
    if (queue_backend == QueueBackend::none)
      return make_error("this kernel can queue no packets to the inspector: it has neither the nft "
                        "queue expression (nft_queue) nor the xtables NFQUEUE target (nft_compat, "
                        "xt_NFQUEUE); load one of them or disable [inspect]");
  }
  // As nft does: the batch carries the generation the inventory was read at, and when
  // another commit came in between, everything is read and sent again.
  for (int attempt = 1;; ++attempt) {
    auto nl = open_socket();
    if (!nl) return nl.errors();
    const auto before = read_generation(nl->get());
    auto live = read_inventory(nl->get());
    if (!live) return live.errors();
    Transaction tx(before ? std::optional(before.value()) : std::nullopt);
    add_ruleset(tx, ruleset, queue_backend, live.value());
    auto sent = tx.send(nl->get(), true, size_t{1} << (attempt - 1));
    if (sent) return sent;
    if (tx.generation_changed() && attempt < 3) continue;
    if (!before || sent.errors().front().code != ErrorCode::unknown_outcome) return sent;
    // The answer was lost. An unchanged generation means nothing was committed (so it
    // is sent again, with room for more replies); a new one that it was, by us or by
    // someone racing us: only the caller can tell.
    auto fresh = open_socket();
    const auto after = fresh ? read_generation(fresh->get()) : Result<uint32_t>(fresh.errors());
    if (after && after.value() == before.value()) {
      if (attempt < 3) continue;
      return make_error(ErrorCode::kernel, sent.errors().front().message +
                                               "; the ruleset generation is unchanged, so nothing was committed");
    }
    return make_error(ErrorCode::unknown_outcome,
                      sent.errors().front().message + "; the outcome is unknown (ruleset generation " +
                          std::to_string(before.value()) + " -> " +
                          (after ? std::to_string(after.value()) : "unreadable") + ")");
  }
}

Status NetlinkBackend::remove() {
  auto nl = open_socket();
  if (!nl) return nl.errors();
  Transaction tx;
  tx.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, kTable, NFPROTO_INET);
  tx.add_table(NFT_MSG_DELTABLE, 0, kTable, NFPROTO_INET);
  auto sent = tx.send(nl->get(), true);
  if (!sent) return sent.errors();
  return ok_status();
}

Result<KernelFeatures> NetlinkBackend::probe() {
  auto nl = open_socket();
  if (!nl) return nl.errors();
  KernelFeatures features;
  const std::string probe_table = kTable + "_probe";

  // Each check runs in its own validate-then-abort batch so one missing feature cannot
  // hide another. `family` is the table family the rule is tried in.
  auto check = [&](uint16_t family, uint32_t table_flags, auto&& add_exprs) {
    Transaction tx;
    tx.add_table(NFT_MSG_NEWTABLE, NLM_F_CREATE, probe_table, family, table_flags);
    if (add_exprs) {
      Chain chain(nftnl_chain_alloc());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_TABLE, probe_table.c_str());
      nftnl_chain_set_str(chain.get(), NFTNL_CHAIN_NAME, "probe");
      nftnl_chain_set_u32(chain.get(), NFTNL_CHAIN_FAMILY, family);
      tx.message(
          NFT_MSG_NEWCHAIN, NLM_F_CREATE, "probe chain",
          [&](nlmsghdr* nlh) { nftnl_chain_nlmsg_build_payload(nlh, chain.get()); }, family);
      Rule r(nftnl_rule_alloc());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, probe_table.c_str());
      nftnl_rule_set_str(r.get(), NFTNL_RULE_CHAIN, "probe");
      nftnl_rule_set_u32(r.get(), NFTNL_RULE_FAMILY, family);
      add_exprs(r.get());
      tx.message(
          NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, "probe rule",
          [&](nlmsghdr* nlh) { nftnl_rule_nlmsg_build_payload(nlh, r.get()); }, family);
    }
    return tx.send(nl->get(), false).ok();
  };
  using AddExprs = void (*)(nftnl_rule*);

  features.nf_tables = check(NFPROTO_INET, 0, AddExprs{nullptr});
  if (!features.nf_tables) return make_error("the kernel's nf_tables did not accept a table; is nf_tables available?");
  features.table_owner_flag = check(NFPROTO_INET, NFT_TABLE_F_OWNER, AddExprs{nullptr});
  features.native_queue = check(NFPROTO_INET, 0, AddExprs{[](nftnl_rule* r) {
    add_queue(r, ir::QueueSpec{0, 1, true, false}, QueueBackend::native);
  }});
  features.xt_nfqueue = check(NFPROTO_INET, 0, AddExprs{[](nftnl_rule* r) {
    add_queue(r, ir::QueueSpec{0, 1, true, false}, QueueBackend::xt_compat);
  }});
  features_ = features;
  return features;
}

Result<std::optional<LiveTable>> NetlinkBackend::read_table(const ReadOptions& options) {
  auto socket = open_socket();
  if (!socket) return socket.errors();
  mnl_socket* nl = socket->get();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  uint32_t seq = static_cast<uint32_t>(time(nullptr));
  std::ostringstream fp;
  Errors errors;
  auto fail = [&](int err, const char* what) {
    if (err != 0) errors.push_back(make_error(std::string("reading ") + what + " of table inet " + kTable + ": " + errno_text(err)));
    return err != 0;
  };

  // The table itself: its use count covers chains, sets and objects, so an object added
  // by hand shows even when we do not know its name.
  uint32_t table_use = 0;
  {
    Table t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETTABLE, NLM_F_ACK, ++seq);
    nftnl_table_nlmsg_build_payload(nlh, t.get());
    const int err = request(nl, nlh, [&](const nlmsghdr* m) {
      Table got(nftnl_table_alloc());
      if (nftnl_table_nlmsg_parse(m, got.get()) == 0) {
        table_use = nftnl_table_get_u32(got.get(), NFTNL_TABLE_USE);
        fp << "table inet " << kTable << " flags " << nftnl_table_get_u32(got.get(), NFTNL_TABLE_FLAGS)
           << " use " << table_use << '\n';
      }
    });
    if (err == ENOENT) return std::optional<LiveTable>{};
    if (fail(err, "the table")) return errors;
  }

  // Counters (names only; values change all the time).
  {
    Object o(nftnl_obj_alloc());
    nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETOBJ, NLM_F_DUMP, ++seq);
    nftnl_obj_nlmsg_build_payload(nlh, o.get());
    std::vector<std::string> names;
    fail(request(nl, nlh, [&](const nlmsghdr* m) {
      Object got(nftnl_obj_alloc());
      if (nftnl_obj_nlmsg_parse(m, got.get()) == 0 &&
          kTable == nftnl_obj_get_str(got.get(), NFTNL_OBJ_TABLE))
        names.push_back(std::string("object ") + std::to_string(nftnl_obj_get_u32(got.get(), NFTNL_OBJ_TYPE)) +
                        " " + nftnl_obj_get_str(got.get(), NFTNL_OBJ_NAME));
    }), "objects");
    std::sort(names.begin(), names.end());
    for (const auto& n : names) fp << n << '\n';
  }

  // Sets and, for static ones, their elements.
  std::vector<std::pair<std::string, bool>> sets;  // name, dynamic
  {
    Set s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETSET, NLM_F_DUMP, ++seq);
    nftnl_set_nlmsg_build_payload(nlh, s.get());
    fail(request(nl, nlh, [&](const nlmsghdr* m) {
      Set got(nftnl_set_alloc());
      if (nftnl_set_nlmsg_parse(m, got.get()) != 0 || kTable != nftnl_set_get_str(got.get(), NFTNL_SET_TABLE))
        return;
      const uint32_t flags = nftnl_set_get_u32(got.get(), NFTNL_SET_FLAGS);
      sets.emplace_back(nftnl_set_get_str(got.get(), NFTNL_SET_NAME), (flags & NFT_SET_EVAL) != 0);
      fp << "set " << sets.back().first << " flags " << flags << " keytype "
         << nftnl_set_get_u32(got.get(), NFTNL_SET_KEY_TYPE) << '\n';
    }), "sets");
  }
  std::sort(sets.begin(), sets.end());
  for (const auto& [name, dynamic] : sets) {
    if (dynamic) continue;  // filled by the packet path
    if (std::find(options.sets_without_elements.begin(), options.sets_without_elements.end(), name) !=
        options.sets_without_elements.end()) {
      fp << "elements " << name << ": not compared (a large set)\n";
      continue;
    }
    Set s(nftnl_set_alloc());
    nftnl_set_set_str(s.get(), NFTNL_SET_TABLE, kTable.c_str());
    nftnl_set_set_str(s.get(), NFTNL_SET_NAME, name.c_str());
    nftnl_set_set_u32(s.get(), NFTNL_SET_FAMILY, NFPROTO_INET);
    auto* nlh = get_header(buf, NFT_MSG_GETSETELEM, NLM_F_DUMP, ++seq);
    nftnl_set_elems_nlmsg_build_payload(nlh, s.get());
    std::vector<std::string> elements;
    fail(request(nl, nlh, [&](const nlmsghdr* m) {
      Set got(nftnl_set_alloc());
      if (nftnl_set_elems_nlmsg_parse(m, got.get()) != 0) return;
      auto* it = nftnl_set_elems_iter_create(got.get());
      // iter_next returns the current element and then advances.
      for (auto* e = nftnl_set_elems_iter_next(it); e; e = nftnl_set_elems_iter_next(it)) {
        uint32_t len = 0;
        const auto* key = static_cast<const uint8_t*>(nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &len));
        std::string hex;
        for (uint32_t i = 0; i < len; ++i) {
          char b[3];
          snprintf(b, sizeof b, "%02x", key[i]);
          hex += b;
        }
        const uint32_t flags = nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_FLAGS)
                                   ? nftnl_set_elem_get_u32(e, NFTNL_SET_ELEM_FLAGS) : 0;
        elements.push_back(hex + (flags & NFT_SET_ELEM_INTERVAL_END ? " end" : ""));
      }
      nftnl_set_elems_iter_destroy(it);
    }), "set elements");
    std::sort(elements.begin(), elements.end());
    fp << "elements " << name << ":";
    for (const auto& e : elements) fp << ' ' << e;
    fp << '\n';
  }

  // Rules of every chain in our table, in order, without handles; then each chain's
  // hook, priority and policy.
  std::vector<std::string> chains;
  {
    Rule r(nftnl_rule_alloc());
    nftnl_rule_set_str(r.get(), NFTNL_RULE_TABLE, kTable.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETRULE, NLM_F_DUMP, ++seq);
    nftnl_rule_nlmsg_build_payload(nlh, r.get());
    fail(request(nl, nlh, [&](const nlmsghdr* m) {
      Rule got(nftnl_rule_alloc());
      if (nftnl_rule_nlmsg_parse(m, got.get()) != 0 || kTable != nftnl_rule_get_str(got.get(), NFTNL_RULE_TABLE))
        return;
      const std::string chain = nftnl_rule_get_str(got.get(), NFTNL_RULE_CHAIN);
      if (std::find(chains.begin(), chains.end(), chain) == chains.end()) chains.push_back(chain);
      nftnl_rule_unset(got.get(), NFTNL_RULE_HANDLE);
      nftnl_rule_unset(got.get(), NFTNL_RULE_POSITION);
      std::vector<char> text(16384);
      nftnl_rule_snprintf(text.data(), text.size(), got.get(), NFTNL_OUTPUT_DEFAULT, 0);
      // One line per rule, so a drift report can name whole rules.
      std::string line(text.data());
      std::replace(line.begin(), line.end(), '\n', ' ');
      fp << "rule " << line << '\n';
    }), "rules");
  }
  for (const auto& name : chains) {
    Chain c(nftnl_chain_alloc());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_TABLE, kTable.c_str());
    nftnl_chain_set_str(c.get(), NFTNL_CHAIN_NAME, name.c_str());
    auto* nlh = get_header(buf, NFT_MSG_GETCHAIN, NLM_F_ACK, ++seq);
    nftnl_chain_nlmsg_build_payload(nlh, c.get());
    fail(request(nl, nlh, [&](const nlmsghdr* m) {
      Chain got(nftnl_chain_alloc());
      if (nftnl_chain_nlmsg_parse(m, got.get()) != 0) return;
      auto u32 = [&](uint16_t attr) {
        return nftnl_chain_is_set(got.get(), attr) ? nftnl_chain_get_u32(got.get(), attr) : 0u;
      };
      fp << "chain " << name << " hook " << u32(NFTNL_CHAIN_HOOKNUM) << " prio "
         << static_cast<int32_t>(u32(NFTNL_CHAIN_PRIO)) << " policy " << u32(NFTNL_CHAIN_POLICY)
         << " rules " << u32(NFTNL_CHAIN_USE) << '\n';
    }), "chains");
  }
  if (!errors.empty()) return errors;
  return std::optional<LiveTable>{LiveTable{fp.str()}};
}

Result<std::vector<CounterValue>> NetlinkBackend::read_counters() {
  auto socket = open_socket();
  if (!socket) return socket.errors();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  Object o(nftnl_obj_alloc());
  nftnl_obj_set_str(o.get(), NFTNL_OBJ_TABLE, kTable.c_str());
  nftnl_obj_set_u32(o.get(), NFTNL_OBJ_TYPE, NFT_OBJECT_COUNTER);
  auto* nlh = get_header(buf, NFT_MSG_GETOBJ, NLM_F_DUMP, static_cast<uint32_t>(time(nullptr)));
  nftnl_obj_nlmsg_build_payload(nlh, o.get());
  std::vector<CounterValue> out;
  const int err = request(socket->get(), nlh, [&](const nlmsghdr* m) {
    Object got(nftnl_obj_alloc());
    if (nftnl_obj_nlmsg_parse(m, got.get()) != 0 || kTable != nftnl_obj_get_str(got.get(), NFTNL_OBJ_TABLE) ||
        nftnl_obj_get_u32(got.get(), NFTNL_OBJ_TYPE) != NFT_OBJECT_COUNTER)
      return;
    out.push_back({nftnl_obj_get_str(got.get(), NFTNL_OBJ_NAME),
                   nftnl_obj_get_u64(got.get(), NFTNL_OBJ_CTR_PKTS),
                   nftnl_obj_get_u64(got.get(), NFTNL_OBJ_CTR_BYTES)});
  });
  if (err != 0) return make_error("reading the counters of table inet " + kTable + ": " + errno_text(err));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

}  // namespace dnsguard::nft
