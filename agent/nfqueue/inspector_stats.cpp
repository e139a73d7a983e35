// What the inspector has counted, as stats and as named counters for `dnsguardctl
// stats` and the metrics endpoint.
#include <fstream>
#include <sstream>

#include "nfqueue/inspector.hpp"

namespace dnsguard::nfqueue {

InspectorStats Inspector::stats() const {
  InspectorStats s;
  const InspectorCounters& c = counters_;
  s.packets = c.packets.load();
  s.batches = c.batches.load();
  for (size_t i = 0; i < s.actions.size(); ++i) s.actions[i] = c.actions[i].load();
  for (size_t i = 0; i < s.reasons.size(); ++i) s.reasons[i] = c.reasons[i].load();
  s.answers_injected = c.injected.load();
  s.tunnel_detections = c.tunnel_detections.load();
  s.tunnel_accounts = decisions_.tunnel_accounts();
  s.latency = c.latency.snapshot();
  s.tcp_resets = c.resets.load();
  s.inject_errors = c.inject_errors.load();
  s.enobufs = c.enobufs.load();
  s.errors = c.errors.load();
  s.tcp_connections = c.tcp_connections.load();
  s.tcp_refused = c.tcp_refused.load();
  s.tcp_evicted = c.tcp_evicted.load();
  s.tcp_open = tcp_proxy_.connections();
  std::vector<uint16_t> queues;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, hits] : list_hits_) s.lists[name] = hits->load();
    if (installed_ && installed_->dnstap) {
      s.dnstap_written = installed_->dnstap->submitted();
      s.dnstap_dropped = installed_->dnstap->dropped();
    }
    for (size_t q = 0; q < threads_.size(); ++q) queues.push_back(static_cast<uint16_t>(q));  // thread i serves queue i
  }
  // The kernel's own counts per queue: dropped when full, or when delivery to us failed.
  std::ifstream proc("/proc/net/netfilter/nfnetlink_queue");
  std::string line;
  while (std::getline(proc, line)) {
    std::istringstream in(line);
    uint64_t number = 0, portid = 0, total = 0, mode = 0, range = 0, dropped = 0, user_dropped = 0;
    if (!(in >> number >> portid >> total >> mode >> range >> dropped >> user_dropped)) continue;
    for (uint16_t q : queues)
      if (q == number) s.queues.push_back({q, dropped, user_dropped});
  }
  return s;
}

