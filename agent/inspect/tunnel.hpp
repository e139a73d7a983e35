#pragma once
// DNS tunneling detection. A tunnel carries data out in the names it asks: every query
// under the tunnel's domain is a new, unique name full of encoded bytes. So for each
// (client address, registered domain) the detector keeps a small, time-decayed account:
//
//  - information: an estimate, in bytes, of what the new subdomain labels carry. Each
//    label costs its length times the bits per character it really uses: the empirical
//    entropy of its characters (with the Miller-Madow small-sample correction), capped
//    by the smallest alphabet that spells it (digits, hex, hostname letters, binary).
//    Random hex, base32, base64 and base128 all come out near their true density, while
//    "www" costs nothing and words little. Names seen recently in the account are free.
//    Questions of the types tunnels favour (TXT, NULL, CNAME, MX, SRV, private) weigh
//    more, by the share of such questions in the account.
//  - unique names: how many new names the client asked under the domain.
// Both decay exponentially with a one-hour time constant, so a budget in bytes per hour
// is what a client may send under one domain before the domain counts as a tunnel.
//
// Per-query signals stop the fast tools at their first queries: labels or names far
// longer than real ones, NULL and private-use types, and bytes that no hostname has.
//
// A detected domain is held, for that client, for the policy's hold time. Memory is
// fixed: accounts live in a set-associative table (8 ways per bucket, least recently
// seen evicted, held accounts last), so a flood of random domains only recycles slots.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/siphash.hpp"
#include "dns/message.hpp"
#include "policy/policy.hpp"

namespace dnsguard::inspect {

struct Client;
using SteadyClock = std::chrono::steady_clock;

// What made a domain count as a tunnel (a bit mask).
enum TunnelSignal : uint16_t {
  kSignalInformation = 1 << 0,  // estimated outbound bytes over the budget
  kSignalUniqueNames = 1 << 1,  // too many new names under the domain
  kSignalLongLabel = 1 << 2,    // a label longer than any real hostname's
  kSignalLongName = 1 << 3,     // a name longer than real ones
  kSignalTunnelType = 1 << 4,   // NULL or a private-use type
  kSignalBinaryLabel = 1 << 5,  // bytes outside the hostname alphabet (e.g. base128)
};
// {"information", "long_label"}, and as text "information,long_label".
std::vector<std::string_view> signal_list(uint16_t signals);
std::string signal_names(uint16_t signals);

// Longest label and name that real names use; longer ones are a per-query signal.
inline constexpr size_t kMaxNormalLabel = 52;
inline constexpr size_t kMaxNormalName = 160;

// Estimated information in one label, in bits.
double label_information_bits(std::string_view label);

// A reverse lookup of an address: 1-4 decimal octets under in-addr.arpa, or 1-32
// single-nibble labels under ip6.arpa.
bool is_reverse_lookup(const dns::Name& name);

// The registered domain (public suffix plus one label, private suffixes included) of
// names, from libpsl, with the answers for suffixes cached.
class RegisteredDomains {
 public:
  RegisteredDomains();
  ~RegisteredDomains();
  RegisteredDomains(const RegisteredDomains&) = delete;
  RegisteredDomains& operator=(const RegisteredDomains&) = delete;

  // Index of the label where the registered domain starts (1 for "www.example.com";
  // 0 when the whole name is registered domain or public suffix).
  size_t first_label(const dns::Name& name, const std::array<uint64_t, 128>& suffix_hashes);
  // Starts loading the cache lines first_label will read for a name of `labels` labels.
  void prefetch(const std::array<uint64_t, 128>& suffix_hashes, size_t labels) const;
  size_t memory_bytes() const { return kCacheSets * sizeof(CacheSet); }

 private:
  bool is_public_suffix(std::string_view suffix, uint64_t hash);

