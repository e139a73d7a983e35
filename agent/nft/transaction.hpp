#pragma once
// Inside the nft backend: one nfnetlink batch, sent with one sendmsg, every reply read
// back, each message's sequence number mapped to what it creates so that a kernel
// error names the rule or set and the policy key behind it.

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nft/backend.hpp"
#include "nft/handles.hpp"
#include "nft/lowering.hpp"

namespace dnsguard::nft {

class Transaction {
 public:
  // With `generation`, the kernel commits the batch only while the ruleset is still at
  // that generation (NFNL_BATCH_GENID), and refuses it with ERESTART otherwise.
  explicit Transaction(std::optional<uint32_t> generation = std::nullopt)
      : batch_(nftnl_batch_alloc(kBatchPageSize, kMaxMessageSize)) {
    if (!batch_) throw std::bad_alloc();
    seq_ = static_cast<uint32_t>(time(nullptr)) << 8;
    nlmsghdr* begin = nftnl_batch_begin(static_cast<char*>(nftnl_batch_buffer(batch_.get())), seq_++);
    if (generation) mnl_attr_put_u32(begin, NFNL_BATCH_GENID, htonl(*generation));
    nftnl_batch_update(batch_.get());
  }

  // The kernel refused the batch because another commit came first.
  bool generation_changed() const { return generation_changed_; }

  template <typename BuildPayload>
  void message(uint16_t type, uint16_t flags, std::string what, BuildPayload&& build,
               uint16_t family = NFPROTO_INET) {
    nlmsghdr* nlh = nftnl_nlmsg_build_hdr(static_cast<char*>(nftnl_batch_buffer(batch_.get())),
                                          type, family, flags | NLM_F_ACK, seq_);
    build(nlh);
    origins_.emplace(seq_++, std::move(what));
    nftnl_batch_update(batch_.get());
    ++stats_.messages;
  }

  // `table_flags` given: the table gets exactly these (an update clears others, e.g. a
  // dormant flag set by hand); absent: whatever it has stays.
  void add_table(uint16_t type, uint16_t flags, const std::string& name, uint16_t family,
                 std::optional<uint32_t> table_flags = std::nullopt) {
    Table t(nftnl_table_alloc());
    nftnl_table_set_str(t.get(), NFTNL_TABLE_NAME, name.c_str());
    nftnl_table_set_u32(t.get(), NFTNL_TABLE_FAMILY, family);
    if (table_flags) nftnl_table_set_u32(t.get(), NFTNL_TABLE_FLAGS, *table_flags);
    message(
        type, flags, (type == NFT_MSG_DELTABLE ? "delete table " : "create table ") + name,
        [&](nlmsghdr* nlh) { nftnl_table_nlmsg_build_payload(nlh, t.get()); }, family);
  }

  void add_set_elements(const ir::AddressSet& set, uint32_t set_id,
                        const std::vector<IpRange>& ranges, const std::string& what) {
    const bool interval = set.interval;
    // Chunks keep each range's start and end elements in the same message.
    for (size_t first = 0; first < ranges.size(); first += kRangesPerMessage) {
      const size_t last = std::min(ranges.size(), first + kRangesPerMessage);
      Set chunk = new_set(set.name, set.family, 0, set_id);
      size_t count = 0;
      // Like nft, an interval set starts with an end marker at the family's first
      // address unless the first range begins there.
      const IpAddress zero{ranges.front().first.family, {}};
      if (interval && first == 0 && ranges.front().first != zero) {
        add_element(chunk.get(), zero, true);
        ++count;
      }
      for (size_t i = first; i < last; ++i) {
        const auto after = next_address(ranges[i].last);
        add_element(chunk.get(), ranges[i].first, false, interval && !after);
        ++count;
        if (interval && after) {
          add_element(chunk.get(), *after, true);
          ++count;
        }
      }
      message(NFT_MSG_NEWSETELEM, NLM_F_CREATE,
              what + " elements " + std::to_string(first + 1) + "-" + std::to_string(last),
              [&](nlmsghdr* nlh) { nftnl_set_elems_nlmsg_build_payload(nlh, chunk.get()); });
      stats_.set_elements += count;
    }
  }

