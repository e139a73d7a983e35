#include "nfqueue/inspector.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>

// libnetfilter_queue's libmnl-based API (its headers need the kernel's types above).
extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "dns/message.hpp"
#include "netlink/netlink.hpp"
#include "nfqueue/decision.hpp"
#include "nfqueue/verdict_batch.hpp"

namespace dnsguard::nfqueue {
namespace {

constexpr size_t kBatch = 64;           // packets read before verdicts go back
constexpr size_t kMessageBuffer = 8192; // one queued packet: copy range plus attributes

std::string errno_text(int err) { return std::strerror(err); }

std::string_view event_kind(inspect::Reason r) {
  switch (r) {
    case inspect::Reason::malformed: return "malformed";
    case inspect::Reason::rate_limited: return "rate_limited";
    case inspect::Reason::tunneling: return "tunnel";
    default: return "block";
  }
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

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
      snprintf(esc, sizeof esc, "\\%03u", b);
      out += esc;
    }
  }
  return out;
}

// One queue: its netlink socket, its raw sockets for answers, its thread.
class Inspector::QueueThread final : public MessageObserver {
 public:
  QueueThread(Inspector& owner, uint16_t queue) : owner_(owner), queue_(queue) {}
  ~QueueThread() { join(); }

  // Binds the queue and starts the thread; the error when binding failed.
  Status start(bool fail_open) {
    std::promise<Status> ready;
    auto result = ready.get_future();
    thread_ = std::thread([this, fail_open, ready = std::move(ready)]() mutable { run(fail_open, ready); });
    Status s = result.get();
    if (!s) join();
    return s;
  }

  void request_stop() { stop_ = true; }
  void set_fail_open(bool fail_open) { fail_open_wanted_ = fail_open; }
  void join() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  uint16_t queue() const { return queue_; }

 private:
  Status setup(bool fail_open) {
    nl_.reset(mnl_socket_open(NETLINK_NETFILTER));
    if (!nl_) return make_error("cannot open a netfilter socket for queue " + std::to_string(queue_) + ": " + errno_text(errno));
    if (mnl_socket_bind(nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      return make_error("cannot bind a netfilter socket: " + errno_text(errno));
    const int fd = mnl_socket_get_fd(nl_.get());
    const int rcvbuf = owner_.options_.receive_buffer;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    // Reads block at most this long, so the thread notices stop() without polling.
    const timeval wake{0, 200'000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof wake);

    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    if (int err = netlink::request_with_ack(nl_.get(), nlh))
      return make_error("cannot bind NFQUEUE " + std::to_string(queue_) + ": " + errno_text(err) +
                        (err == EBUSY ? " (another process serves this queue)" : ""));
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(owner_.options_.copy_range));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, owner_.options_.queue_max_len);
    if (int err = netlink::request_with_ack(nl_.get(), nlh))
      return make_error("cannot configure NFQUEUE " + std::to_string(queue_) + ": " + errno_text(err));
    if (int err = netlink::request_with_ack(nl_.get(), put_flags(buf, fail_open)))
      return make_error("cannot configure NFQUEUE " + std::to_string(queue_) + ": " + errno_text(err));
    fail_open_applied_ = fail_open;

    raw4_ = Fd(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    raw6_ = Fd(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW));
    if (raw4_.get() < 0 || raw6_.get() < 0)
      return make_error("cannot open raw sockets to answer queries: " + errno_text(errno));
    return ok_status();
  }

  // The queue's flags: the socket's uid with each packet (to tell local users apart);
  // fail open on overflow when the policy says so. No NFQA_CFG_F_GSO: without it the
  // kernel segments a GSO super-packet (UDP_SEGMENT, TSO) before queueing, so every
  // datagram the resolver will receive is decided on its own.
  nlmsghdr* put_flags(char* buf, bool fail_open) const {
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_);
    uint32_t flags = NFQA_CFG_F_UID_GID;
    if (fail_open) flags |= NFQA_CFG_F_FAIL_OPEN;
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_UID_GID | NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
    return nlh;
  }

