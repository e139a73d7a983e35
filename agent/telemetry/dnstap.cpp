#include "telemetry/dnstap.hpp"

#include <fstrm.h>

#include <cstdlib>
#include <cstring>

#include "dnstap/dnstap.pb.h"

namespace dnsguard::telemetry {
namespace {

constexpr char kContentType[] = "protobuf:dnstap.Dnstap";

void fill(dnstap::Message& m, const DnstapEndpoint& client, const DnstapEndpoint& server, bool tcp) {
  m.set_socket_family(client.address.family == AddressFamily::ipv4 ? dnstap::INET : dnstap::INET6);
  m.set_socket_protocol(tcp ? dnstap::TCP : dnstap::UDP);
  m.set_query_address(client.address.bytes.data(), client.address.size());
  m.set_query_port(client.port);
  m.set_response_address(server.address.bytes.data(), server.address.size());
  m.set_response_port(server.port);
}

// The envelope; the caller fills its message in place.
dnstap::Dnstap envelope() {
  dnstap::Dnstap d;
  d.set_type(dnstap::Dnstap::MESSAGE);
  d.set_identity("dnsguard");
  d.set_version(DNSGUARD_VERSION);
  return d;
}

// Serializes straight into the buffer the writer thread will free.
std::pair<void*, size_t> serialize(const dnstap::Dnstap& d) {
  const size_t size = d.ByteSizeLong();
  void* buffer = std::malloc(size);
  if (buffer) d.SerializeWithCachedSizesToArray(static_cast<uint8_t*>(buffer));
  return {buffer, size};
}

}  // namespace

Result<std::shared_ptr<DnstapWriter>> DnstapWriter::open(const std::string& target, size_t queues) {
  fstrm_writer_options* wopt = fstrm_writer_options_init();
  fstrm_writer_options_add_content_type(wopt, kContentType, sizeof kContentType - 1);
  fstrm_writer* writer = nullptr;
  if (target.rfind("file:", 0) == 0) {
    fstrm_file_options* fopt = fstrm_file_options_init();
    fstrm_file_options_set_file_path(fopt, target.substr(5).c_str());
    writer = fstrm_file_writer_init(fopt, wopt);
    fstrm_file_options_destroy(&fopt);
  } else {
    fstrm_unix_writer_options* uopt = fstrm_unix_writer_options_init();
    fstrm_unix_writer_options_set_socket_path(uopt, target.c_str());
    writer = fstrm_unix_writer_init(uopt, wopt);
    fstrm_unix_writer_options_destroy(&uopt);
  }
  fstrm_writer_options_destroy(&wopt);
  if (!writer) return make_error("cannot open dnstap output " + target);
  fstrm_iothr_options* iopt = fstrm_iothr_options_init();
  fstrm_iothr_options_set_num_input_queues(iopt, queues);
  fstrm_iothr* iothr = fstrm_iothr_init(iopt, &writer);  // takes the writer
  fstrm_iothr_options_destroy(&iopt);
  if (!iothr) {
    if (writer) fstrm_writer_destroy(&writer);
    return make_error("cannot start the dnstap writer for " + target);
  }
  return std::shared_ptr<DnstapWriter>(new DnstapWriter(target, iothr, queues));
}

DnstapWriter::~DnstapWriter() { fstrm_iothr_destroy(&iothr_); }

void DnstapWriter::submit(size_t queue, void* frame, size_t size) {
  fstrm_iothr_queue* q = queue < queues_ ? fstrm_iothr_get_input_queue_idx(iothr_, queue) : nullptr;
  if (!frame || !q || fstrm_iothr_submit(iothr_, q, frame, size, fstrm_free_wrapper, nullptr) != fstrm_res_success) {
    std::free(frame);  // no memory, no such queue, or it is full: the collector is behind
    ++dropped_;
    return;
  }
  ++submitted_;
}

void DnstapWriter::client_query(size_t queue, const DnstapEndpoint& client, const DnstapEndpoint& server, bool tcp,
                                std::span<const uint8_t> message, timespec when) {
  dnstap::Dnstap d = envelope();
  dnstap::Message& m = *d.mutable_message();
  m.set_type(dnstap::Message::CLIENT_QUERY);
  fill(m, client, server, tcp);
  m.set_query_time_sec(static_cast<uint64_t>(when.tv_sec));
  m.set_query_time_nsec(static_cast<uint32_t>(when.tv_nsec));
  m.set_query_message(message.data(), message.size());
  const auto [frame, size] = serialize(d);
  submit(queue, frame, size);
}

void DnstapWriter::client_response(size_t queue, const DnstapEndpoint& client, const DnstapEndpoint& server,
                                   bool tcp, std::span<const uint8_t> query, std::span<const uint8_t> response,
                                   timespec when) {
  dnstap::Dnstap d = envelope();
  dnstap::Message& m = *d.mutable_message();
  m.set_type(dnstap::Message::CLIENT_RESPONSE);
  fill(m, client, server, tcp);
  m.set_query_message(query.data(), query.size());
  m.set_response_time_sec(static_cast<uint64_t>(when.tv_sec));
  m.set_response_time_nsec(static_cast<uint32_t>(when.tv_nsec));
  m.set_response_message(response.data(), response.size());
  const auto [frame, size] = serialize(d);
  submit(queue, frame, size);
}

}  // namespace dnsguard::telemetry
