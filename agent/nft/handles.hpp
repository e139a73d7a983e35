#pragma once
// Inside the nft backend: RAII around libnftnl objects, the netfilter socket, and the
// constants every part of the backend shares.

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

#include <memory>
#include <string>

#include "common/error.hpp"
#include "ir/ruleset.hpp"
#include "netlink/netlink.hpp"

namespace dnsguard::nft {

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

inline const std::string kTable(ir::kTableName);
inline constexpr uint32_t kBatchPageSize = 2 * 1024 * 1024;
inline constexpr uint32_t kMaxMessageSize = 65536 + 4096;  // nftables' NFT_NLMSG_MAXSIZE

std::string errno_text(int err);
Result<Socket> open_socket();
// Grows a socket buffer; the FORCE variant needs CAP_NET_ADMIN, which we have.
void grow_buffer(int fd, int force_opt, int opt, size_t size);
// The header of a GET request for table inet dnsguard's objects.
nlmsghdr* get_header(std::vector<char>& buf, uint16_t type, uint16_t flags, uint32_t seq);

}  // namespace dnsguard::nft
