#pragma once
// Inside the nft backend: one way to GET objects of table inet dnsguard - a dump of a
// kind, or one named object - for every kind the backend reads back. Each kind's
// libnftnl calls are listed once here; get_objects() does the request, parses each
// answer and keeps only our table's objects.

#include <new>
#include <vector>

#include "nft/handles.hpp"

namespace dnsguard::nft {

struct TableKind {
  using Handle = Table;
  static constexpr uint16_t kGet = NFT_MSG_GETTABLE;
  static nftnl_table* alloc() { return nftnl_table_alloc(); }
  static void name_table(nftnl_table* o) { nftnl_table_set_str(o, NFTNL_TABLE_NAME, kTable.c_str()); }
  static void build(nlmsghdr* n, nftnl_table* o) { nftnl_table_nlmsg_build_payload(n, o); }
  static int parse(const nlmsghdr* m, nftnl_table* o) { return nftnl_table_nlmsg_parse(m, o); }
  static const char* table_of(nftnl_table* o) { return nftnl_table_get_str(o, NFTNL_TABLE_NAME); }
};
struct ChainKind {
  using Handle = Chain;
  static constexpr uint16_t kGet = NFT_MSG_GETCHAIN;
  static nftnl_chain* alloc() { return nftnl_chain_alloc(); }
  static void name_table(nftnl_chain* o) { nftnl_chain_set_str(o, NFTNL_CHAIN_TABLE, kTable.c_str()); }
  static void build(nlmsghdr* n, nftnl_chain* o) { nftnl_chain_nlmsg_build_payload(n, o); }
  static int parse(const nlmsghdr* m, nftnl_chain* o) { return nftnl_chain_nlmsg_parse(m, o); }
  static const char* table_of(nftnl_chain* o) { return nftnl_chain_get_str(o, NFTNL_CHAIN_TABLE); }
};
struct SetKind {
  using Handle = Set;
  static constexpr uint16_t kGet = NFT_MSG_GETSET;
  static nftnl_set* alloc() { return nftnl_set_alloc(); }
  static void name_table(nftnl_set* o) { nftnl_set_set_str(o, NFTNL_SET_TABLE, kTable.c_str()); }
  static void build(nlmsghdr* n, nftnl_set* o) { nftnl_set_nlmsg_build_payload(n, o); }
  static int parse(const nlmsghdr* m, nftnl_set* o) { return nftnl_set_nlmsg_parse(m, o); }
  static const char* table_of(nftnl_set* o) { return nftnl_set_get_str(o, NFTNL_SET_TABLE); }
};
// The elements of one set (name it in get_objects' `prepare`).
struct SetElementsKind : SetKind {
  static constexpr uint16_t kGet = NFT_MSG_GETSETELEM;
  static void build(nlmsghdr* n, nftnl_set* o) { nftnl_set_elems_nlmsg_build_payload(n, o); }
  static int parse(const nlmsghdr* m, nftnl_set* o) { return nftnl_set_elems_nlmsg_parse(m, o); }
};
struct RuleKind {
  using Handle = Rule;
  static constexpr uint16_t kGet = NFT_MSG_GETRULE;
  static nftnl_rule* alloc() { return nftnl_rule_alloc(); }
  static void name_table(nftnl_rule* o) { nftnl_rule_set_str(o, NFTNL_RULE_TABLE, kTable.c_str()); }
  static void build(nlmsghdr* n, nftnl_rule* o) { nftnl_rule_nlmsg_build_payload(n, o); }
  static int parse(const nlmsghdr* m, nftnl_rule* o) { return nftnl_rule_nlmsg_parse(m, o); }
  static const char* table_of(nftnl_rule* o) { return nftnl_rule_get_str(o, NFTNL_RULE_TABLE); }
};
struct ObjectKind {
  using Handle = Object;
  static constexpr uint16_t kGet = NFT_MSG_GETOBJ;
  static nftnl_obj* alloc() { return nftnl_obj_alloc(); }
  static void name_table(nftnl_obj* o) { nftnl_obj_set_str(o, NFTNL_OBJ_TABLE, kTable.c_str()); }
  static void build(nlmsghdr* n, nftnl_obj* o) { nftnl_obj_nlmsg_build_payload(n, o); }
  static int parse(const nlmsghdr* m, nftnl_obj* o) { return nftnl_obj_nlmsg_parse(m, o); }
  static const char* table_of(nftnl_obj* o) { return nftnl_obj_get_str(o, NFTNL_OBJ_TABLE); }
};

// One GET of `Kind` (flags NLM_F_DUMP: all of our table; NLM_F_ACK: the one `prepare`
// names), each object of table inet dnsguard in the answer handed to `each`. Returns
// the request's errno (0: done).
template <typename Kind, typename Prepare, typename Each>
int get_objects(mnl_socket* nl, uint16_t flags, uint32_t seq, Prepare&& prepare, Each&& each) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  typename Kind::Handle asked(Kind::alloc());
  if (!asked) throw std::bad_alloc();
  Kind::name_table(asked.get());
  prepare(asked.get());
  nlmsghdr* nlh = get_header(buf, Kind::kGet, flags, seq);
  Kind::build(nlh, asked.get());
  return netlink::request(nl, nlh, [&](const nlmsghdr* m) {
    typename Kind::Handle got(Kind::alloc());
    if (!got || Kind::parse(m, got.get()) != 0) return;
    const char* table = Kind::table_of(got.get());
    if (table == nullptr || kTable != table) return;
    each(got.get());
  });
}

}  // namespace dnsguard::nft