  struct Psl;
  std::unique_ptr<Psl> psl_;
  // Lock-free and 8-way set-associative (one cache line a set): a slot holds a suffix's
  // hash with its lowest bit replaced by the answer; 0 is empty. Direct mapping lost a
  // third of a workstation's day of suffixes to collisions, each a libpsl lookup.
  struct alignas(64) CacheSet {
    std::array<std::atomic<uint64_t>, 8> slots{};
  };
  static constexpr size_t kCacheSets = 4096;  // 32,768 suffixes, 256 KiB
  std::unique_ptr<CacheSet[]> cache_;
};

struct TunnelObservation {
  bool held = false;          // apply the tunneling action to this query
  bool detected_now = false;  // this query made the detection: report it
  uint16_t signals = 0;
  float score = 0;            // estimated outbound bytes / budget
  uint8_t registered_label = 0;  // where the registered domain starts in the query's name
};

// The detector's mutable state, shared by the queue threads; the settings come from
// the policy on each call, so an apply changes them without losing the accounts.
class TunnelDetector {
 public:
  static constexpr size_t kWays = 8;
  explicit TunnelDetector(size_t max_accounts = 32768);
  ~TunnelDetector();
  TunnelDetector(const TunnelDetector&) = delete;
  TunnelDetector& operator=(const TunnelDetector&) = delete;

  TunnelObservation observe(const dns::Query& query, const std::array<uint64_t, 128>& suffix_hashes,
                            uint64_t client_hash, const policy::Tunneling& settings,
                            SteadyClock::time_point now);
  // Starts loading what observe() will most likely read (the suffix cache, and the
  // account as if the registered domain were the last two labels), so that the misses
  // overlap with the block-list lookups made in between. Only a hint: changes nothing.
  void prefetch(const dns::Name& name, const std::array<uint64_t, 128>& suffix_hashes, uint64_t client_hash) const;
  size_t accounts() const;      // in use
  size_t memory_bytes() const;  // accounts in use and the suffix cache

 private:
  // One cache line: a query touches its bucket's keys and one account.
  struct alignas(64) Account {
    int64_t last_ms = 0;
    int64_t held_until_ms = 0;
    float information = 0;  // decayed estimate of outbound bytes
    float names = 0;        // decayed count of new names
    float queries = 0;      // decayed count of questions
    float odd_queries = 0;  // of which of the types tunnels favour
    uint16_t signals = 0;
    uint8_t recent_next = 0;
    std::array<uint32_t, 7> recent{};  // fingerprints of questions seen lately
  };
  static_assert(sizeof(Account) == 64);
  static constexpr size_t kStripes = 64;

  Account& find_or_claim(uint64_t key, int64_t now_ms);
  uint64_t account_key(uint64_t client_hash, uint64_t registered_domain_hash) const;
  // Recent questions are remembered as the name's fingerprint (high 24 bits) and one of
  // its type and case (low 8 bits).
  static constexpr uint32_t kNamePrintMask = 0xFFFFFF00u;
  static uint32_t name_fingerprint(uint64_t account_key, uint64_t name_hash);
  static uint32_t query_fingerprint(uint64_t account_key, uint32_t name_print, const dns::Query& q);
  size_t bucket_of(uint64_t key) const { return (key >> 1) & (buckets_ - 1); }  // bit 0 is always set
  // The way a new account takes when it is free, so prefetch() can name the line.
  static size_t preferred_way(uint64_t key) { return key >> 61; }
  static_assert(kWays == 8);

  const SipKey key_;
  size_t buckets_;  // a power of two: a mask, not a division, on every query
  mutable std::array<std::mutex, kStripes> stripes_;
  // buckets_ * kWays slots in one anonymous mapping: zero pages, so untouched slots cost
  // no memory. A bucket's keys share one cache line (0: a free way), then the accounts.
  void* mapping_ = nullptr;
  size_t mapping_bytes_ = 0;
  uint64_t* keys_ = nullptr;
  Account* accounts_ = nullptr;
  RegisteredDomains domains_;
};

}  // namespace dnsguard::inspect
