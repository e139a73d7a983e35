#pragma once
// Ruleset IR: the kernel objects of table `inet dnsguard`, described as plain values.
// The compiler produces it from a Policy; render_nft() prints it as nft text and the nft
// backend lowers it to libnftnl objects. Both renderings must mean the same rules.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/address.hpp"

namespace dnsguard::ir {

inline constexpr std::string_view kTableName = "dnsguard";  // family inet
inline constexpr uint16_t kLogGroup = 53;                   // NFLOG group for denied attempts
// The packet mark of the agent's own connections to designated resolvers (the TCP
// proxy's upstream side): they are inspected already, and must not be redirected again.
// Setting a socket mark takes CAP_NET_ADMIN (or, since Linux 5.17, CAP_NET_RAW), so no
// unprivileged process can claim it.
inline constexpr uint32_t kProxyMark = 0x64670035;  // "dg", 53

enum class Hook : uint8_t { output, input, forward };
enum class ChainType : uint8_t { filter, nat };

struct Chain {
  std::string name;
  Hook hook = Hook::output;
  int32_t priority = 0;  // "filter" (0); nat chains -100, where destination NAT goes
  ChainType type = ChainType::filter;
};

// A named set of addresses, one family. `interval` when any element is a prefix.
struct AddressSet {
  std::string name;
  AddressFamily family = AddressFamily::ipv4;
  bool interval = false;
  std::vector<IpPrefix> elements;  // sorted, non-overlapping
  std::string origin;              // the policy key it comes from
};

// A dynamic set that a meter (update @set { ... limit ... }) fills at run time.
struct MeterSet {
  std::string name;
  AddressFamily family = AddressFamily::ipv4;
  uint32_t size = 65535;
  uint32_t timeout_seconds = 60;
  std::string origin;
};

// A named counter object, so status and stats can read it by name.
struct Counter {
  std::string name;
  std::string description;
};

enum class L4Protocol : uint8_t { udp, tcp };
enum class Direction : uint8_t { source, destination };

struct AddressMatch {
  Direction direction = Direction::destination;
  AddressFamily family = AddressFamily::ipv4;
  std::string set;
};

// update @set { <family> saddr limit rate over R/second burst B packets }: matches only
// the packets of a source that goes over its rate.
struct Meter {
  std::string set;
  AddressFamily family = AddressFamily::ipv4;
  uint32_t rate_per_second = 0;
  uint32_t burst = 0;
};

// limit rate R/second burst B packets log prefix "..." group G (no verdict: logging
// must not decide, so a rule with a log statement never carries one).
struct LogStatement {
  std::string prefix;
  uint16_t group = kLogGroup;
  uint32_t rate_per_second = 10;
  uint32_t burst = 20;
};

enum class Verdict : uint8_t {
  none,                          // fall through to the next rule (count or log only)
  accept,
  drop,
  reject_icmp_port_unreachable,  // icmpx: ICMP or ICMPv6 by packet family
  reject_tcp_reset,
  queue,                         // to the inspector: see Rule::queue
  redirect,                      // nat chains: to this host's Rule::redirect_port
};

// Hands packets to userspace queues first..first+count-1. `bypass`: accept when no
// inspector listens (fail open); `fanout`: spread by CPU rather than by flow hash. The
// nft backend lowers this to the native `queue` expression or, on kernels without
// nft_queue, to the xtables NFQUEUE target through nft_compat.
struct QueueSpec {
  uint16_t first = 0;
  uint16_t count = 1;
  bool bypass = true;
  bool fanout = true;
};

struct Rule {
  std::string chain;
  // Matches, all of which must hold.
  std::optional<Direction> loopback;  // source: iif "lo"; destination: oif "lo"
  std::optional<AddressFamily> family;  // meta nfproto; implied by `address` too
  std::optional<AddressMatch> address;
  std::optional<L4Protocol> protocol;
  std::optional<uint16_t> destination_port;
  std::optional<uint32_t> socket_uid;
  std::optional<uint32_t> mark;      // meta mark == mark
  std::optional<uint32_t> not_mark;  // meta mark != not_mark
  // Statements, in this order.
  std::optional<Meter> meter;
  std::optional<LogStatement> log;
  std::optional<std::string> counter;  // name of a Counter
  Verdict verdict = Verdict::none;
  QueueSpec queue;                     // with Verdict::queue
  uint16_t redirect_port = 0;          // with Verdict::redirect
  std::string comment;  // shown by `nft list`; says which policy key made the rule
};

struct Ruleset {
  std::string policy_name;
  int64_t policy_version = 0;
  std::vector<Counter> counters;
  std::vector<AddressSet> sets;
  std::vector<MeterSet> meter_sets;
  std::vector<Chain> chains;
  std::vector<Rule> rules;  // grouped by chain, in evaluation order
};

}  // namespace dnsguard::ir
