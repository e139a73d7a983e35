#pragma once
// dnstap output: CLIENT_QUERY for every query the inspector sees and CLIENT_RESPONSE for
// every answer it makes up, written as Frame Streams (libfstrm) to a collector's Unix
// socket or to a file ("file:PATH"). Submitting never blocks: when the writer falls
// behind, messages are dropped and counted.

#include <atomic>
#include <ctime>
#include <memory>
#include <span>
#include <string>

#include "common/address.hpp"
#include "common/error.hpp"

struct fstrm_iothr;

namespace dnsguard::telemetry {

struct DnstapEndpoint {
  IpAddress address;
  uint16_t port = 0;
};

class DnstapWriter {
 public:
  // `target`: a Unix socket path, or "file:PATH". `queues`: threads that will write.
  static Result<std::shared_ptr<DnstapWriter>> open(const std::string& target, size_t queues);
  ~DnstapWriter();  // flushes what is queued and closes
  DnstapWriter(const DnstapWriter&) = delete;
  DnstapWriter& operator=(const DnstapWriter&) = delete;

  const std::string& target() const { return target_; }
  // From queue thread `queue` only (each has its own lock-free input queue).
  void client_query(size_t queue, const DnstapEndpoint& client, const DnstapEndpoint& server, bool tcp,
                    std::span<const uint8_t> message, timespec when);
  void client_response(size_t queue, const DnstapEndpoint& client, const DnstapEndpoint& server, bool tcp,
                       std::span<const uint8_t> query, std::span<const uint8_t> response, timespec when);
  uint64_t submitted() const { return submitted_; }
  uint64_t dropped() const { return dropped_; }

 private:
  DnstapWriter(std::string target, fstrm_iothr* iothr, size_t queues)
      : target_(std::move(target)), iothr_(iothr), queues_(queues) {}
  // Hands a malloc'd, serialized frame to the writer thread, which frees it.
  void submit(size_t queue, void* frame, size_t size);

  std::string target_;
  fstrm_iothr* iothr_;
  size_t queues_;
  std::atomic<uint64_t> submitted_{0};
  std::atomic<uint64_t> dropped_{0};
};

}  // namespace dnsguard::telemetry
