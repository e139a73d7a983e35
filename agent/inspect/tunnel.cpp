#include "inspect/tunnel.hpp"

#include <libpsl.h>
#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numbers>

#include "common/siphash.hpp"
#include "inspect/domain_set.hpp"
#include "inspect/engine.hpp"

namespace dnsguard::inspect {
namespace {

constexpr double kDecayMs = 3600.0 * 1000.0;  // one hour: budgets are per hour

// exp(-elapsed / one hour). Between two queries to the same domain the exponent is
// tiny, where two terms of the series are exact to far below float precision.
float decay_after(int64_t elapsed_ms) {
  const double x = static_cast<double>(elapsed_ms) / kDecayMs;
  return static_cast<float>(x < 1e-3 ? 1.0 - x * (1.0 - x / 2.0) : std::exp(-x));
}

// Bits the question type can carry beyond the name: the types every browser asks for
// each name are a choice of three (2 bits); any other is a 16-bit field a tunnel can fill.
double qtype_bits(uint16_t qtype) { return qtype == 1 || qtype == 28 || qtype == 65 ? 2 : 16; }

// Bits in the letters' case (the resolver passes it on as sent): none for a lower-case
// name, one for an all-upper-case one, a bit a letter for a mixed one.
double case_bits(const dns::Query& q) {
  if (q.upper_letters == 0) return 0;
  return q.upper_letters == q.letters ? 1 : q.letters;
}


// Types that carry more answer data than A/AAAA, which is why tunnels ask them, and
// types no application asks.
bool is_tunnel_favoured_type(uint16_t qtype) {
  switch (qtype) {
    case 5:   // CNAME
    case 10:  // NULL
    case 15:  // MX
    case 16:  // TXT
    case 33:  // SRV
      return true;
    case 257:  // CAA: what certificate authorities ask
      return false;
    // Types past 255 that nothing else asks: a tunnel's way of sending 2 bytes a query.
    default: return qtype > 255;
  }
}

bool is_tunnel_only_type(uint16_t qtype) { return qtype == 10 || (qtype >= 65280 && qtype <= 65534); }

std::string_view label_at(const dns::Name& name, size_t i) {
  const size_t start = name.label_starts[i];
  const size_t end = i + 1 < name.label_count ? name.label_starts[i + 1] - 1u : name.length;
  return name.view().substr(start, end - start);
}

}  // namespace

std::vector<std::string_view> signal_list(uint16_t signals) {
  static constexpr std::pair<uint16_t, std::string_view> kNames[] = {
      {kSignalInformation, "information"}, {kSignalUniqueNames, "unique_names"},
      {kSignalLongLabel, "long_label"},    {kSignalLongName, "long_name"},
      {kSignalTunnelType, "tunnel_type"},  {kSignalBinaryLabel, "binary_label"}};
  std::vector<std::string_view> out;
  for (const auto& [bit, text] : kNames)
    if (signals & bit) out.push_back(text);
  return out;
}

std::string signal_names(uint16_t signals) {
  std::string out;
  for (const auto name : signal_list(signals)) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

namespace {

// Entropy without a logarithm per query: H = log2(n) - (1/n) * sum(c * log2(c)) over the
// byte counts c, and the sum grows by step[c] = c*log2(c) - (c-1)*log2(c-1) each time a
// byte's count reaches c. Counts and lengths stay under 256 (a label has at most 63 bytes).
struct EntropyTables {
  std::array<double, 256> log2_of{};
  std::array<double, 256> step{};
  EntropyTables() {
    auto c_log2_c = [](double c) { return c > 1 ? c * std::log2(c) : 0.0; };
    for (size_t c = 1; c < 256; ++c) {
      log2_of[c] = std::log2(static_cast<double>(c));
      step[c] = c_log2_c(static_cast<double>(c)) - c_log2_c(static_cast<double>(c - 1));
    }
  }
};
const EntropyTables kEntropy;

constexpr double kLog2Of10 = 3.321928094887362;
constexpr double kLog2Of38 = 5.247927513443585;  // letters, digits, '-' and '_'

}  // namespace

double label_information_bits(std::string_view label) {
  const size_t n = std::min<size_t>(label.size(), 255);
  if (n == 0) return 0;
  std::array<uint8_t, 256> counts{};
  double sum_c_log2_c = 0;
  size_t distinct = 0;
  bool digits = true, hex = true, hostname = true;
  for (size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(label[i]);
    const uint8_t count = ++counts[c];
    distinct += count == 1;
    sum_c_log2_c += kEntropy.step[count];
    const bool digit = c >= '0' && c <= '9';
    digits &= digit;
    hex &= digit || (c >= 'a' && c <= 'f');
    hostname &= is_hostname_byte(static_cast<char>(c));
  }
  // The smallest alphabet that spells the label bounds what each character can carry.
  const double alphabet_bits = digits ? kLog2Of10 : hex ? 4.0 : hostname ? kLog2Of38 : 7.0;
  const double length = static_cast<double>(n);
  double entropy = std::max(0.0, kEntropy.log2_of[n] - sum_c_log2_c / length);
  // Miller-Madow: a short sample underestimates the entropy of its source.
  entropy += static_cast<double>(distinct - 1) / (2.0 * length * std::numbers::ln2);
  // Every label carries at least one symbol's worth, so one-character labels are not free.
  return std::max(alphabet_bits, length * std::min(entropy, alphabet_bits));
}

struct RegisteredDomains::Psl {
  psl_ctx_t* owned = nullptr;
  const psl_ctx_t* ctx = nullptr;
  ~Psl() {
    if (owned) psl_free(owned);
  }
};

RegisteredDomains::RegisteredDomains() : psl_(std::make_unique<Psl>()), cache_(std::make_unique<CacheSet[]>(kCacheSets)) {
  // The newer of the system's list (the publicsuffix package) and the built-in one.
  psl_->owned = psl_latest(nullptr);
  psl_->ctx = psl_->owned ? psl_->owned : psl_builtin();
}

RegisteredDomains::~RegisteredDomains() = default;

bool RegisteredDomains::is_public_suffix(std::string_view suffix, uint64_t hash) {
  auto& slots = cache_[(hash >> 1) % kCacheSets].slots;
  for (const auto& slot : slots) {
    const uint64_t cached = slot.load(std::memory_order_relaxed);
    if (cached != 0 && (cached | 1) == (hash | 1)) return cached & 1;
  }
  bool is_public;
  if (!psl_->ctx) {
    is_public = suffix.find('.') == std::string_view::npos;  // no list at all: TLDs only
  } else {
    char text[dns::kMaxNameWire + 1];
    std::memcpy(text, suffix.data(), suffix.size());
    text[suffix.size()] = '\0';
    is_public = psl_is_public_suffix2(psl_->ctx, text, PSL_TYPE_ANY) != 0;
  }
  // An empty slot, else one picked by what the set holds now (no shared counter to race on).
  size_t victim = slots.size();
  for (size_t i = 0; i < slots.size() && victim == slots.size(); ++i)
    if (slots[i].load(std::memory_order_relaxed) == 0) victim = i;
  if (victim == slots.size()) victim = mix_hash(hash ^ slots[0].load(std::memory_order_relaxed)) % slots.size();
  slots[victim].store((hash & ~uint64_t{1}) | (is_public ? 1 : 0), std::memory_order_relaxed);
  return is_public;
}

void RegisteredDomains::prefetch(const std::array<uint64_t, 128>& suffix_hashes, size_t labels) const {
  for (size_t k = 1; k <= std::min<size_t>(labels, 3); ++k)
    __builtin_prefetch(&cache_[(suffix_hashes[labels - k] >> 1) % kCacheSets]);
}

size_t RegisteredDomains::first_label(const dns::Name& name, const std::array<uint64_t, 128>& suffix_hashes) {
  const size_t labels = name.label_count;
  if (labels == 0) return 0;
  // The public suffix is the longest listed suffix. Listed suffixes can skip a level
  // ("*.kawasaki.jp" without "kawasaki.jp"), so the walk ends at the second unlisted
  // level in a row, which also keeps a tunnel's encoded labels out of the cache.
  // Suffixes with bytes no hostname has are never public; each step checks one label.
  size_t public_labels = 1;
  size_t unlisted_in_a_row = 0;
  bool plain = true;
  for (size_t k = 1; k <= std::min<size_t>(labels, 8); ++k) {
    const size_t index = labels - k;
    const std::string_view label = label_at(name, index);
    plain = plain && std::all_of(label.begin(), label.end(), [](char c) { return is_hostname_byte(c); });
    if (plain && is_public_suffix(name.suffix(index), suffix_hashes[index])) {
      public_labels = k;
      unlisted_in_a_row = 0;
    } else if (++unlisted_in_a_row == 2) {
      break;
    }
  }
  return labels > public_labels ? labels - public_labels - 1 : 0;
}

TunnelDetector::TunnelDetector(size_t max_accounts)
    : key_(random_sip_key()), buckets_(std::bit_floor(std::max<size_t>(1, max_accounts / kWays))) {
  const size_t key_bytes = buckets_ * kWays * sizeof(uint64_t);  // a multiple of 64
  mapping_bytes_ = key_bytes + buckets_ * kWays * sizeof(Account);
  mapping_ = ::mmap(nullptr, mapping_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping_ == MAP_FAILED) throw std::bad_alloc();
  // Both are implicit-lifetime types whose all-zero bytes are their initial state.
  keys_ = static_cast<uint64_t*>(mapping_);
  accounts_ = reinterpret_cast<Account*>(static_cast<char*>(mapping_) + key_bytes);
}

TunnelDetector::~TunnelDetector() { ::munmap(mapping_, mapping_bytes_); }

// Keyed with a per-process random key: whoever chooses the names cannot compute which
// bucket an account lands in (to evict a held one). prefetch() and observe() ask for
// the same key on the same thread one after the other: the second time is a lookup.
uint64_t TunnelDetector::account_key(uint64_t client_hash, uint64_t registered_domain_hash) const {
  thread_local struct {
    const TunnelDetector* detector = nullptr;
    uint64_t client = 0, domain = 0, key = 0;
  } last;
  if (last.detector == this && last.client == client_hash && last.domain == registered_domain_hash) return last.key;
  const uint64_t key = siphash13(key_, client_hash, registered_domain_hash) | 1;  // 0 marks a free slot
  last = {this, client_hash, registered_domain_hash, key};
  return key;
}

// Mixed with the account's key, which is secret, so the names that look already seen
// cannot be computed either.
uint32_t TunnelDetector::name_fingerprint(uint64_t account, uint64_t name_hash) {
  return static_cast<uint32_t>(mix_hash(name_hash ^ account) >> 32) & kNamePrintMask;
}

uint32_t TunnelDetector::query_fingerprint(uint64_t account_key, uint32_t name_print, const dns::Query& q) {
  // The low byte: the question's type, class and case, keyed like the name, so no type
  // or case pattern can be chosen to look like one already seen; never 0 (a free slot).
  const uint64_t variant =
      mix_hash(account_key ^ (uint64_t{q.qtype} << 48 | uint64_t{q.qclass} << 32 | q.case_pattern));
  return name_print | (static_cast<uint32_t>(variant >> 56) | 1u);
}

bool is_reverse_lookup(const dns::Name& name) {
  const std::string_view n = name.view();
  const bool v4 = n.ends_with(".in-addr.arpa");
  if (!v4 && !n.ends_with(".ip6.arpa")) return false;
  const size_t count = name.label_count - 2u;  // the labels before in-addr.arpa / ip6.arpa
  if (count == 0 || count > (v4 ? 4u : 32u)) return false;
  for (size_t i = 0; i < count; ++i) {
    const std::string_view l = label_at(name, i);
    if (v4) {  // a decimal octet, without leading zeros
      if (l.empty() || l.size() > 3 || (l.size() > 1 && l[0] == '0')) return false;
      unsigned value = 0;
      for (char c : l) {
        if (c < '0' || c > '9') return false;
        value = value * 10 + static_cast<unsigned>(c - '0');
      }
      if (value > 255) return false;
    } else if (l.size() != 1 || !((l[0] >= '0' && l[0] <= '9') || (l[0] >= 'a' && l[0] <= 'f'))) {
      return false;  // one nibble
    }
  }
  return true;
}

TunnelDetector::Account& TunnelDetector::find_or_claim(uint64_t key, int64_t now_ms) {
  const size_t first = bucket_of(key) * kWays;
  uint64_t* keys = keys_ + first;
  Account* accounts = accounts_ + first;
  for (size_t i = 0; i < kWays; ++i)
    if (keys[i] == key) return accounts[i];
  size_t victim = keys[preferred_way(key)] == 0 ? preferred_way(key) : kWays;
  for (size_t i = 0; i < kWays && victim == kWays; ++i)
    if (keys[i] == 0) victim = i;
  if (victim == kWays) {
    // Evict the least recently seen, and a held account only when all are held.
    victim = 0;
    for (size_t i = 1; i < kWays; ++i) {
      const bool held = accounts[i].held_until_ms > now_ms;
      const bool victim_held = accounts[victim].held_until_ms > now_ms;
      if ((victim_held && !held) || (held == victim_held && accounts[i].last_ms < accounts[victim].last_ms))
        victim = i;
    }
  }
  keys[victim] = key;
  accounts[victim] = Account{};
  return accounts[victim];
}

void TunnelDetector::prefetch(const dns::Name& name, const std::array<uint64_t, 128>& suffix_hashes,
                              uint64_t client_hash) const {
  const size_t labels = name.label_count;
  domains_.prefetch(suffix_hashes, labels);
  if (labels < 2) return;
  const uint64_t key = account_key(client_hash, suffix_hashes[labels - 2]);
  const size_t first = bucket_of(key) * kWays;
  __builtin_prefetch(keys_ + first);
  __builtin_prefetch(accounts_ + first + preferred_way(key));
}

TunnelObservation TunnelDetector::observe(const dns::Query& query, const std::array<uint64_t, 128>& suffix_hashes,
                                          uint64_t client_hash, const policy::Tunneling& settings,
                                          SteadyClock::time_point now) {
  TunnelObservation out;
  const dns::Name& name = query.qname;
  if (name.label_count == 0) return out;
  const size_t registered = domains_.first_label(name, suffix_hashes);
  out.registered_label = static_cast<uint8_t>(registered);
  // Reverse lookups of addresses are what .arpa is for; anything else there (a
  // delegated reverse zone with data labels) is accounted like any other name.
  if (is_reverse_lookup(name)) return out;

  uint16_t signals = 0;
  if (name.length > kMaxNormalName) signals |= kSignalLongName;
  // NULL questions for a bare name are RFC 8145 trust-anchor signals ("_ta-4f66"); a
  // tunnel's always carry data labels below its domain.
  if (is_tunnel_only_type(query.qtype) && registered > 0) signals |= kSignalTunnelType;
  for (size_t i = 0; i < registered; ++i) {
    const std::string_view label = label_at(name, i);
    if (label.size() > kMaxNormalLabel) signals |= kSignalLongLabel;
    if (!std::all_of(label.begin(), label.end(), [](char c) { return is_hostname_byte(c); })) signals |= kSignalBinaryLabel;
  }

  const uint64_t key = account_key(client_hash, suffix_hashes[registered]);
  const uint32_t name_print = name_fingerprint(key, suffix_hashes[0]);
  const uint32_t exact_print = query_fingerprint(key, name_print, query);
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();

  std::lock_guard lock(stripes_[bucket_of(key) % kStripes]);
  Account& a = find_or_claim(key, now_ms);
  if (a.last_ms != 0 && now_ms > a.last_ms) {
    const float decay = decay_after(now_ms - a.last_ms);
    a.information *= decay;
    a.names *= decay;
    a.queries *= decay;
    a.odd_queries *= decay;
  }
  a.last_ms = now_ms;
  const float budget = static_cast<float>(settings.budget_bytes_per_hour);
  if (a.held_until_ms > now_ms) {
    out.held = true;
    out.signals = a.signals;
    out.score = a.information / budget;
    return out;
  }
  if (a.held_until_ms != 0) {  // a hold ran out: the domain starts afresh
    a = Account{};
    a.last_ms = now_ms;
  }

  a.queries += 1;
  if (is_tunnel_favoured_type(query.qtype)) a.odd_queries += 1;
  // The same question again (name, type and case) carries nothing new. A name seen
  // with another type or case carries what those can; a new name, its labels too.
  // (The registered domain asked bare carries its type, class and case too.)
  const bool exact_seen = std::find(a.recent.begin(), a.recent.end(), exact_print) != a.recent.end();
  if (!exact_seen) {
    const bool name_seen = std::any_of(a.recent.begin(), a.recent.end(),
                                       [&](uint32_t r) { return (r & kNamePrintMask) == name_print; });
    double bits = qtype_bits(query.qtype) + case_bits(query) + (query.qclass == 1 ? 0 : 16);
    if (!name_seen && registered > 0) {
      for (size_t i = 0; i < registered; ++i) bits += label_information_bits(label_at(name, i));
      a.names += 1;
    }
    const double odd_share = a.odd_queries / a.queries;
    a.information += static_cast<float>(bits / 8.0 * (1.0 + odd_share));
    a.recent[a.recent_next] = exact_print;
    a.recent_next = static_cast<uint8_t>((a.recent_next + 1) % a.recent.size());
  }
  if (a.information >= budget) signals |= kSignalInformation;
  if (a.names >= static_cast<float>(settings.names_per_hour)) signals |= kSignalUniqueNames;
  out.score = a.information / budget;
  if (signals != 0) {
    a.signals = signals;
    a.held_until_ms = now_ms + int64_t{settings.hold_seconds} * 1000;
    out.held = true;
    out.detected_now = true;
    out.signals = signals;
  }
  return out;
}

size_t TunnelDetector::accounts() const {
  size_t n = 0;
  for (size_t b = 0; b < buckets_; ++b) {
    std::lock_guard lock(stripes_[b % kStripes]);
    for (size_t i = 0; i < kWays; ++i) n += keys_[b * kWays + i] != 0;
  }
  return n;
}

size_t TunnelDetector::memory_bytes() const {
  return accounts() * (sizeof(Account) + sizeof(uint64_t)) + domains_.memory_bytes();
}

}  // namespace dnsguard::inspect
