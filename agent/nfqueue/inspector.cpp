#include "nfqueue/inspector.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <future>

// libnetfilter_queue's libmnl-based API (its headers need the kernel's types above).
extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "common/unique_fd.hpp"
#include "netlink/netlink.hpp"
#include "nfqueue/answer_injector.hpp"
#include "nfqueue/decision.hpp"
#include "nfqueue/verdict_batch.hpp"

namespace dnsguard::nfqueue {
namespace {

constexpr size_t kBatch = 64;           // packets read before verdicts go back
constexpr size_t kMessageBuffer = 8192; // one queued packet: copy range plus attributes

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

// One queue: its netlink socket, its raw sockets for answers, its thread. It does the
// I/O around decide_packet() and nothing else.
class Inspector::QueueThread {
 public:
  QueueThread(Inspector& owner, uint16_t queue)
      : owner_(owner), queue_(queue), recorder_(owner.counters_, owner.options_.events, owner.user_names_, queue),
        verdicts_(owner.options_.batch_verdicts) {}
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
                        (err == EBUSY || err == EPERM ? " (another process serves this queue)" : ""));
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue_);
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(owner_.options_.copy_range));
    nfq_nlmsg_cfg_put_qmaxlen(nlh, owner_.options_.queue_max_len);
    if (int err = netlink::request_with_ack(nl_.get(), nlh))
      return make_error("cannot configure NFQUEUE " + std::to_string(queue_) + ": " + errno_text(err));
    if (int err = netlink::request_with_ack(nl_.get(), put_flags(buf, fail_open)))
      return make_error("cannot configure NFQUEUE " + std::to_string(queue_) + ": " + errno_text(err));
    fail_open_applied_ = fail_open;

    return injector_.open();
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
        owner_.counters_.errors.fetch_add(1, std::memory_order_relaxed);
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
        if (n < 0 && errno == ENOBUFS) owner_.counters_.enobufs.fetch_add(1, std::memory_order_relaxed);
        recorder_.flush_suppressed(inspect::SteadyClock::now());  // a flood that stopped gets its summary
        continue;  // a timeout (to check stop_), or ENOBUFS: the kernel dropped some; carry on
      }
      owner_.counters_.batches.fetch_add(1, std::memory_order_relaxed);
      refresh_engine();
      now_ = inspect::SteadyClock::now();
      recorder_.begin(*installed_, now_);
      for (int i = 0; i < n; ++i) handle_datagram(buffers[static_cast<size_t>(i)].data(), msgs[static_cast<size_t>(i)].msg_len);
      send_verdicts();
      // Shared counters once a batch, not once a packet: every queue thread writes them.
      owner_.counters_.packets.fetch_add(batch_packets_, std::memory_order_relaxed);
      owner_.counters_.latency.record(inspect::SteadyClock::now() - now_, batch_packets_);
      batch_packets_ = 0;
      recorder_.flush_suppressed(now_);
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
    try {
      decide_and_answer(id, packet);
    } catch (...) {  // out of memory while deciding: this packet is not let through
      owner_.counters_.errors.fetch_add(1, std::memory_order_relaxed);
      verdicts_.drop(id);
    }
  }

  void decide_and_answer(uint32_t id, const QueuedPacket& packet) {
    recorder_.set_uid(packet.uid);
    const PacketDecision d = decide_packet(packet, *installed_->engine, now_, owner_.decisions_, &recorder_);
    if (d.action == PacketAction::accept) {
      verdicts_.accept(id);
      return;
    }
    if (build_injection(d, *installed_->engine, injection_)) {
      inject(d.view->source, injection_.packet_bytes());
      if (d.action == PacketAction::reset) {
        owner_.counters_.resets.fetch_add(1, std::memory_order_relaxed);
      } else {
        owner_.counters_.injected.fetch_add(1, std::memory_order_relaxed);
        recorder_.answered(*d.view, d.decided.message, injection_.dns_bytes());
      }
    }
    verdicts_.drop(id);
  }

  void inject(const IpAddress& to, std::span<const uint8_t> packet) {
    if (!injector_.send(to, packet)) owner_.counters_.inject_errors.fetch_add(1, std::memory_order_relaxed);
  }

  // The batch's verdicts as netlink messages, sent in as few writes as fit the buffer.
  void send_verdicts() {
    size_t used = 0;
    for (const VerdictMessage& m : verdicts_.finish()) {
      if (used + 256 > verdict_buffer_.size()) {
        mnl_socket_sendto(nl_.get(), verdict_buffer_.data(), used);
        used = 0;
      }
      nlmsghdr* nlh = nfq_nlmsg_put(verdict_buffer_.data() + used,
                                    m.batch ? NFQNL_MSG_VERDICT_BATCH : NFQNL_MSG_VERDICT, queue_);
      nfq_nlmsg_verdict_put(nlh, static_cast<int>(m.id), m.accept ? NF_ACCEPT : NF_DROP);
      used += NLMSG_ALIGN(nlh->nlmsg_len);
    }
    if (used > 0) mnl_socket_sendto(nl_.get(), verdict_buffer_.data(), used);
    verdicts_.clear();
  }

  Inspector& owner_;
  const uint16_t queue_;
  DecisionRecorder recorder_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> fail_open_wanted_{true};
  bool fail_open_applied_ = true;
  std::thread thread_;
  netlink::Socket nl_;
  AnswerInjector injector_;
  std::shared_ptr<const InstalledEngine> installed_;
  uint64_t engine_version_ = 0;
  uint64_t batch_packets_ = 0;
  VerdictBatcher verdicts_;
  std::array<char, 64 * 1024> verdict_buffer_{};
  Injection injection_;
  inspect::SteadyClock::time_point now_;  // once per batch: rate limits need no finer clock
};

