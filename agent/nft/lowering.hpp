#pragma once
// Inside the nft backend: IR rules and sets lowered to libnftnl objects.

#include "nft/backend.hpp"
#include "nft/handles.hpp"

namespace dnsguard::nft {

// Comments travel as userdata TLVs, where `nft list` finds them.
template <typename Obj, typename SetFn>
void set_comment(Obj* obj, uint8_t type, const std::string& comment, SetFn set_userdata) {
  if (comment.empty()) return;
  UdataBuf buf(nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN));
  if (!buf) throw std::bad_alloc();
  nftnl_udata_put_strz(buf.get(), type, comment.c_str());
  set_userdata(obj, nftnl_udata_buf_data(buf.get()), nftnl_udata_buf_len(buf.get()));
}

// The rule's expressions in order: its matches, then counter, log and verdict.
Rule build_rule(const ir::Rule& ir_rule, QueueBackend queue_backend);
// A named address set of our table.
Set new_set(const std::string& name, AddressFamily family, uint32_t flags, uint32_t id);
// One set element; `open_end` marks a range that runs to the family's last address.
void add_element(nftnl_set* s, const IpAddress& key, bool interval_end, bool open_end = false);

}  // namespace dnsguard::nft
