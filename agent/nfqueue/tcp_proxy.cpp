#include "nfqueue/tcp_proxy.hpp"

#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <system_error>
#include <cerrno>
#include <cstring>
#include <unordered_map>

#include "common/unique_fd.hpp"
#include "ir/ruleset.hpp"
#include "netlink/socket_owner.hpp"
#include "nfqueue/dns_stream.hpp"
#include "nfqueue/proxy_sockets.hpp"

namespace dnsguard::nfqueue {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
constexpr uint16_t kDnsPort = 53;

using Fd = UniqueFd;

}  // namespace

// The proxy's thread: listeners, connections and the epoll set that drives them.
class TcpProxy::Loop {
 public:
  Loop(TcpProxy& owner, Fd v4, Fd v6) : owner_(owner), recorder_(owner.counters_, owner.events_, owner.users_, kProxyDnstapLane) {
    listeners_[0] = std::move(v4);
    listeners_[1] = std::move(v6);
  }

  Status open() {
    epoll_ = Fd(epoll_create1(EPOLL_CLOEXEC));
    wake_ = Fd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    if (epoll_.get() < 0 || wake_.get() < 0) return make_error("cannot start the TCP proxy: " + errno_text());
    watch(wake_.get(), EPOLLIN, kWakeTag);
    for (size_t i = 0; i < 2; ++i)
      if (listeners_[i].get() >= 0) watch(listeners_[i].get(), EPOLLIN, kListenerTag + i);
    return ok_status();
  }

  void request_stop() {
    stop_ = true;
    const uint64_t one = 1;
    (void)!write(wake_.get(), &one, sizeof one);
  }

  void run() {
    pthread_setname_np(pthread_self(), "dnsguard-tcp");
    std::array<epoll_event, 64> events{};
    while (!stop_) {
      const int n = epoll_wait(epoll_.get(), events.data(), static_cast<int>(events.size()), 1000);
      now_ = inspect::SteadyClock::now();
      refresh_config();
      for (int i = 0; i < n; ++i) {
        // Nothing may leave the proxy's thread: a connection whose handling throws (out
        // of memory) is closed, the others carry on.
        const uint64_t tag = events[static_cast<size_t>(i)].data.u64;
        try {
          dispatch(tag, events[static_cast<size_t>(i)].events);
        } catch (...) {
          owner_.counters_.errors.fetch_add(1, std::memory_order_relaxed);
          if (tag >= kFirstConnection) close_connection(tag >> 1);
        }
      }
      expire_idle();
      if (config_) recorder_.flush_suppressed(now_);
    }
  }

 private:
  static constexpr uint64_t kWakeTag = 0;
  static constexpr uint64_t kListenerTag = 2;  // and 3
  static constexpr uint64_t kFirstConnection = 8;

  struct Connection {
    uint64_t id = 0;
    Fd client, upstream;
    PacketView view;  // the endpoints as events and dnstap show them
    std::optional<uint32_t> uid;
    DnsStreamReader from_client, from_upstream;
    uint64_t owner = 0;  // the uid, or the source address when the uid is not known
    std::vector<uint8_t> to_upstream, to_client;
    bool connected = false;  // the upstream connect() completed
    bool client_eof = false, upstream_eof = false;
    bool upstream_shut = false, client_shut = false;
    bool upstream_unwatched = false;
    inspect::SteadyClock::time_point last_active;
  };

  void watch(int fd, uint32_t events, uint64_t tag, int op = EPOLL_CTL_ADD) {
    epoll_event e{};
    e.events = events;
    e.data.u64 = tag;
    epoll_ctl(epoll_.get(), op, fd, &e);
  }

  void refresh_config() {
    const uint64_t version = owner_.config_version_.load(std::memory_order_acquire);
    if (config_ && version == config_version_) return;
    std::lock_guard lock(owner_.mutex_);
    config_ = owner_.config_;
    config_version_ = version;
  }

