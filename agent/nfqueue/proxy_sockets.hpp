#pragma once
// The TCP proxy's socket plumbing: its loopback listeners, where a redirected client
// meant to connect, and non-blocking writes.

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/address.hpp"
#include "common/error.hpp"
#include "common/unique_fd.hpp"

namespace dnsguard::nfqueue {

std::string errno_text();
// The first port an unprivileged process may bind in this network namespace.
unsigned unprivileged_port_start();
// A listener on the loopback address of `family`; an invalid fd (and no error) when
// this host has no such address (IPv6 disabled).
Result<UniqueFd> listen_on(AddressFamily family, uint16_t port);
// Address and port of a socket address.
std::pair<IpAddress, uint16_t> endpoint_of(const sockaddr_storage& s);
// Where the client meant to connect, before the redirect (conntrack's original tuple).
bool original_destination(int fd, sa_family_t family, sockaddr_storage& out);
// Sends what it can of `pending` without blocking and drops what went; false when the
// peer is gone.
bool send_all(int fd, std::vector<uint8_t>& pending);

}  // namespace dnsguard::nfqueue