  // A new fail mode, sent by the thread itself between reads (its answer comes in with
  // the packets and is skipped there).
  void apply_fail_mode() {
    const bool wanted = fail_open_wanted_.load(std::memory_order_relaxed);
    if (wanted == fail_open_applied_) return;
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = put_flags(buf, wanted);
    if (mnl_socket_sendto(nl_.get(), nlh, nlh->nlmsg_len) >= 0) fail_open_applied_ = wanted;
  }

  void run(bool fail_open, std::promise<Status>& ready) {
    // Named so that top and /proc show which thread serves which queue.
    pthread_setname_np(pthread_self(), ("dnsguard-q" + std::to_string(queue_)).c_str());
    fail_open_wanted_ = fail_open;
    Status s = setup(fail_open);
    const bool ok = s.ok();
    ready.set_value(std::move(s));
    if (!ok) return;
    // Nothing may leave a queue thread: an exception here would end the agent, and
    // with fail open every query would then pass uninspected.
    while (!stop_) {
      try {
        loop();
      } catch (...) {
        owner_.errors_.fetch_add(1, std::memory_order_relaxed);
        try {
          send_verdicts();  // the packets decided so far still get theirs
        } catch (...) {
          verdicts_.clear();
        }
      }
    }
    // Unbinding is implicit when the socket closes; say it anyway so the kernel stops
    // queueing to us at once.
    char buf[MNL_SOCKET_BUFFER_SIZE];
    nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_UNBIND);
    mnl_socket_sendto(nl_.get(), nlh, nlh->nlmsg_len);
    nl_.reset();
  }

  void refresh_engine() {
    const uint64_t version = owner_.engine_version_.load(std::memory_order_acquire);
    if (version == engine_version_ && installed_) return;
    installed_ = owner_.current();
    engine_version_ = version;
  }

  void loop() {
    const int fd = mnl_socket_get_fd(nl_.get());
    std::vector<std::array<char, kMessageBuffer>> buffers(kBatch);
    // recvmmsg writes msg_len back into each entry; the rest stays as set here.
    std::array<mmsghdr, kBatch> msgs{};
    std::array<iovec, kBatch> iovs{};
    for (size_t i = 0; i < kBatch; ++i) {
      iovs[i] = {buffers[i].data(), buffers[i].size()};
      msgs[i].msg_hdr.msg_iov = &iovs[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    while (!stop_) {
      apply_fail_mode();
      // Wait for one packet, then take whatever else is already queued: one system call
      // for the batch.
      const int n = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
      if (n <= 0) {
        if (n < 0 && errno == ENOBUFS) owner_.enobufs_.fetch_add(1, std::memory_order_relaxed);
        now_ = inspect::SteadyClock::now();
        report_suppressed();  // a flood that stopped still gets its summary
        continue;  // a timeout (to check stop_), or ENOBUFS: the kernel dropped some; carry on
      }
      owner_.batches_.fetch_add(1, std::memory_order_relaxed);
      refresh_engine();
      now_ = inspect::SteadyClock::now();
      clock_gettime(CLOCK_REALTIME, &wall_now_);
      for (int i = 0; i < n; ++i) handle_datagram(buffers[static_cast<size_t>(i)].data(), msgs[static_cast<size_t>(i)].msg_len);
      send_verdicts();
      // Shared counters once a batch, not once a packet: every queue thread writes them.
      owner_.packets_.fetch_add(batch_packets_, std::memory_order_relaxed);
      owner_.latency_.record(inspect::SteadyClock::now() - now_, batch_packets_);
      batch_packets_ = 0;
      take_suppressed();
      report_suppressed();
    }
  }

  void handle_datagram(const char* data, unsigned len) {
    int remaining = static_cast<int>(len);
    for (auto* nlh = reinterpret_cast<const nlmsghdr*>(data); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if ((nlh->nlmsg_type & 0xFF) != NFQNL_MSG_PACKET) continue;
      handle_packet(nlh);
    }
  }

  void handle_packet(const nlmsghdr* nlh) {
    nlattr* attr[NFQA_MAX + 1] = {};
    if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) return;
    const auto* hdr = static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
    const uint32_t id = ntohl(hdr->packet_id);
    ++batch_packets_;

    QueuedPacket packet;
    if (attr[NFQA_PAYLOAD])
      packet.bytes = {static_cast<const uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                      mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
    packet.truncated = attr[NFQA_CAP_LEN] && ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN])) > packet.bytes.size();
    if (attr[NFQA_UID]) packet.uid = ntohl(mnl_attr_get_u32(attr[NFQA_UID]));

    uid_ = packet.uid;
    try {
      decide_and_answer(id, packet);
    } catch (...) {  // out of memory while deciding: this packet is not let through
      owner_.errors_.fetch_add(1, std::memory_order_relaxed);
      verdicts_.drop(id);
    }
  }

  void decide_and_answer(uint32_t id, const QueuedPacket& packet) {
    const PacketDecision d = decide_packet(packet, *installed_->engine, now_, owner_.decisions_, this);
    if (d.action == PacketAction::accept) {
      verdicts_.accept(id);
      return;
    }
    if (build_injection(d, *installed_->engine, injection_)) {
      inject(d.view->source, injection_.packet_bytes());
      if (d.action == PacketAction::reset) {
        owner_.resets_.fetch_add(1, std::memory_order_relaxed);
      } else {
        owner_.injected_.fetch_add(1, std::memory_order_relaxed);
        if (installed_->dnstap)
          installed_->dnstap->client_response(queue_, {d.view->source, d.view->source_port},
                                              {d.view->destination, d.view->destination_port}, false,
                                              d.decided.message, injection_.dns_bytes(), wall_now_);
      }
    }
    verdicts_.drop(id);
  }

  // Counters, dnstap and events for every message decided, pipelined ones included.
  void on_message(const PacketView* view, const MessageDecision& m) override {
    const inspect::Verdict& v = m.verdict;
    owner_.actions_[static_cast<size_t>(v.action)].fetch_add(1, std::memory_order_relaxed);
    owner_.reasons_[static_cast<size_t>(v.reason)].fetch_add(1, std::memory_order_relaxed);
    if (v.reason == inspect::Reason::blocked_list) installed_->list_hits[v.list]->fetch_add(1, std::memory_order_relaxed);
    const bool tcp = view && view->protocol == kProtoTcp;
    if (installed_->dnstap && view && !m.message.empty())
      installed_->dnstap->client_query(queue_, {view->source, view->source_port},
                                       {view->destination, view->destination_port}, tcp, m.message, wall_now_);
    if (v.tunnel_detected_now) owner_.tunnel_detections_.fetch_add(1, std::memory_order_relaxed);
    if (owner_.options_.events && is_reported(v)) report(v, view, m.parsed(), m.error, tcp);
  }

  // Plain accepts are not events; tunneling is reported when detected and then for the
  // queries it blocks (with action "log" only the detection is).
  static bool is_reported(const inspect::Verdict& v) {
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
  void report(const inspect::Verdict& v, const PacketView* view, const dns::Query* query, dns::ParseError error,
              bool tcp) {
    if (!sampler_.admit(now_)) return;
    const inspect::Engine& engine = *installed_->engine;
    telemetry::Event e;
    e.kind = std::string(event_kind(v.reason));
    e.action = tcp && v.action != inspect::Action::accept ? "reset" : std::string(inspect::to_string(v.action));
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
      e.user = owner_.user_names_.cached(*uid_);  // never NSS on the packet path
    }
    if (query) {
      e.qname = presentation(query->qname.view());
      e.qtype = query->qtype;
    }
    e.message = e.kind + " " + (e.qname.empty() ? "(unparsed)" : e.qname) + " from " +
                (e.client.empty() ? "?" : e.client) + (e.user.empty() ? "" : " (" + e.user + ")") + ": " +
                e.rule + " -> " + e.action;
    if (v.reason == inspect::Reason::tunneling) {
      char score[32];
      std::snprintf(score, sizeof score, "%.2f", e.score);
      e.message += (v.tunnel_detected_now ? "; detected " : "; held ") + e.registered_domain + " (" +
                   inspect::signal_names(v.tunnel_signals) + ", score " + score + ")";
    }
    owner_.options_.events->publish(std::move(e));
  }
  // What the sampler held back is counted at once (metrics, stats) ...
  void take_suppressed() {
    const uint64_t n = sampler_.take_suppressed();
    if (n == 0 || !owner_.options_.events) return;
    owner_.options_.events->count_suppressed(n);
    pending_suppressed_ += n;
  }

  // ... and goes out as one summary event once events may pass again.
  void report_suppressed() {
    if (!owner_.options_.events || pending_suppressed_ == 0) return;
    if (!sampler_.admit(now_, false)) return;
    telemetry::Event e;
    e.kind = "suppressed";
    e.count = pending_suppressed_;
    e.message = std::to_string(pending_suppressed_) + " inspector events suppressed (over 100/s)";
    owner_.options_.events->publish(std::move(e));
    pending_suppressed_ = 0;
  }

  void inject(const IpAddress& to, std::span<const uint8_t> packet) {
    ssize_t sent = -1;
    if (to.family == AddressFamily::ipv4) {
      sockaddr_in dst{};
      dst.sin_family = AF_INET;
      std::memcpy(&dst.sin_addr, to.bytes.data(), 4);
      sent = sendto(raw4_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    } else {
      sockaddr_in6 dst{};
      dst.sin6_family = AF_INET6;
      std::memcpy(&dst.sin6_addr, to.bytes.data(), 16);
      sent = sendto(raw6_.get(), packet.data(), packet.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof dst);
    }
    if (sent < 0) owner_.inject_errors_.fetch_add(1, std::memory_order_relaxed);
  }

  // The batch's verdicts as netlink messages, sent in as few writes as fit the buffer.
  void send_verdicts() {
    size_t used = 0;
    for (const VerdictMessage& m : verdicts_.finish()) {
      if (used + 256 > verdict_buffer_.size()) {
        mnl_socket_sendto(nl_.get(), verdict_buffer_.data(), used);
        used = 0;
      }
      nlmsghdr* nlh = nfq_nlmsg_put(verdict_buffer_.data() + used, m.batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT,
                                    queue_);
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(m.id), m.accept ? NF_ACCEPT : NF_DROP);
      used += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    if (used > 0) mnl_socket_sendto(nl_.get(), verdict_buffer_.data(), used);
    verdicts_.clear();
  }
  Inspector& owner_;
  const uint16_t queue_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fail_open_wanted_{true};
  bool fail_open_applied_ = true;
  std::thread thread_;
  netlink::Socket nl_;
  Fd raw4_, raw6_;
  std::shared_ptr<Installed> installed_;
  uint64_t engine_version_ = 0;
  uint64_t batch_packets_ = 0;
  VerdictBatcher verdicts_;
  std::array<char, 64 * 1024> verdict_buffer_{};
  Injection injection_;
  std::optional<uint32_t> uid_;  // of the packet being decided, for its events
  inspect::SteadyClock::time_point now_;  // once per batch: rate limits need no finer clock
  timespec wall_now_{};                   // the same instant, for dnstap
  telemetry::EventSampler sampler_;
  uint64_t pending_suppressed_ = 0;
};

