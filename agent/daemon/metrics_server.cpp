#include "daemon/metrics_server.hpp"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>

namespace dnsguard::daemon {
namespace {

MHD_Result answer(void* cls, MHD_Connection* connection, const char* url, const char* method, const char*,
                  const char*, size_t*, void**) {
  const auto& render = *static_cast<MetricsServer::Render*>(cls);
  const bool get = std::strcmp(method, "GET") == 0;
  const bool metrics = std::strcmp(url, "/metrics") == 0;
  std::string body = !get ? "only GET\n" : metrics ? render() : "dnsguard: see /metrics\n";
  MHD_Response* response = MHD_create_response_from_buffer(body.size(), body.data(), MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(response, "Content-Type",
                          metrics ? "text/plain; version=0.0.4; charset=utf-8" : "text/plain; charset=utf-8");
  const unsigned status = !get ? MHD_HTTP_METHOD_NOT_ALLOWED : metrics ? MHD_HTTP_OK : MHD_HTTP_NOT_FOUND;
  const MHD_Result r = MHD_queue_response(connection, status, response);
  MHD_destroy_response(response);
  return r;
}

}  // namespace

Status MetricsServer::start(const std::string& address, Render render) {
  stop();
  const auto colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  const auto port = static_cast<uint16_t>(std::stoi(address.substr(colon + 1)));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  sockaddr_storage storage{};
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    flags |= MHD_USE_IPv6;
  } else {
    return make_error("telemetry.metrics: \"" + address + "\" does not name an IP address to listen on");
  }
  render_ = std::move(render);
  daemon_ = MHD_start_daemon(flags, port, nullptr, nullptr, &answer, &render_, MHD_OPTION_SOCK_ADDR,
                             reinterpret_cast<sockaddr*>(&storage), MHD_OPTION_CONNECTION_LIMIT, 16u,
                             MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_END);
  if (!daemon_) return make_error("cannot serve metrics on " + address + " (address in use?)");
  address_ = address;
  return ok_status();
}

void MetricsServer::stop() {
  if (daemon_) MHD_stop_daemon(daemon_);
  daemon_ = nullptr;
  address_.clear();
}

}  // namespace dnsguard::daemon
