#include "compiler/compile.hpp"

#include <algorithm>

namespace dnsguard::compiler {
namespace {

using ir::AddressMatch;
using ir::Direction;
using ir::L4Protocol;
using ir::Rule;
using ir::Verdict;
using policy::DenyAction;

constexpr uint16_t kDnsPort = 53;
constexpr uint16_t kDotPort = 853;  // DoT over TCP, DoQ over UDP
constexpr uint16_t kHttpsPort = 443;

constexpr AddressFamily kFamilies[] = {AddressFamily::ipv4, AddressFamily::ipv6};

std::string_view suffix(AddressFamily f) { return f == AddressFamily::ipv4 ? "_v4" : "_v6"; }

std::vector<IpPrefix> of_family(const std::vector<IpPrefix>& all, AddressFamily f) {
  std::vector<IpPrefix> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out),
               [f](const IpPrefix& p) { return p.family() == f; });
  return out;
}

Verdict deny_verdict(DenyAction action, L4Protocol protocol) {
  if (action == DenyAction::drop) return Verdict::drop;
  return protocol == L4Protocol::tcp ? Verdict::reject_tcp_reset
                                     : Verdict::reject_icmp_port_unreachable;
}

class Compiler {
 public:
  explicit Compiler(const policy::Policy& policy) : policy_(policy) {
    ruleset_.policy_name = policy.name;
    ruleset_.policy_version = policy.version;
  }

  ir::Ruleset run() && {
    if (policy_.egress) compile_egress(*policy_.egress);
    compile_ingress(policy_.ingress);
    return std::move(ruleset_);
  }

 private:
  // Adds one set per family that has elements; returns the names by family.
  std::vector<std::pair<AddressFamily, std::string>> add_sets(const std::string& base,
                                                              const std::vector<IpPrefix>& all,
                                                              const std::string& origin) {
    std::vector<std::pair<AddressFamily, std::string>> made;
    for (AddressFamily f : kFamilies) {
      auto elements = of_family(all, f);
      if (elements.empty()) continue;
      ir::AddressSet set;
      set.name = base + std::string(suffix(f));
      set.family = f;
      set.interval = std::any_of(elements.begin(), elements.end(),
                                 [](const IpPrefix& p) { return !p.is_host(); });
      set.elements = std::move(elements);
      set.origin = origin;
      made.emplace_back(f, set.name);
      ruleset_.sets.push_back(std::move(set));
    }
    return made;
  }

  void add_counter(const std::string& name, const std::string& description) {
    auto& counters = ruleset_.counters;
    if (std::none_of(counters.begin(), counters.end(),
                     [&](const ir::Counter& c) { return c.name == name; }))
      counters.push_back({name, description});
  }

  // A deny: in monitor mode it only counts (and logs); otherwise it also blocks. With
  // logging on, a rate-limited log rule with the same matches goes first, since a rule
  // whose limit is exhausted would otherwise skip its verdict too.
  void add_deny(Rule match, const std::string& counter, std::optional<Verdict> verdict,
                bool log) {
    if (log) {
      Rule log_rule = match;
      log_rule.log = ir::LogStatement{"dnsguard " + counter + " "};
      ruleset_.rules.push_back(std::move(log_rule));
    }
    match.counter = counter;
    match.verdict = verdict.value_or(Verdict::none);
    ruleset_.rules.push_back(std::move(match));
  }

  static Rule rule(std::string chain, std::string comment) {
    Rule r;
    r.chain = std::move(chain);
    r.comment = std::move(comment);
    return r;
  }

  // With [inspect] enabled, plain DNS to a designated resolver goes to the inspector's
  // queues instead of straight out. DoT is encrypted, so it is accepted as before.
  bool inspected(policy::Protocol p) const {
    return policy_.inspect.enabled && (p == policy::Protocol::udp || p == policy::Protocol::tcp);
  }

  ir::QueueSpec queue_spec() const {
    return ir::QueueSpec{0, policy_.inspect.queues, policy_.inspect.fail == policy::FailMode::open, true};
  }

