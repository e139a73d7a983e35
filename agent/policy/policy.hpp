#pragma once
// The validated, normalized policy: what the TOML file means, with every default filled
// in and every reference resolved. Nothing downstream re-checks user input.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/address.hpp"
#include "common/error.hpp"

namespace dnsguard::policy {

enum class EgressDefault : uint8_t { deny, monitor };
enum class DenyAction : uint8_t { reject, drop };
enum class Protocol : uint8_t { udp, tcp, dot };

struct LocalUser {
  std::string name;  // as written; for a numeric entry, the number
  uint32_t uid = 0;
  auto operator<=>(const LocalUser&) const = default;
};

struct Resolver {
  std::string name;
  std::vector<IpPrefix> addresses;  // sorted, no overlaps
  std::vector<Protocol> protocols;  // sorted, unique, non-empty
  std::vector<LocalUser> users;     // empty: any local user
  SourceLocation where;
};

struct EncryptedDns {
  bool block_dot = false;
  std::vector<IpPrefix> doh_endpoints;
  bool canary = false;
};

struct Egress {
  EgressDefault default_action = EgressDefault::deny;
  DenyAction deny_action = DenyAction::reject;
  bool log_denied = false;
  std::vector<Resolver> resolvers;
  EncryptedDns encrypted_dns;
};

struct ZoneTransfer {
  std::vector<IpPrefix> secondaries;
};

struct Recursion {
  std::vector<IpPrefix> allow_from;
};

struct RateLimit {
  uint32_t per_source_qps = 0;
  uint32_t burst = 0;
};

struct Ingress {
  DenyAction deny_action = DenyAction::drop;
  std::optional<ZoneTransfer> zone_transfer;
  std::optional<Recursion> recursion;
  std::optional<RateLimit> rate_limit;
};

enum class FailMode : uint8_t { open, closed };
enum class BlockResponse : uint8_t { nxdomain, refused, nodata, drop, sinkhole };
enum class MalformedAction : uint8_t { drop, accept };
enum class TunnelingAction : uint8_t { drop, nxdomain, log };

// DNS tunneling detection (inspect/tunnel.hpp explains the accounting).
struct Tunneling {
  bool enabled = false;
  TunnelingAction action = TunnelingAction::drop;
  // Estimated bytes a client may carry out in new names under one registered domain,
  // per hour, before the domain counts as a tunnel.
  uint32_t budget_bytes_per_hour = 2048;
  // New unique names a client may ask under one registered domain per hour.
  uint32_t names_per_hour = 2000;
  // How long a detected domain stays blocked for that client.
  uint32_t hold_seconds = 3600;
  // Exempt from detection only (still subject to block lists): heavy, legitimate users
  // of encoded names such as anti-virus reputation lookups.
  std::vector<std::string> allow_domains;
};

struct ClientRateLimit {
  uint32_t per_client_qps = 0;
  uint32_t burst = 0;
};

// Queue threads one agent may run (inspect.queues): each holds a socket and a thread.
inline constexpr uint16_t kMaxInspectQueues = 64;

struct Inspect {
  bool enabled = false;
  uint16_t queues = 1;
  FailMode fail = FailMode::open;
  BlockResponse block_response = BlockResponse::nxdomain;
  std::vector<IpAddress> sinkhole;   // with block_response = "sinkhole": A and/or AAAA
  MalformedAction malformed = MalformedAction::drop;
  std::vector<std::string> block_domains;  // lower-case; "*.x" kept as written
  std::vector<std::string> block_lists;    // absolute paths, readable when loaded
  std::vector<std::string> allow_domains;
  std::vector<uint16_t> deny_qtypes;       // numeric RR types, sorted
  // DNS opcodes that pass the inspector, one bit each (bit 0: QUERY). Messages with any
  // other opcode (IQUERY, STATUS, NOTIFY, UPDATE, DSO) are refused.
  uint16_t allowed_opcodes = 1;
  // Where the agent's TCP proxy listens (127.0.0.1 and ::1): TCP DNS to designated
  // resolvers is redirected there and read message by message. A privileged port, so
  // that no unprivileged process can take it while the agent is down.
  uint16_t tcp_proxy_port = 553;
  Tunneling tunneling;
  std::optional<ClientRateLimit> rate_limit;
};

struct Telemetry {
  bool events_stdout = false;
  std::string dnstap;   // empty: off
  std::string metrics;  // "host:port"; empty: off
};

struct Policy {
  std::string name;
  int64_t version = 0;
  std::string source_file;
  std::optional<Egress> egress;  // absent: no egress rules
  Ingress ingress;
  Inspect inspect;
  Telemetry telemetry;
};

std::string_view to_string(Protocol p);
std::string_view to_string(EgressDefault d);
std::string_view to_string(DenyAction a);

// Resolves a local user name to a uid. Injected so that tests and `compile` on another
// machine do not depend on this host's passwd database.
using UserLookup = std::optional<uint32_t> (*)(const std::string& name);
std::optional<uint32_t> lookup_system_user(const std::string& name);

struct LoadOptions {
  UserLookup lookup_user = lookup_system_user;
};

// Parses and validates a policy. `display_name` is what error messages call the file.
Result<Policy> load_policy_text(std::string_view toml_text, const std::string& display_name,
                                const LoadOptions& options = {});
Result<Policy> load_policy_file(const std::string& path, const LoadOptions& options = {});

// Maps DNS RR type mnemonics ("A", "ANY", "TYPE65") to numbers.
std::optional<uint16_t> parse_qtype(std::string_view mnemonic);
// Maps DNS opcode names ("QUERY", "NOTIFY", "OPCODE7") to numbers 0-15.
std::optional<uint8_t> parse_opcode(std::string_view mnemonic);

}  // namespace dnsguard::policy
