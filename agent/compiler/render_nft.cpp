// IR -> nft text. The output replaces table inet dnsguard in one `nft -f` transaction,
// the same way the netlink backend does: declare, delete, re-create.

#include <cstdio>
#include <sstream>

#include "compiler/render_nft.hpp"

namespace dnsguard::ir {
namespace {

std::string_view family_keyword(AddressFamily f) { return f == AddressFamily::ipv4 ? "ip" : "ip6"; }
std::string_view nfproto_name(AddressFamily f) { return f == AddressFamily::ipv4 ? "ipv4" : "ipv6"; }
std::string_view address_type(AddressFamily f) {
  return f == AddressFamily::ipv4 ? "ipv4_addr" : "ipv6_addr";
}
std::string_view protocol_name(L4Protocol p) { return p == L4Protocol::udp ? "udp" : "tcp"; }

std::string_view hook_name(Hook h) {
  switch (h) {
    case Hook::output: return "output";
    case Hook::input: return "input";
    case Hook::forward: return "forward";
  }
  return "?";
}

// nft names the filter priority in every hook; "dstnat" only in prerouting, so nat
// chains (output) print the number.
std::string priority_text(const Chain& c) {
  if (c.type == ChainType::nat) return std::to_string(c.priority);
  if (c.priority == 0) return "filter";
  return c.priority > 0 ? "filter + " + std::to_string(c.priority) : "filter - " + std::to_string(-c.priority);
}

std::string mark_text(uint32_t mark) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08x", mark);
  return hex;
}

std::string_view verdict_text(Verdict v) {
  switch (v) {
    case Verdict::none: return "";
    case Verdict::accept: return "accept";
    case Verdict::drop: return "drop";
    case Verdict::reject_icmp_port_unreachable: return "reject with icmpx type port-unreachable";
    case Verdict::reject_tcp_reset: return "reject with tcp reset";
    case Verdict::queue: return "queue";
    case Verdict::redirect: return "redirect";
  }
  return "";
}

std::string queue_text(const QueueSpec& q) {
  std::string flags;
  if (q.bypass) flags = "bypass";
  if (q.fanout && q.count > 1) flags += flags.empty() ? "fanout" : ",fanout";
  // Appended piece by piece: GCC 12 warns falsely (-Wrestrict, its bug 105329) about
  // "literal" + std::string temporaries in Release builds.
  std::string out = "queue";
  if (!flags.empty()) out.append(" flags ").append(flags);
  out.append(" to ").append(std::to_string(q.first));
  if (q.count > 1) out.append("-").append(std::to_string(q.first + q.count - 1));
  return out;
}

}  // namespace

std::string render_rule(const Rule& r) {
  std::vector<std::string> parts;
  if (r.loopback) parts.push_back(r.loopback == Direction::source ? "iif \"lo\"" : "oif \"lo\"");
  if (r.family && !r.address) parts.push_back("meta nfproto " + std::string(nfproto_name(*r.family)));
  if (r.address) {
    parts.push_back(std::string(family_keyword(r.address->family)) +
                    (r.address->direction == Direction::source ? " saddr @" : " daddr @") +
                    r.address->set);
  }
  if (r.protocol && r.destination_port) {
    parts.push_back(std::string(protocol_name(*r.protocol)) + " dport " +
                    std::to_string(*r.destination_port));
  } else if (r.protocol) {
    parts.push_back("meta l4proto " + std::string(protocol_name(*r.protocol)));
  }
  if (r.socket_uid) parts.push_back("meta skuid " + std::to_string(*r.socket_uid));
  if (r.mark) parts.push_back("meta mark " + mark_text(*r.mark));
  if (r.not_mark) parts.push_back("meta mark != " + mark_text(*r.not_mark));
  if (r.meter) {
    parts.push_back("update @" + r.meter->set + " { " +
                    std::string(family_keyword(r.meter->family)) + " saddr limit rate over " +
                    std::to_string(r.meter->rate_per_second) + "/second burst " +
                    std::to_string(r.meter->burst) + " packets }");
  }
  if (r.log) {
    parts.push_back("limit rate " + std::to_string(r.log->rate_per_second) + "/second burst " +
                    std::to_string(r.log->burst) + " packets log prefix \"" + r.log->prefix +
                    "\" group " + std::to_string(r.log->group));
  }
  if (r.counter) parts.push_back("counter name \"" + *r.counter + "\"");
  if (r.verdict == Verdict::queue)
    parts.push_back(queue_text(r.queue));
  else if (r.verdict == Verdict::redirect)
    parts.push_back("redirect to :" + std::to_string(r.redirect_port));
  else if (r.verdict != Verdict::none)
    parts.emplace_back(verdict_text(r.verdict));
  if (!r.comment.empty()) parts.push_back("comment \"" + r.comment + "\"");

  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? " " : "") + parts[i];
  return out;
}

namespace {

void render_elements(std::ostringstream& out, const std::vector<IpPrefix>& elements) {
  constexpr size_t kPerLine = 4;
  out << "\t\telements = { ";
  for (size_t i = 0; i < elements.size(); ++i) {
    if (i != 0) out << (i % kPerLine == 0 ? ",\n\t\t\t     " : ", ");
    out << elements[i].to_string();
  }
  out << " }\n";
}

}  // namespace

std::string render_nft(const Ruleset& rs) {
  std::ostringstream out;
  out << "# dnsguard policy \"" << rs.policy_name << "\" version " << rs.policy_version << '\n'
      << "# Replaces table inet " << kTableName << " in one transaction; other tables are "
      << "not touched.\n"
      << "table inet " << kTableName << '\n'
      << "delete table inet " << kTableName << '\n'
      << "table inet " << kTableName << " {\n";

  for (const auto& c : rs.counters) {
    out << "\tcounter " << c.name << " {\n"
        << "\t\tcomment \"" << c.description << "\"\n"
        << "\t}\n\n";
  }
  for (const auto& s : rs.sets) {
    out << "\tset " << s.name << " {\n"
        << "\t\ttype " << address_type(s.family) << '\n';
    if (s.interval) out << "\t\tflags interval\n";
    out << "\t\tcomment \"" << s.origin << "\"\n";
    render_elements(out, s.elements);
    out << "\t}\n\n";
  }
  for (const auto& s : rs.meter_sets) {
    out << "\tset " << s.name << " {\n"
        << "\t\ttype " << address_type(s.family) << '\n'
        << "\t\tsize " << s.size << '\n'
        << "\t\tflags dynamic,timeout\n"
        << "\t\ttimeout " << s.timeout_seconds << "s\n"
        << "\t\tcomment \"" << s.origin << "\"\n"
        << "\t}\n\n";
  }
  for (size_t i = 0; i < rs.chains.size(); ++i) {
    const auto& chain = rs.chains[i];
    out << "\tchain " << chain.name << " {\n"
        << "\t\ttype " << (chain.type == ChainType::nat ? "nat" : "filter") << " hook " << hook_name(chain.hook)
        << " priority " << priority_text(chain) << "; policy accept;\n";
    for (const auto& r : rs.rules)
      if (r.chain == chain.name) out << "\t\t" << render_rule(r) << '\n';
    out << "\t}\n";
    if (i + 1 != rs.chains.size()) out << '\n';
  }
  out << "}\n";
  return out.str();
}

}  // namespace dnsguard::ir