  // The nat rules that send a TCP connection to a designated resolver (from one of
  // `users`, when listed) to the proxy instead: `allow` names the resolver's set.
  void redirect_to_proxy(const Rule& allow, const std::vector<policy::LocalUser>& users, const std::string& what) {
    if (std::none_of(ruleset_.chains.begin(), ruleset_.chains.end(),
                     [](const ir::Chain& c) { return c.name == "egress_nat"; }))
      ruleset_.chains.push_back({"egress_nat", ir::Hook::output, -100, ir::ChainType::nat});
    Rule r = rule("egress_nat", what + ": tcp to the inspector's TCP proxy");
    r.address = allow.address;
    r.protocol = L4Protocol::tcp;
    r.destination_port = kDnsPort;
    r.not_mark = ir::kProxyMark;
    r.verdict = Verdict::redirect;
    r.redirect_port = policy_.inspect.tcp_proxy_port;
    if (users.empty()) {
      ruleset_.rules.push_back(std::move(r));
      return;
    }
    for (const auto& user : users) {
      Rule per_user = r;
      per_user.socket_uid = user.uid;
      per_user.comment += " for user " + user.name;
      ruleset_.rules.push_back(std::move(per_user));
    }
  }

  void compile_egress(const policy::Egress& egress) {
    ruleset_.chains.push_back({"egress", ir::Hook::output, 0});
    const bool monitor = egress.default_action == policy::EgressDefault::monitor;
    const bool log = egress.log_denied || monitor;
    auto verdict_for = [&](L4Protocol p) -> std::optional<Verdict> {
      if (monitor) return std::nullopt;
      return deny_verdict(egress.deny_action, p);
    };

    Rule lo = rule("egress", "loopback traffic stays on this host");
    lo.loopback = Direction::destination;
    lo.verdict = Verdict::accept;
    ruleset_.rules.push_back(lo);

    // Designated resolvers: the only destinations DNS may leave for.
    for (size_t i = 0; i < egress.resolvers.size(); ++i) {
      const auto& resolver = egress.resolvers[i];
      const std::string key = "egress.resolvers[" + std::to_string(i) + "]";
      const auto sets = add_sets("resolver_" + resolver.name, resolver.addresses, key + ".addresses");
      for (const auto& [family, set] : sets) {
        for (policy::Protocol p : resolver.protocols) {
          const auto protocol = p == policy::Protocol::udp ? L4Protocol::udp : L4Protocol::tcp;
          const uint16_t port = p == policy::Protocol::dot ? kDotPort : kDnsPort;
          Rule allow = rule("egress", key + " " + resolver.name + ": " +
                                          std::string(policy::to_string(p)) + " allowed");
          allow.address = AddressMatch{Direction::destination, family, set};
          allow.protocol = protocol;
          allow.destination_port = port;
          allow.verdict = Verdict::accept;
          if (inspected(p) && p == policy::Protocol::tcp) {
            // TCP goes through the agent's proxy, which reads each stream as the resolver
            // would; here only the proxy's own connections pass.
            redirect_to_proxy(allow, resolver.users, key + " " + resolver.name);
            allow.mark = ir::kProxyMark;
            allow.comment = key + " " + resolver.name + ": tcp from the inspector's TCP proxy";
            ruleset_.rules.push_back(allow);
            continue;
          }
          if (inspected(p)) {
            allow.verdict = Verdict::queue;
            allow.queue = queue_spec();
            allow.comment = key + " " + resolver.name + ": " + std::string(policy::to_string(p)) +
                            " to the inspector";
          }
          if (resolver.users.empty()) {
            ruleset_.rules.push_back(allow);
            continue;
          }
          for (const auto& user : resolver.users) {
            Rule per_user = allow;
            per_user.socket_uid = user.uid;
            per_user.comment += " for user " + user.name;
            ruleset_.rules.push_back(std::move(per_user));
          }
        }
      }
    }

    if (policy_.inspect.enabled) compile_forward_inspection(egress);

    // Encrypted DNS that would slip past port-53 rules.
    const auto& enc = egress.encrypted_dns;
    if (enc.block_dot) {
      add_counter("egress_dot_denied", "DoT (TCP 853) to hosts that are not designated resolvers");
      add_counter("egress_doq_denied", "DoQ (UDP 853) to any host");
      Rule dot = rule("egress", "egress.encrypted_dns.block_dot: DoT");
      dot.protocol = L4Protocol::tcp;
      dot.destination_port = kDotPort;
      add_deny(dot, "egress_dot_denied", verdict_for(L4Protocol::tcp), log);
      Rule doq = rule("egress", "egress.encrypted_dns.block_dot: DoQ");
      doq.protocol = L4Protocol::udp;
      doq.destination_port = kDotPort;
      add_deny(doq, "egress_doq_denied", verdict_for(L4Protocol::udp), log);
    }
    if (!enc.doh_endpoints.empty()) {
      add_counter("egress_doh_denied", "HTTPS (TCP and UDP 443) to listed DoH endpoints");
      for (const auto& [family, set] :
           add_sets("doh_endpoints", enc.doh_endpoints, "egress.encrypted_dns.doh_endpoints")) {
        for (L4Protocol p : {L4Protocol::tcp, L4Protocol::udp}) {
          Rule doh = rule("egress", std::string("egress.encrypted_dns.doh_endpoints: ") +
                                        (p == L4Protocol::tcp ? "HTTPS" : "HTTP/3"));
          doh.address = AddressMatch{Direction::destination, family, set};
          doh.protocol = p;
          doh.destination_port = kHttpsPort;
          add_deny(doh, "egress_doh_denied", verdict_for(p), log);
        }
      }
    }

    // Everything else that looks like DNS.
    add_counter("egress_dns_denied", "DNS (UDP and TCP 53) to hosts that are not designated resolvers");
    for (L4Protocol p : {L4Protocol::udp, L4Protocol::tcp}) {
      Rule dns = rule("egress", std::string("egress.default: DNS over ") +
                                    (p == L4Protocol::udp ? "UDP" : "TCP"));
      dns.protocol = p;
      dns.destination_port = kDnsPort;
      add_deny(dns, "egress_dns_denied", verdict_for(p), log);
    }
    if (!enc.block_dot) {  // DoT to other hosts is denied by default even without block_dot
      add_counter("egress_dot_denied", "DoT (TCP 853) to hosts that are not designated resolvers");
      Rule dot = rule("egress", "egress.default: DoT");
      dot.protocol = L4Protocol::tcp;
      dot.destination_port = kDotPort;
      add_deny(dot, "egress_dot_denied", verdict_for(L4Protocol::tcp), log);
    }
  }

