#include "telemetry/metrics.hpp"

#include <cmath>
#include <cstdio>
#include <map>
#include <sstream>

namespace dnsguard::telemetry {
namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    snprintf(buf, sizeof buf, "%.0f", v);
  else
    snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

}  // namespace

std::string render_prometheus(const std::vector<Sample>& samples) {
  std::vector<std::string> order;
  std::map<std::string, std::vector<const Sample*>> families;
  for (const auto& s : samples) {
    auto [it, fresh] = families.try_emplace(s.family);
    if (fresh) order.push_back(s.family);
    it->second.push_back(&s);
  }
  std::ostringstream out;
  for (const auto& family : order) {
    const auto& list = families[family];
    out << "# HELP " << family << ' ' << escape_help(list.front()->help) << '\n';
    out << "# TYPE " << family << ' ' << list.front()->type << '\n';
    for (const Sample* s : list) {
      out << family << s->suffix;
      if (!s->labels.empty()) {
        out << '{';
        for (size_t i = 0; i < s->labels.size(); ++i)
          out << (i ? "," : "") << s->labels[i].first << "=\"" << escape_label(s->labels[i].second) << '"';
        out << '}';
      }
      out << ' ' << number(s->value) << '\n';
    }
  }
  return out.str();
}

}  // namespace dnsguard::telemetry