  void dispatch(uint64_t tag, uint32_t events) {
    if (tag == kWakeTag) {
      uint64_t count;
      (void)!read(wake_.get(), &count, sizeof count);
      return;
    }
    if (tag == kListenerTag || tag == kListenerTag + 1) {
      accept_all(listeners_[tag - kListenerTag].get());
      return;
    }
    const uint64_t id = tag >> 1;
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    Connection& c = *it->second;
    const bool upstream_side = tag & 1;
    // An error, or a client that hung up both ways: nothing more can be passed on.
    if ((events & EPOLLERR) || (!upstream_side && (events & EPOLLHUP))) return close_connection(id);
    if (upstream_side) {
      if (!c.connected && (events & (EPOLLOUT | EPOLLHUP))) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.upstream.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return close_connection(id);
        c.connected = true;
      }
      if (events & (EPOLLIN | EPOLLHUP)) read_upstream(c);
      if (events & EPOLLHUP) c.upstream_eof = true;
    } else if (events & EPOLLIN) {
      read_client(c);
    }
    if (!flush(c)) return close_connection(id);
    if (finished(c)) return close_connection(id);
    update_interest(c);
  }

  bool allowed_upstream(const IpAddress& a, uint16_t port) const {
    if (port != kDnsPort || !config_) return false;
    return std::any_of(config_->upstreams.begin(), config_->upstreams.end(),
                       [&](const IpPrefix& p) { return p.contains(a); });
  }

  void accept_all(int listener) {
    for (;;) {
      sockaddr_storage peer{};
      socklen_t len = sizeof peer;
      Fd client(accept4(listener, reinterpret_cast<sockaddr*>(&peer), &len, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (client.get() < 0) return;  // EAGAIN: all taken
      sockaddr_storage original{};
      // Only redirected connections to a designated resolver: a process that connects
      // to the proxy's port itself gets nothing, least of all a marked connection to
      // anywhere it likes.
      if (!original_destination(client.get(), peer.ss_family, original)) {
        owner_.counters_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const auto [to, to_port] = endpoint_of(original);
      if (!allowed_upstream(to, to_port)) {
        owner_.counters_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const auto [from, from_port] = endpoint_of(peer);
      const std::optional<uint32_t> uid = owners_.tcp_uid(from, from_port, to, to_port);
      const uint64_t owner = uid ? *uid : (uint64_t{1} << 32) | (inspect::address_hash(from) & 0xFFFFFFFFu);
      // Room is made at the expense of whoever holds the most: one process holding
      // connections open cannot shut the others out.
      if (const auto held = owned_.find(owner); held != owned_.end() && held->second >= kMaxPerOwner) {
        evict_idlest_of(owner);
      } else if (connections_.size() >= kMaxConnections) {
        const auto hog = std::max_element(owned_.begin(), owned_.end(),
                                          [](const auto& a, const auto& b) { return a.second < b.second; });
        evict_idlest_of(hog->first);
      }
      Fd upstream(socket(peer.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      const uint32_t mark = ir::kProxyMark;
      if (upstream.get() < 0 || setsockopt(upstream.get(), SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
        owner_.counters_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      const socklen_t original_len = peer.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
      if (connect(upstream.get(), reinterpret_cast<sockaddr*>(&original), original_len) < 0 && errno != EINPROGRESS) {
        owner_.counters_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      auto c = std::make_unique<Connection>();
      c->id = next_id_++;
      c->client = std::move(client);
      c->upstream = std::move(upstream);
      c->owner = owner;
      ++owned_[owner];
      c->view.source = from;
      c->view.source_port = from_port;
      c->view.destination = to;
      c->view.destination_port = to_port;
      c->view.protocol = kProtoTcp;
      // The process behind it, as the queue learns it from NFQA_UID: per-user rates, events.
      c->uid = uid;
      c->last_active = now_;
      watch(c->client.get(), EPOLLIN, c->id << 1);
      watch(c->upstream.get(), EPOLLIN | EPOLLOUT, c->id << 1 | 1);
      connections_.emplace(c->id, std::move(c));
      owner_.open_connections_.store(connections_.size(), std::memory_order_relaxed);
      owner_.counters_.tcp_connections.fetch_add(1, std::memory_order_relaxed);
    }
  }

  bool may_read_client(const Connection& c) const {
    return !c.client_eof && c.to_upstream.size() < kMaxPending && c.to_client.size() < kMaxPending;
  }
  bool may_read_upstream(const Connection& c) const {
    return c.connected && !c.upstream_eof && c.to_client.size() < kMaxPending;
  }

  void read_client(Connection& c) {
    while (may_read_client(c)) {
      auto room = c.from_client.writable(kReadChunk);
      const ssize_t n = recv(c.client.get(), room.data(), room.size(), 0);
      c.from_client.commit(n > 0 ? static_cast<size_t>(n) : 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c.client_eof = true;  // a partial message left behind is never sent on
        return;
      }
      if (n < 0) return;
      c.last_active = now_;
      while (auto message = c.from_client.next())
        if (!decide(c, *message)) {
          c.client_eof = true;  // "drop": the rest of the stream is not read either
          c.to_upstream.clear();
          return;
        }
    }
  }

  // One whole message: on to the resolver, answered here, or (false) the end of the
  // connection.
  bool decide(Connection& c, std::span<const uint8_t> message) {
    const InstalledEngine& installed = *config_->installed;
    recorder_.begin(installed, now_);
    recorder_.set_uid(c.uid);
    MessageDecision m;
    m.message = message;
    m.error = dns::parse_query(message, m.query);
    inspect::Client client{c.view.source, c.uid};
    m.verdict = installed.engine->decide(m.parsed(), m.error, client, now_, owner_.decisions_);
    recorder_.on_message(&c.view, m);
    switch (m.verdict.action) {
      case inspect::Action::accept: append_framed(c.to_upstream, message); return true;
      case inspect::Action::drop: return false;
      default: break;
    }
    if (!m.parsed()) return false;
    std::array<uint8_t, 4096> answer;
    const size_t length =
        dns::build_response(message, m.query, installed.engine->response_for(m.verdict.action), answer);
    if (length == 0) return false;
    append_framed(c.to_client, std::span(answer.data(), length));
    recorder_.answered(c.view, message, std::span(answer.data(), length));
    owner_.counters_.injected.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // The resolver's answers, read as messages too: the proxy's own answers may only go
  // between two of them, never inside one.
  void read_upstream(Connection& c) {
    while (may_read_upstream(c)) {
      auto room = c.from_upstream.writable(kReadChunk);
      const ssize_t n = recv(c.upstream.get(), room.data(), room.size(), 0);
      c.from_upstream.commit(n > 0 ? static_cast<size_t>(n) : 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        c.upstream_eof = true;
        return;
      }
      if (n < 0) return;
      c.last_active = now_;
      while (auto message = c.from_upstream.next()) append_framed(c.to_client, *message);
    }
  }

  // Writes what is pending each way; false when a side is gone.
  bool flush(Connection& c) {
    if (c.connected && !send_all(c.upstream.get(), c.to_upstream)) return false;
    if (!send_all(c.client.get(), c.to_client)) return false;
    // Half-close once a side has nothing more to say and all of it has been passed on.
    if (c.client_eof && c.connected && c.to_upstream.empty() && !c.upstream_shut) {
      shutdown(c.upstream.get(), SHUT_WR);
      c.upstream_shut = true;
    }
    if (c.upstream_eof && c.to_client.empty() && !c.client_shut) {
      shutdown(c.client.get(), SHUT_WR);
      c.client_shut = true;
    }
    return true;
  }

  static bool finished(const Connection& c) {
    return (c.client_eof && c.upstream_shut && c.upstream_eof && c.to_client.empty()) ||
           (c.upstream_eof && c.client_shut && c.client_eof);
  }

  void update_interest(Connection& c) {
    const uint32_t in = EPOLLIN, out = EPOLLOUT, none = 0;
    watch(c.client.get(), (may_read_client(c) ? in : none) | (c.to_client.empty() ? none : out), c.id << 1,
          EPOLL_CTL_MOD);
    if (c.upstream_eof) {  // a closed upstream would report EPOLLHUP for ever
      if (!c.upstream_unwatched) epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, c.upstream.get(), nullptr);
      c.upstream_unwatched = true;
      return;
    }
    watch(c.upstream.get(),
          (may_read_upstream(c) ? in : none) | (!c.connected || !c.to_upstream.empty() ? out : none),
          c.id << 1 | 1, EPOLL_CTL_MOD);
  }

  void close_connection(uint64_t id) {
    auto it = connections_.find(id);
    if (it == connections_.end()) return;
    if (auto owned = owned_.find(it->second->owner); owned != owned_.end() && --owned->second == 0) owned_.erase(owned);
    connections_.erase(it);  // closing the fds removes them from the epoll set
    owner_.open_connections_.store(connections_.size(), std::memory_order_relaxed);
  }

  void evict_idlest_of(uint64_t owner) {
    uint64_t idlest = 0;
    inspect::SteadyClock::time_point oldest = inspect::SteadyClock::time_point::max();
    for (const auto& [id, c] : connections_)
      if (c->owner == owner && c->last_active < oldest) {
        oldest = c->last_active;
        idlest = id;
      }
    if (idlest == 0) return;
    close_connection(idlest);
    owner_.counters_.tcp_evicted.fetch_add(1, std::memory_order_relaxed);
  }

  void expire_idle() {
    if (now_ - last_sweep_ < std::chrono::seconds(1)) return;
    last_sweep_ = now_;
    std::vector<uint64_t> idle;
    for (const auto& [id, c] : connections_)
      if (now_ - c->last_active > kIdleTimeout) idle.push_back(id);
    for (const uint64_t id : idle) close_connection(id);
  }

  TcpProxy& owner_;
  DecisionRecorder recorder_;
  netlink::SocketOwners owners_;
  std::array<Fd, 2> listeners_;
  Fd epoll_, wake_;
  std::atomic<bool> stop_{false};
  std::shared_ptr<const Config> config_;
  uint64_t config_version_ = 0;
  std::unordered_map<uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_map<uint64_t, size_t> owned_;  // connections per owner
  uint64_t next_id_ = kFirstConnection;
  inspect::SteadyClock::time_point now_{}, last_sweep_{};
};

TcpProxy::TcpProxy(InspectorCounters& counters, telemetry::EventLog* events, nflog::UserNameCache& users,
                   inspect::DecisionState& decisions)
    : counters_(counters), events_(events), users_(users), decisions_(decisions) {}

TcpProxy::~TcpProxy() { stop(); }

Status TcpProxy::configure(std::shared_ptr<const InstalledEngine> installed, uint16_t port,
                           std::vector<IpPrefix> upstreams) {
  auto config = std::make_shared<Config>(Config{std::move(installed), std::move(upstreams)});
  if (!running() || port != port_) {
    if (const unsigned first = unprivileged_port_start(); port >= first)
      return make_error(ErrorCode::invalid_input,
                        "inspect.tcp_proxy_port " + std::to_string(port) +
                            " is not a privileged port on this host (net.ipv4.ip_unprivileged_port_start = " +
                            std::to_string(first) + "): any process could take it and answer TCP DNS");
    auto v4 = listen_on(AddressFamily::ipv4, port);
    if (!v4) return v4.errors();
    auto v6 = listen_on(AddressFamily::ipv6, port);
    if (!v6) return v6.errors();
    auto loop = std::make_unique<Loop>(*this, std::move(v4).value(), std::move(v6).value());
    if (Status s = loop->open(); !s) return s;
    stop();
    {
      std::lock_guard lock(mutex_);
      config_ = std::move(config);
    }
    config_version_.fetch_add(1, std::memory_order_release);
    loop_ = std::move(loop);
    port_ = port;
    try {
      thread_ = std::thread([this] { loop_->run(); });
    } catch (const std::system_error& e) {  // TCP DNS then fails closed: nothing listens
      loop_.reset();
      port_ = 0;
      return make_error(ErrorCode::internal, std::string("cannot start the TCP proxy: ") + e.what());
    }
    return ok_status();
  }
  {
    std::lock_guard lock(mutex_);
    config_ = std::move(config);
  }
  config_version_.fetch_add(1, std::memory_order_release);
  return ok_status();
}

void TcpProxy::stop() {
  if (!thread_.joinable()) return;
  loop_->request_stop();
  thread_.join();
  loop_.reset();
  open_connections_ = 0;
  port_ = 0;
}

}  // namespace dnsguard::nfqueue