  // Sends the batch. With `commit` false the end marker is left out: the kernel then
  // validates every message and aborts, which is how `nft --check` works.
  // `reply_room`: how many times the usual receive buffer to ask for (a retry after
  // lost replies asks for more).
  Result<TransactionStats> send(mnl_socket* nl, bool commit, size_t reply_room = 1) {
    if (commit) {
      nftnl_batch_end(static_cast<char*>(nftnl_batch_buffer(batch_.get())), seq_++);
      nftnl_batch_update(batch_.get());
    }
    const int iov_count = nftnl_batch_iovec_len(batch_.get());
    std::vector<iovec> iov(static_cast<size_t>(iov_count));
    nftnl_batch_iovec(batch_.get(), iov.data(), static_cast<uint32_t>(iov_count));
    size_t total = 0;
    for (const auto& v : iov) total += v.iov_len;
    stats_.bytes = total;

    const int fd = mnl_socket_get_fd(nl);
    grow_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, total + 65536);
    grow_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, reply_room * (stats_.messages * 1024 + (1 << 20)));

    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    msghdr msg{};
    msg.msg_name = &kernel;
    msg.msg_namelen = sizeof kernel;
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size();
    if (sendmsg(fd, &msg, 0) < 0) {
      return make_error(ErrorCode::kernel, "sending the nftables transaction (" + std::to_string(total) +
                                               " bytes) failed: " + errno_text(errno));
    }
    try {
      return receive(nl);
    } catch (const std::exception& e) {  // sent: the kernel may have committed
      return make_error(ErrorCode::unknown_outcome, std::string("reading the kernel's replies failed: ") + e.what());
    }
  }

 private:
  Result<TransactionStats> receive(mnl_socket* nl) {
    Errors errors;
    size_t acks = 0;
    bool lost_replies = false;
    std::string lost_because;
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    const int fd = mnl_socket_get_fd(nl);
    const uint32_t portid = mnl_socket_get_portid(nl);
    for (;;) {
      pollfd p{fd, POLLIN, 0};
      if (poll(&p, 1, 0) <= 0) break;  // the kernel answered inside sendmsg: nothing more
      const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) break;
        // ENOBUFS: replies were dropped, and with them perhaps the one that mattered.
        lost_replies = true;
        lost_because = errno_text(errno);
        break;
      }
      int len = static_cast<int>(n);
      for (auto* nlh = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(nlh, len);
           nlh = mnl_nlmsg_next(nlh, &len)) {
        if (nlh->nlmsg_pid != portid || nlh->nlmsg_type != NLMSG_ERROR) continue;
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
        if (err->error == 0) {
          ++acks;
          continue;
        }
        if (-err->error == ERESTART) generation_changed_ = true;
        errors.push_back(make_error(ErrorCode::kernel, describe_failure(nlh, -err->error)));
      }
    }
    if (!errors.empty()) return errors;
    if (lost_replies || acks < stats_.messages)
      return make_error(ErrorCode::unknown_outcome,
                        "the kernel acknowledged " + std::to_string(acks) + " of " + std::to_string(stats_.messages) +
                            " messages" + (lost_replies ? " (reading its replies failed: " + lost_because + ")" : ""));
    return stats_;
  }

  std::string describe_failure(const nlmsghdr* nlh, int err) const {
    std::string out = "kernel rejected ";
    auto it = origins_.find(nlh->nlmsg_seq);
    out += it != origins_.end() ? it->second : "the transaction";
    out += ": " + errno_text(err);
    // The kernel's own explanation, when it gives one (extended ACK).
    if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
      const auto* payload = static_cast<const char*>(mnl_nlmsg_get_payload(nlh));
      const size_t offset = sizeof(nlmsgerr);  // NETLINK_CAP_ACK: no request echoed
      const auto* attr = reinterpret_cast<const nlattr*>(payload + offset);
      int remaining = static_cast<int>(nlh->nlmsg_len) - static_cast<int>(MNL_NLMSG_HDRLEN + offset);
      for (; mnl_attr_ok(attr, remaining); attr = mnl_attr_next(attr)) {
        if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG)
          out += " (" + std::string(mnl_attr_get_str(attr)) + ")";
        remaining -= static_cast<int>(NLA_ALIGN(attr->nla_len));
      }
    }
    return out;
  }

  Batch batch_;
  uint32_t seq_ = 0;
  bool generation_changed_ = false;
  std::map<uint32_t, std::string> origins_;
  TransactionStats stats_;
};


}  // namespace dnsguard::nft