Inspector::Inspector(InspectorOptions options) : options_(options) {}

Inspector::~Inspector() { stop(); }

std::shared_ptr<Inspector::Installed> Inspector::current() const {
  std::lock_guard lock(mutex_);
  return installed_;
}

Status Inspector::configure(std::shared_ptr<const inspect::Engine> engine, uint16_t queues, bool fail_open) {
  std::lock_guard reconfiguring(reconfigure_mutex_);
  // The tunneling detector (public suffix list, account table) is made here, at apply,
  // not by the first query that needs it while its packet waits.
  if (engine->settings().tunneling.enabled) decisions_.tunnels();
  auto installed = std::make_shared<Installed>();
  installed->engine = std::move(engine);
  const std::shared_ptr<Installed> previous = current();
  // The dnstap writer carries over while its target stays the same.
  const std::string& target = installed->engine->dnstap_target();
  if (!target.empty()) {
    if (previous && previous->dnstap && previous->dnstap->target() == target) {
      installed->dnstap = previous->dnstap;
    } else {
      auto writer = telemetry::DnstapWriter::open(target, policy::kMaxInspectQueues);
      if (!writer) return writer.errors();
      installed->dnstap = writer.value();
    }
  }

  // New queues first, with the engine still in place: when one cannot be bound the
  // started ones stop again and everything else stays as it was.
  size_t running_now = 0;
  {
    std::lock_guard lock(mutex_);
    running_now = threads_.size();
  }
  std::vector<std::unique_ptr<QueueThread>> started;
  for (size_t q = running_now; q < queues; ++q) {
    auto t = std::make_unique<QueueThread>(*this, static_cast<uint16_t>(q));
    if (Status s = t->start(fail_open); !s) return s.errors();  // `started` stops on the way out
    started.push_back(std::move(t));
  }

  std::lock_guard lock(mutex_);
  for (const auto& name : installed->engine->list_names()) {
    HitCounter& hits = list_hits_[name];
    if (!hits) hits = std::make_shared<std::atomic<uint64_t>>(0);
    installed->list_hits.push_back(hits);
  }
  installed_ = std::move(installed);
  engine_version_.fetch_add(1, std::memory_order_release);
  for (auto& t : started) threads_.push_back(std::move(t));
  // The fail mode is a flag of each queue binding; threads change it themselves.
  for (auto& t : threads_) t->set_fail_open(fail_open);
  return ok_status();
}