  // A host that routes sends its clients' queries through the forward hook: those to
  // designated resolvers are inspected too. (Egress denies stay this host's own.)
  void compile_forward_inspection(const policy::Egress& egress) {
    ruleset_.chains.push_back({"forward", ir::Hook::forward, 0});
    for (size_t i = 0; i < egress.resolvers.size(); ++i) {
      const auto& resolver = egress.resolvers[i];
      for (const auto& set : ruleset_.sets) {
        // Exactly this resolver's sets: a prefix match would take "corp_vpn"'s for "corp".
        if (set.name != "resolver_" + resolver.name + "_v4" && set.name != "resolver_" + resolver.name + "_v6") continue;
        for (policy::Protocol p : resolver.protocols) {
          if (!inspected(p)) continue;
          Rule r = rule("forward", "egress.resolvers[" + std::to_string(i) + "] " + resolver.name + ": " +
                                       std::string(policy::to_string(p)) + " forwarded to the inspector");
          r.address = AddressMatch{Direction::destination, set.family, set.name};
          r.protocol = p == policy::Protocol::udp ? L4Protocol::udp : L4Protocol::tcp;
          r.destination_port = kDnsPort;
          r.verdict = Verdict::queue;
          r.queue = queue_spec();
          ruleset_.rules.push_back(std::move(r));
        }
      }
    }
  }