std::vector<inspect::RuntimeCounter> Inspector::counters() const {
  const InspectorStats s = stats();
  std::vector<inspect::RuntimeCounter> out;
  auto add = [&](std::string name, std::string description, uint64_t value, std::string metric,
                 std::vector<std::pair<std::string, std::string>> labels = {}) {
    out.push_back({std::move(name), std::move(description), value, std::move(metric), std::move(labels), "counter",
                   "", std::nullopt});
  };
  add("inspect_packets", "packets the inspector was handed", s.packets, "dnsguard_inspector_packets_total");
  add("inspect_batches", "reads from the queues (packets / batches = batch size)", s.batches,
      "dnsguard_inspector_reads_total");
  for (size_t i = 0; i < s.actions.size(); ++i) {
    const std::string a(inspect::to_string(static_cast<inspect::Action>(i)));
    add("inspect_verdict_" + a, "queries given this verdict", s.actions[i], "dnsguard_inspector_verdicts_total",
        {{"verdict", a}});
  }
  for (size_t i = 0; i < s.reasons.size(); ++i) {
    const std::string r(inspect::to_string(static_cast<inspect::Reason>(i)));
    add("inspect_rule_" + r, "queries decided by this rule", s.reasons[i], "dnsguard_inspector_decisions_total",
        {{"rule", r}});
  }
  for (const auto& [list, hits] : s.lists)
    add("inspect_list " + list, "queries blocked by this list", hits, "dnsguard_inspector_list_blocked_total",
        {{"list", list}});
  add("inspect_tunnel_detections", "registered domains detected as DNS tunnels", s.tunnel_detections,
      "dnsguard_tunneling_detections_total");
  out.push_back({"inspect_tunnel_accounts", "(client, registered domain) pairs the tunneling detector tracks",
                 s.tunnel_accounts, "dnsguard_tunneling_tracked_domains", {}, "gauge", "", std::nullopt});
  add("inspect_answers_injected", "blocked queries answered by the agent (UDP injected, TCP on the stream)",
      s.answers_injected, "dnsguard_inspector_answers_injected_total");
  add("inspect_tcp_connections", "TCP DNS connections the inspector's TCP proxy took", s.tcp_connections,
      "dnsguard_inspector_tcp_connections_total");
  add("inspect_tcp_refused", "connections to the TCP proxy closed at once (not redirected to a resolver)",
      s.tcp_refused, "dnsguard_inspector_tcp_refused_total");
  add("inspect_tcp_evicted", "idle TCP proxy connections closed to make room for new ones", s.tcp_evicted,
      "dnsguard_inspector_tcp_evicted_total");
  out.push_back({"inspect_tcp_open", "TCP DNS connections open through the proxy", s.tcp_open,
                 "dnsguard_inspector_tcp_open_connections", {}, "gauge", "", std::nullopt});
  add("inspect_tcp_resets", "queued TCP segments reset (forwarded TCP DNS that was blocked or split)", s.tcp_resets,
      "dnsguard_inspector_tcp_resets_total");
  add("inspect_inject_errors", "answers or resets that could not be sent", s.inject_errors,
      "dnsguard_inspector_inject_errors_total");
 add("inspect_errors", "packets dropped because deciding them failed (out of memory)", s.errors,
      "dnsguard_inspector_errors_total");
  add("inspect_enobufs", "times the queue socket overflowed (ENOBUFS)", s.enobufs, "dnsguard_inspector_enobufs_total");
  add("inspect_dnstap_written", "dnstap messages handed to the writer", s.dnstap_written,
      "dnsguard_dnstap_messages_total");
  add("inspect_dnstap_dropped", "dnstap messages dropped: the collector is behind", s.dnstap_dropped,
      "dnsguard_dnstap_dropped_total");
  // The latency histogram: cumulative buckets, then the sum and count.
  const std::string latency_help = "time packets spent in the inspector, from read to verdict";
  for (size_t i = 0; i < s.latency.cumulative.size(); ++i) {
    const bool last = i == telemetry::LatencyHistogram::kBoundsMicros.size();
    const uint32_t micros = last ? 0 : telemetry::LatencyHistogram::kBoundsMicros[i];
    char le[32];
    std::snprintf(le, sizeof le, "%g", micros / 1e6);
    out.push_back({"inspect_latency_le_" + (last ? std::string("inf") : std::to_string(micros) + "us"), latency_help,
                   s.latency.cumulative[i], "dnsguard_inspector_latency_seconds", {{"le", last ? "+Inf" : le}},
                   "histogram", "_bucket", std::nullopt});
  }
  out.push_back({"inspect_latency_sum_us", latency_help, static_cast<uint64_t>(s.latency.sum_seconds * 1e6),
                 "dnsguard_inspector_latency_seconds", {}, "histogram", "_sum", s.latency.sum_seconds});
  out.push_back({"inspect_latency_count", latency_help, s.latency.count, "dnsguard_inspector_latency_seconds", {},
                 "histogram", "_count", std::nullopt});
  for (const auto& q : s.queues) {
    const std::string n = std::to_string(q.queue);
    add("inspect_queue" + n + "_dropped", "dropped by the kernel: queue full", q.kernel_dropped,
        "dnsguard_queue_dropped_total", {{"queue", n}, {"reason", "queue_full"}});
    add("inspect_queue" + n + "_user_dropped", "dropped by the kernel: could not be delivered to the inspector",
        q.user_dropped, "dnsguard_queue_dropped_total", {{"queue", n}, {"reason", "undeliverable"}});
  }
  return out;
}

}  // namespace dnsguard::nfqueue
