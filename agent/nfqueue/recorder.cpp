#include "nfqueue/recorder.hpp"

#include <cstdio>

namespace dnsguard::nfqueue {
namespace {

std::string_view event_kind(inspect::Reason r) {
  switch (r) {
    case inspect::Reason::malformed: return "malformed";
    case inspect::Reason::rate_limited: return "rate_limited";
    case inspect::Reason::tunneling: return "tunnel";
    default: return "block";
  }
}

telemetry::DnstapEndpoint client_of(const PacketView& v) { return {v.source, v.source_port}; }
telemetry::DnstapEndpoint server_of(const PacketView& v) { return {v.destination, v.destination_port}; }

}  // namespace

std::string presentation(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (char c : name) {
    const auto b = static_cast<unsigned char>(c);
    if (b > 0x20 && b < 0x7f && b != '\\' && b != '"') {
      out += c;
    } else {
      char esc[5];
      std::snprintf(esc, sizeof esc, "\\%03u", b);
      out += esc;
    }
  }
  return out;
}

void DecisionRecorder::begin(const InstalledEngine& installed, inspect::SteadyClock::time_point now) {
  installed_ = &installed;
  now_ = now;
  clock_gettime(CLOCK_REALTIME, &wall_now_);
}

// Counters, dnstap and events for every message decided, pipelined ones included.
void DecisionRecorder::on_message(const PacketView* view, const MessageDecision& m) {
  const inspect::Verdict& v = m.verdict;
  counters_.actions[static_cast<size_t>(v.action)].fetch_add(1, std::memory_order_relaxed);
  counters_.reasons[static_cast<size_t>(v.reason)].fetch_add(1, std::memory_order_relaxed);
  if (v.reason == inspect::Reason::blocked_list)
    installed_->list_hits[v.list]->fetch_add(1, std::memory_order_relaxed);
  const bool tcp = view && view->protocol == kProtoTcp;
  if (installed_->dnstap && view && !m.message.empty())
    installed_->dnstap->client_query(lane_, client_of(*view), server_of(*view), tcp, m.message, wall_now_);
  if (v.tunnel_detected_now) counters_.tunnel_detections.fetch_add(1, std::memory_order_relaxed);
  if (events_ && is_reported(v)) report(v, view, m.parsed(), m.error, tcp);
}

void DecisionRecorder::answered(const PacketView& view, std::span<const uint8_t> query,
                                std::span<const uint8_t> answer) {
  if (installed_->dnstap)
    installed_->dnstap->client_response(lane_, client_of(view), server_of(view), view.protocol == kProtoTcp, query,
                                        answer, wall_now_);
}

// Plain accepts are not events; tunneling is reported when detected and then for the
// queries it blocks (with action "log" only the detection is).
bool DecisionRecorder::is_reported(const inspect::Verdict& v) {
  switch (v.reason) {
    case inspect::Reason::no_match:
    case inspect::Reason::allowed_domain:
    case inspect::Reason::not_inspected: return false;
    case inspect::Reason::tunneling: return v.tunnel_detected_now || v.action != inspect::Action::accept;
    default: return true;
  }
}

// One event for a decision that is not a plain accept; sampled, so a flood of blocks
// costs a counter increment per packet, not a log line.
void DecisionRecorder::report(const inspect::Verdict& v, const PacketView* view, const dns::Query* query,
                              dns::ParseError error, bool tcp) {
  if (!(v.tunnel_detected_now ? detection_sampler_ : sampler_).admit(now_)) return;
  const inspect::Engine& engine = *installed_->engine;
  telemetry::Event e;
  e.kind = std::string(event_kind(v.reason));
  e.action = std::string(inspect::to_string(v.action));
  switch (v.reason) {
    case inspect::Reason::blocked_list: e.rule = engine.list_names()[v.list]; break;
    case inspect::Reason::blocked_domain: e.rule = "inspect.block_domains"; break;
    case inspect::Reason::denied_qtype: e.rule = "inspect.deny_qtypes"; break;
    case inspect::Reason::denied_opcode: e.rule = "inspect.opcodes"; break;
    case inspect::Reason::canary: e.rule = "egress.encrypted_dns.canary"; break;
    case inspect::Reason::rate_limited: e.rule = "inspect.rate_limit"; break;
    case inspect::Reason::tunneling: {
      e.rule = "inspect.tunneling";
      if (query) e.registered_domain = presentation(query->qname.suffix(v.registered_label));
      for (const auto name : inspect::signal_list(v.tunnel_signals)) e.signals.emplace_back(name);
      e.score = v.tunnel_score;
      break;
    }
    case inspect::Reason::malformed: e.rule = "inspect.malformed: " + std::string(dns::to_string(error)); break;
    default: e.rule = std::string(inspect::to_string(v.reason)); break;
  }
  if (view) {
    e.client = view->source.to_string();
    e.client_port = view->source_port;
    e.destination = view->destination.to_string();
    e.destination_port = view->destination_port;
    e.protocol = tcp ? "tcp" : "udp";
  }
  if (uid_) {
    e.uid = uid_;
    e.user = users_.cached(*uid_);  // never NSS on the packet path
  }
  if (query) {
    e.qname = presentation(query->qname.view());
    e.qtype = query->qtype;
  }
  e.message = e.kind + " " + (e.qname.empty() ? "(unparsed)" : e.qname) + " from " +
              (e.client.empty() ? "?" : e.client) + (e.user.empty() ? "" : " (" + e.user + ")") + ": " + e.rule +
              " -> " + e.action;
  if (v.reason == inspect::Reason::tunneling) {
    char score[32];
    std::snprintf(score, sizeof score, "%.2f", e.score);
    e.message += (v.tunnel_detected_now ? "; detected " : "; held ") + e.registered_domain + " (" +
                 inspect::signal_names(v.tunnel_signals) + ", score " + score + ")";
  }
  events_->publish(std::move(e));
}

void DecisionRecorder::flush_suppressed(inspect::SteadyClock::time_point now) {
  if (!events_) return;
  now_ = now;
  // What the sampler held back is counted at once (metrics, stats) ...
  if (const uint64_t n = sampler_.take_suppressed() + detection_sampler_.take_suppressed(); n != 0) {
    events_->count_suppressed(n);
    pending_suppressed_ += n;
  }
  // ... and goes out as one summary event once events may pass again.
  if (pending_suppressed_ == 0 || !sampler_.admit(now_, false)) return;
  telemetry::Event e;
  e.kind = "suppressed";
  e.count = pending_suppressed_;
  e.message = std::to_string(pending_suppressed_) + " inspector events suppressed (over 100/s)";
  events_->publish(std::move(e));
  pending_suppressed_ = 0;
}

}  // namespace dnsguard::nfqueue
