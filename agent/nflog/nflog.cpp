#include "nflog/nflog.hpp"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "nfqueue/packet.hpp"
#include "nflog/user_names.hpp"

namespace dnsguard::nflog {
namespace {

nlmsghdr* config_header(char* buf, uint16_t group) {
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = htons(group);
  return nlh;
}

}  // namespace

DeniedAttemptLog::DeniedAttemptLog(telemetry::EventLog& events, uint16_t group) : events_(events), group_(group) {}

DeniedAttemptLog::~DeniedAttemptLog() { stop(); }

Status DeniedAttemptLog::start() {
  netlink::Socket nl(mnl_socket_open(NETLINK_NETFILTER));
  if (!nl) return make_error(std::string("cannot open a netfilter socket for NFLOG: ") + std::strerror(errno));
  if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0)
    return make_error(std::string("cannot bind a netfilter socket: ") + std::strerror(errno));
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = config_header(buf, group_);
  nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
  mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
  if (int err = netlink::request_with_ack(nl.get(), nlh))
    return make_error("cannot bind NFLOG group " + std::to_string(group_) + ": " + std::strerror(err) +
                      (err == EBUSY ? " (another program reads this group)" : ""));
  nlh = config_header(buf, group_);
  nfulnl_msg_config_mode mode{};
  mode.copy_range = htonl(0xffff);
  mode.copy_mode = NFULNL_COPY_PACKET;
  mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
  if (int err = netlink::request_with_ack(nl.get(), nlh))
    return make_error("cannot set the NFLOG copy mode: " + std::string(std::strerror(err)));
  const timeval wake{0, 200'000};  // reads time out so stop() is noticed
  setsockopt(mnl_socket_get_fd(nl.get()), SOL_SOCKET, SO_RCVTIMEO, &wake, sizeof wake);
  socket_ = std::move(nl);
  stop_ = false;
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void DeniedAttemptLog::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  socket_.reset();
}

void DeniedAttemptLog::run() {
  const int fd = mnl_socket_get_fd(socket_.get());
  std::vector<char> buf(70000);
  UserNames users;
  while (!stop_) {
    const ssize_t n = recv(fd, buf.data(), buf.size(), 0);
    if (n <= 0) continue;
    int remaining = static_cast<int>(n);
    for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (nlh->nlmsg_type != ((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET)) continue;
      std::array<const nlattr*, NFULA_MAX + 1> attrs{};
      mnl_attr_parse(
          nlh, sizeof(nfgenmsg),
          [](const nlattr* a, void* data) {
            auto& t = *static_cast<std::array<const nlattr*, NFULA_MAX + 1>*>(data);
            if (mnl_attr_get_type(a) <= NFULA_MAX) t[mnl_attr_get_type(a)] = a;
            return MNL_CB_OK;
          },
          &attrs);
      telemetry::Event e;
      e.kind = "bypass";
      e.action = "denied";
      if (attrs[NFULA_PREFIX]) {
        std::string prefix = mnl_attr_get_str(attrs[NFULA_PREFIX]);
        // "dnsguard <counter> ": the counter names the rule.
        if (prefix.rfind("dnsguard ", 0) == 0) prefix = prefix.substr(9);
        while (!prefix.empty() && prefix.back() == ' ') prefix.pop_back();
        e.rule = prefix;
      }
      if (attrs[NFULA_UID]) {
        e.uid = ntohl(mnl_attr_get_u32(attrs[NFULA_UID]));
        e.user = users.of(*e.uid);
      }
      if (attrs[NFULA_PAYLOAD]) {
        const auto view = nfqueue::parse_packet({static_cast<const uint8_t*>(mnl_attr_get_payload(attrs[NFULA_PAYLOAD])),
                                        mnl_attr_get_payload_len(attrs[NFULA_PAYLOAD])});
        if (view) {
          e.client = view->source.to_string();
          e.client_port = view->source_port;
          e.destination = view->destination.to_string();
          e.destination_port = view->destination_port;
          e.protocol = view->protocol == nfqueue::kProtoTcp ? "tcp" : "udp";
        }
      }
      const std::string who = e.user.empty() ? (e.uid ? "uid " + std::to_string(*e.uid) : "a process")
                                             : "user " + e.user;
      e.message = who + " sent " + e.protocol + " to " + e.destination + ":" + std::to_string(e.destination_port) +
                  ", denied by " + e.rule;
      events_.publish(std::move(e));
    }
  }
}

}  // namespace dnsguard::nflog
