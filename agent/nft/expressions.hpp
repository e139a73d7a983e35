#pragma once
// Inside the nft backend: one function per nf_tables expression a rule is made of, each
// appending its expression(s) to a libnftnl rule. tests/unit/nft/expressions_test.cpp
// checks each against what libnftnl prints.

#include "nft/backend.hpp"
#include "nft/handles.hpp"

namespace dnsguard::nft {

// A new expression of kind `name` (throws bad_alloc).
nftnl_expr* expr(const char* name);
// meta KEY into register 1.
void add_meta(nftnl_rule* r, uint32_t key);
// Compares register 1 with `data`.
void add_cmp(nftnl_rule* r, uint32_t op, const void* data, uint32_t len);
void add_cmp_eq(nftnl_rule* r, const void* data, uint32_t len);
// redirect to :port - the port in register 1, then the redir expression.
void add_redirect(nftnl_rule* r, uint16_t port);
// LEN bytes at OFFSET of header BASE into register 1.
void add_payload(nftnl_rule* r, uint32_t base, uint32_t offset, uint32_t len);
// meta nfproto == the family.
void add_nfproto(nftnl_rule* r, AddressFamily f);
// Loads the source or destination address into register 1 (after an nfproto check).
void add_address_load(nftnl_rule* r, AddressFamily f, ir::Direction d);
// A limit's rate (per second) and burst on an existing limit expression.
void add_limit(nftnl_expr* e, uint64_t rate, uint32_t burst, bool over);
void add_verdict(nftnl_rule* r, int verdict);
void add_reject(nftnl_rule* r, uint32_t type, uint8_t code);
// queue to q.first[-...], as the native expression or the xtables NFQUEUE target.
void add_queue(nftnl_rule* r, const ir::QueueSpec& q, QueueBackend backend);

}  // namespace dnsguard::nft