Inspector::Inspector(InspectorOptions options) : options_(options) {}

Inspector::~Inspector() { stop(); }

std::shared_ptr<const InstalledEngine> Inspector::current() const {
  std::lock_guard lock(mutex_);
  return installed_;
}

Status Inspector::configure(std::shared_ptr<const inspect::Engine> engine, uint16_t queues, bool fail_open) {
  std::lock_guard reconfiguring(reconfigure_mutex_);
  // The tunneling detector (public suffix list, account table) is made here, at apply,
  // not by the first query that needs it while its packet waits.
  if (engine->settings().tunneling.enabled) decisions_.tunnels();
  auto installed = std::make_shared<InstalledEngine>();
  installed->engine = std::move(engine);
  const std::shared_ptr<const InstalledEngine> previous = current();
  // The dnstap writer carries over while its target stays the same.
  const std::string& target = installed->engine->dnstap_target();
  if (!target.empty()) {
    if (previous && previous->dnstap && previous->dnstap->target() == target) {
      installed->dnstap = previous->dnstap;
    } else {
      auto writer = telemetry::DnstapWriter::open(target, kDnstapLanes);
      if (!writer) return writer.errors();
      installed->dnstap = writer.value();
    }
  }
  {
    std::lock_guard lock(mutex_);
    for (const auto& name : installed->engine->list_names()) {
      InstalledEngine::HitCounter& hits = list_hits_[name];
      if (!hits) hits = std::make_shared<std::atomic<uint64_t>>(0);
      installed->list_hits.push_back(hits);
    }
  }

  // New queues (and the TCP proxy's listener) first, with the old engine still in
  // place: when one cannot be bound everything stays as it was. The first time there is
  // no old engine, and a new thread may get a packet at once (the previous agent's rules
  // still queue to it): it starts with the new one.
  size_t running_now = 0;
  {
    std::lock_guard lock(mutex_);
    running_now = threads_.size();
    if (!installed_) {
      installed_ = installed;
      engine_version_.fetch_add(1, std::memory_order_release);
    }
  }
  std::vector<std::unique_ptr<QueueThread>> started;
  for (size_t q = running_now; q < queues; ++q) {
    auto t = std::make_unique<QueueThread>(*this, static_cast<uint16_t>(q));
    if (Status s = t->start(fail_open); !s) return s.errors();  // `started` stops on the way out
    started.push_back(std::move(t));
  }
  if (Status s = tcp_proxy_.configure(installed, installed->engine->settings().tcp_proxy_port,
                                      installed->engine->tcp_resolvers());
      !s)
    return s.errors();

  std::lock_guard lock(mutex_);
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
  if (queues == 0) tcp_proxy_.stop();
}

void Inspector::stop() { shrink(0); }

bool Inspector::running() const {
  std::lock_guard lock(mutex_);
  return !threads_.empty();
}

}  // namespace dnsguard::nfqueue
