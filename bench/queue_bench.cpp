// Queue benchmark: DNS queries through the output hook, three ways, in one run driven by
// bench/queue.sh inside private namespaces:
//   none      no queue rule: the path's own cost
//   plain     a minimal NFQUEUE consumer: one recv, one accept verdict per packet
//   dnsguard  the inspector: batched reads, a decision per query, batch verdicts
// The client keeps WINDOW queries in flight against a UDP echo server (closed loop, so
// the queue never overflows) and reports queries/s; with --window 1 it reports the
// round-trip latency percentiles. For the consumers it also reports the consumer
// thread's CPU time per query, i.e. queries/s per core.
//
//   queue_bench echo ADDR                      (in the server namespace)
//   queue_bench run MODE SERVER COUNT WINDOW [POLICY]

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern "C" {
#include <libnetfilter_queue/libnetfilter_queue.h>
}

#include "inspect/engine.hpp"
#include "nfqueue/inspector.hpp"
#include "policy/policy.hpp"

namespace {

using Clock = std::chrono::steady_clock;

std::vector<uint8_t> query(uint32_t i) {
  std::vector<uint8_t> m = {static_cast<uint8_t>(i >> 8), static_cast<uint8_t>(i), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
  const std::string label = "host" + std::to_string(i);
  m.push_back(static_cast<uint8_t>(label.size()));
  m.insert(m.end(), label.begin(), label.end());
  for (const char* l : {"example", "com"}) {
    m.push_back(static_cast<uint8_t>(std::strlen(l)));
    m.insert(m.end(), l, l + std::strlen(l));
  }
  m.insert(m.end(), {0, 0, 1, 0, 1});
  return m;
}

// CPU seconds of this process's thread named `name` (from /proc; 10 ms resolution).
double named_thread_cpu_seconds(const std::string& name) {
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream comm(entry.path() / "comm");
    std::string n;
    std::getline(comm, n);
    if (n != name) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    std::istringstream rest(text.substr(text.rfind(')') + 2));
    std::string field;
    unsigned long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
      if (i == 14) utime = std::stoul(field);
      if (i == 15) stime = std::stoul(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
  }
  return 0;
}

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Room for every query in flight, so a large window loses nothing in socket buffers.
void big_buffers(int fd) {
  const int size = 8 << 20;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size);
  setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size);
}

int echo(const char* addr) {
  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  big_buffers(fd);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(53);
  inet_pton(AF_INET, addr, &a.sin_addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    perror("bind");
    return 1;
  }
  constexpr unsigned kBatch = 64;
  std::vector<std::array<char, 512>> bufs(kBatch);
  std::vector<sockaddr_in> peers(kBatch);
  std::vector<iovec> iov(kBatch);
  std::vector<mmsghdr> msgs(kBatch);
  for (;;) {
    for (unsigned i = 0; i < kBatch; ++i) {
      iov[i] = {bufs[i].data(), bufs[i].size()};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_name = &peers[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(sockaddr_in);
    }
    const int n = recvmmsg(fd, msgs.data(), kBatch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) {
      bufs[static_cast<size_t>(i)][2] |= 0x80;  // QR: make it look like an answer
      iov[static_cast<size_t>(i)].iov_len = msgs[static_cast<size_t>(i)].msg_len;
    }
    sendmmsg(fd, msgs.data(), static_cast<unsigned>(n), 0);
  }
}

// The simplest correct consumer: one packet in, one ACCEPT verdict out.
void plain_consumer(std::atomic<bool>& stop, std::atomic<bool>& ready, double& cpu, std::atomic<uint64_t>& handled) {
  mnl_socket* nl = mnl_socket_open(NETLINK_NETFILTER);
  mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
  const int rcvbuf = 16 << 20;
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf);
  const timeval wake{0, 100'000};  // blocking reads that time out, to notice `stop`
  setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof wake);
  char buf[8192];
  nlmsghdr* nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, 0);
  nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
  mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, 0);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 2048);
  mnl_socket_sendto(nl, nlh, nlh->nlmsg_len);
  ready = true;
  const double start = thread_cpu_seconds();
  while (!stop) {
    const ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n <= 0) continue;
    auto* msg = reinterpret_cast<nlmsghdr*>(buf);
    nlattr* attr[NFQA_MAX + 1] = {};
    if (nfq_nlmsg_parse(msg, attr) < 0 || !attr[NFQA_PACKET_HDR]) continue;
    const auto* ph = static_cast<nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
    char out[256];
    nlmsghdr* v = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT, 0);
    nfq_nlmsg_verdict_put(v, static_cast<int>(ntohl(ph->packet_id)), NF_ACCEPT);
    mnl_socket_sendto(nl, v, v->nlmsg_len);
    ++handled;
  }
  cpu = thread_cpu_seconds() - start;

  mnl_socket_close(nl);
}