  void compile_ingress(const policy::Ingress& ingress) {
    if (!ingress.zone_transfer && !ingress.recursion && !ingress.rate_limit) return;
    ruleset_.chains.push_back({"ingress", ir::Hook::input, 0});

    Rule lo = rule("ingress", "loopback traffic stays on this host");
    lo.loopback = Direction::source;
    lo.verdict = Verdict::accept;
    ruleset_.rules.push_back(lo);

    if (ingress.rate_limit) {
      // UDP only: it is what floods and amplification attacks use, and a per-packet
      // limit on TCP would throttle the ACKs of a long zone transfer.
      add_counter("ingress_rate_limited", "UDP queries over a source's rate limit");
      for (AddressFamily f : kFamilies) {
        ir::MeterSet set;
        set.name = "ratelimit" + std::string(suffix(f));
        set.family = f;
        set.origin = "ingress.rate_limit";
        Rule r = rule("ingress", "ingress.rate_limit: per-source UDP query rate");
        r.family = f;
        r.protocol = L4Protocol::udp;
        r.destination_port = kDnsPort;
        r.meter = ir::Meter{set.name, f, ingress.rate_limit->per_source_qps,
                            ingress.rate_limit->burst};
        r.counter = "ingress_rate_limited";
        r.verdict = Verdict::drop;
        ruleset_.meter_sets.push_back(std::move(set));
        ruleset_.rules.push_back(std::move(r));
      }
    }

    if (ingress.zone_transfer) {
      for (const auto& [family, set] : add_sets("secondaries", ingress.zone_transfer->secondaries,
                                                "ingress.zone_transfer.secondaries")) {
        Rule r = rule("ingress", "ingress.zone_transfer.secondaries: TCP 53 allowed");
        r.address = AddressMatch{Direction::source, family, set};
        r.protocol = L4Protocol::tcp;
        r.destination_port = kDnsPort;
        r.verdict = Verdict::accept;
        ruleset_.rules.push_back(std::move(r));
      }
    }
    if (ingress.recursion) {
      for (const auto& [family, set] : add_sets("recursion_clients", ingress.recursion->allow_from,
                                                "ingress.recursion.allow_from")) {
        for (L4Protocol p : {L4Protocol::udp, L4Protocol::tcp}) {
          Rule r = rule("ingress", std::string("ingress.recursion.allow_from: ") +
                                       (p == L4Protocol::udp ? "UDP" : "TCP") + " 53 allowed");
          r.address = AddressMatch{Direction::source, family, set};
          r.protocol = p;
          r.destination_port = kDnsPort;
          r.verdict = Verdict::accept;
          ruleset_.rules.push_back(std::move(r));
        }
      }
      add_counter("ingress_udp_denied", "UDP 53 queries from clients not in recursion.allow_from");
      Rule r = rule("ingress", "ingress.recursion: other UDP 53 clients");
      r.protocol = L4Protocol::udp;
      r.destination_port = kDnsPort;
      add_deny(r, "ingress_udp_denied", deny_verdict(ingress.deny_action, L4Protocol::udp), false);
    }
    if (ingress.zone_transfer || ingress.recursion) {
      add_counter("ingress_tcp_denied", "TCP 53 from hosts that are neither listed secondaries "
                                        "nor recursion clients");
      Rule r = rule("ingress", "ingress: other TCP 53 peers");
      r.protocol = L4Protocol::tcp;
      r.destination_port = kDnsPort;
      add_deny(r, "ingress_tcp_denied", deny_verdict(ingress.deny_action, L4Protocol::tcp), false);
    }
  }

  const policy::Policy& policy_;
  ir::Ruleset ruleset_;
};

}  // namespace

ir::Ruleset compile(const policy::Policy& policy) { return Compiler(policy).run(); }

}  // namespace dnsguard::compiler