void Inspector::shrink(uint16_t queues) {
  std::lock_guard reconfiguring(reconfigure_mutex_);
  std::vector<std::unique_ptr<QueueThread>> stopping;
  {
    std::lock_guard lock(mutex_);
    while (threads_.size() > queues) {
      stopping.push_back(std::move(threads_.back()));
      threads_.pop_back();
    }
  }
  for (auto& t : stopping) t->request_stop();
  stopping.clear();  // joins, without mutex_: a thread may be waiting for it
}

void Inspector::stop() { shrink(0); }
bool Inspector::running() const {
  std::lock_guard lock(mutex_);
  return !threads_.empty();
}

InspectorStats Inspector::stats() const {
  InspectorStats s;
  s.packets = packets_.load();
  s.batches = batches_.load();
  for (size_t i = 0; i < s.actions.size(); ++i) s.actions[i] = actions_[i].load();
  for (size_t i = 0; i < s.reasons.size(); ++i) s.reasons[i] = reasons_[i].load();
  s.answers_injected = injected_.load();
  s.tunnel_detections = tunnel_detections_.load();
  s.tunnel_accounts = decisions_.tunnel_accounts();
  s.latency = latency_.snapshot();
  s.tcp_resets = resets_.load();
  s.inject_errors = inject_errors_.load();
  s.enobufs = enobufs_.load();
  s.errors = errors_.load();
  std::vector<uint16_t> queues;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, hits] : list_hits_) s.lists[name] = hits->load();
    if (installed_ && installed_->dnstap) {
      s.dnstap_written = installed_->dnstap->submitted();
      s.dnstap_dropped = installed_->dnstap->dropped();
    }
    for (const auto& t : threads_) queues.push_back(t->queue());
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
  add("inspect_answers_injected", "blocked UDP queries answered on the spot", s.answers_injected,
      "dnsguard_inspector_answers_injected_total");
  add("inspect_tcp_resets", "blocked TCP queries whose connection was reset", s.tcp_resets,
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