int run(const std::string& mode, const char* server, uint32_t count, uint32_t window, const char* policy_file) {
  std::atomic<bool> stop{false}, ready{false};
  double consumer_cpu = 0;
  std::atomic<uint64_t> plain_handled{0};
  uint64_t handled = 0;
  std::thread consumer;
  std::unique_ptr<dnsguard::nfqueue::Inspector> inspector;
  if (mode == "plain") {
    consumer = std::thread(plain_consumer, std::ref(stop), std::ref(ready), std::ref(consumer_cpu), std::ref(plain_handled));
    while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } else if (mode == "dnsguard") {
    auto policy = dnsguard::policy::load_policy_file(policy_file);
    if (!policy) {
      fprintf(stderr, "%s", dnsguard::join_errors(policy.errors()).c_str());
      return 1;
    }
    auto engine = dnsguard::inspect::Engine::build(policy.value());
    inspector = std::make_unique<dnsguard::nfqueue::Inspector>();
    if (auto s = inspector->configure(engine.value(), 1, true); !s) {
      fprintf(stderr, "%s", dnsguard::join_errors(s.errors()).c_str());
      return 1;
    }
  }

  const int fd = socket(AF_INET, SOCK_DGRAM, 0);
  big_buffers(fd);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(53);
  inet_pton(AF_INET, server, &to.sin_addr);
  connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
  std::vector<std::vector<uint8_t>> queries;
  for (uint32_t i = 0; i < 4096; ++i) queries.push_back(query(i));
  std::vector<Clock::time_point> sent_at(65536);
  std::vector<double> rtts;
  rtts.reserve(count);

  // Flood (window 0): send everything as fast as possible and measure how fast the
  // consumer gets through it; the queue stays full, so batches are as large as they get.
  auto consumer_count = [&]() -> uint64_t {
    return inspector ? inspector->stats().packets : plain_handled.load();
  };
  if (window == 0) {
    std::thread sender([&] {
      for (uint32_t i = 0; i < count; ++i) {
        const auto& q = queries[i % queries.size()];
        while (send(fd, q.data(), q.size(), MSG_DONTWAIT) < 0 && (errno == EAGAIN || errno == ENOBUFS)) {
        }
      }
    });
    while (consumer_count() == 0) std::this_thread::sleep_for(std::chrono::microseconds(100));
    const auto first = Clock::now();
    const double cpu_before = inspector ? named_thread_cpu_seconds("dnsguard-q0") : 0;
    uint64_t last = 0;
    auto last_change = Clock::now();
    while (Clock::now() - last_change < std::chrono::milliseconds(300)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const uint64_t now_count = consumer_count();
      if (now_count != last) {
        last = now_count;
        last_change = Clock::now();
      }
    }
    sender.join();
    const double seconds = std::chrono::duration<double>(last_change - first).count();
    const double cpu = inspector ? named_thread_cpu_seconds("dnsguard-q0") - cpu_before : 0;
    stop = true;
    if (consumer.joinable()) consumer.join();
    double batch = 1;
    if (inspector) {
      const auto st = inspector->stats();
      batch = static_cast<double>(st.packets) / static_cast<double>(std::max<uint64_t>(st.batches, 1));
      inspector->stop();
    }
    const double cpu_total = inspector ? cpu : consumer_cpu;
    printf("mode=%s flood=%u handled=%lu seconds=%.3f qps=%.0f consumer_cpu_us_per_query=%.3f batch=%.1f\n",
           mode.c_str(), count, static_cast<unsigned long>(last), seconds, static_cast<double>(last) / seconds,
           cpu_total * 1e6 / static_cast<double>(std::max<uint64_t>(last, 1)), batch);
    return 0;
  }

  uint32_t sent = 0, received = 0, lost = 0;
  const auto start = Clock::now();
  char buf[512];
  while (received + lost < count) {
    while (sent < count && sent - received - lost < window) {
      auto& q = queries[sent % queries.size()];
      const uint16_t id = static_cast<uint16_t>(sent);
      q[0] = static_cast<uint8_t>(id >> 8);
      q[1] = static_cast<uint8_t>(id);
      sent_at[id] = Clock::now();
      send(fd, q.data(), q.size(), 0);
      ++sent;
    }
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) {  // a second of silence: count what is in flight as lost
      lost = sent - received;
      continue;
    }
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 2) continue;
    const uint16_t id = static_cast<uint16_t>(static_cast<uint8_t>(buf[0]) << 8 | static_cast<uint8_t>(buf[1]));
    rtts.push_back(std::chrono::duration<double, std::micro>(Clock::now() - sent_at[id]).count());
    ++received;
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  stop = true;
  if (consumer.joinable()) consumer.join();
  double per_query_cpu_us = 0;
  handled = plain_handled.load();
  if (mode == "plain" && handled) per_query_cpu_us = consumer_cpu * 1e6 / static_cast<double>(handled);
  if (inspector) {
    const auto s = inspector->stats();
    handled = s.packets;
    if (handled) per_query_cpu_us = named_thread_cpu_seconds("dnsguard-q0") * 1e6 / static_cast<double>(handled);
    inspector->stop();
  }
  std::sort(rtts.begin(), rtts.end());
  auto pct = [&](double p) { return rtts.empty() ? 0.0 : rtts[static_cast<size_t>(p * static_cast<double>(rtts.size() - 1))]; };
  printf("mode=%s queries=%u answered=%u lost=%u seconds=%.3f qps=%.0f p50_us=%.1f p99_us=%.1f consumer_packets=%lu consumer_cpu_us_per_query=%.3f\n",
         mode.c_str(), count, received, lost, seconds, received / seconds, pct(0.5), pct(0.99),
         static_cast<unsigned long>(handled), per_query_cpu_us);
  return lost == 0 ? 0 : 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 3 && std::string(argv[1]) == "echo") return echo(argv[2]);
  if (argc >= 6 && std::string(argv[1]) == "run")
    return run(argv[2], argv[3], static_cast<uint32_t>(std::stoul(argv[4])), static_cast<uint32_t>(std::stoul(argv[5])),
               argc > 6 ? argv[6] : "");
  fprintf(stderr, "usage: queue_bench echo ADDR | run none|plain|dnsguard SERVER COUNT WINDOW [POLICY]\n");
  return 2;
}
