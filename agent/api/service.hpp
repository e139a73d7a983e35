#pragma once
// The gRPC service: translates dnsguard.v1 messages to Controller calls and back, and
// nothing else. Exceptions stop here and become INTERNAL, so one bad request never
// takes the agent down.

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "control/controller.hpp"
#include "dnsguard/v1/agent.grpc.pb.h"
#include "telemetry/event_log.hpp"

namespace dnsguard::api {

// Who may call what. A Service serves one listener. The local one (the Unix socket,
// guarded by its file mode) trusts every caller. The remote one (TCP, mutual TLS)
// denies by default: a caller must have authenticated with a client certificate, and
// only certificates naming one of `admin_identities` (CN or a subject alternative name)
// may change anything; every other client may only read - GetStatus, GetStats,
// StreamEvents.
struct AccessPolicy {
  bool remote = false;
  std::vector<std::string> admin_identities;
};

enum class Role { reader, admin };

// The decision, pure: OK, or PERMISSION_DENIED naming the role `rpc` needs.
grpc::Status authorize(const AccessPolicy& policy, bool certificate_peer, const std::vector<std::string>& identities,
                       std::string_view rpc, Role needed);

class Service final : public dnsguard::v1::DnsGuard::Service {
 public:
  Service(control::Controller& controller, telemetry::EventLog& events, AccessPolicy access = {})
      : controller_(controller), events_(events), access_(std::move(access)) {}

  // Ends open event streams (agent shutting down).
  void shutdown() { shutting_down_ = true; }

  grpc::Status Validate(grpc::ServerContext*, const v1::ValidateRequest*, v1::ValidateResponse*) override;
  grpc::Status Plan(grpc::ServerContext*, const v1::PlanRequest*, v1::PlanResponse*) override;
  grpc::Status Apply(grpc::ServerContext*, const v1::ApplyRequest*, v1::ApplyResponse*) override;
  grpc::Status Confirm(grpc::ServerContext*, const v1::ConfirmRequest*, v1::ConfirmResponse*) override;
  grpc::Status Rollback(grpc::ServerContext*, const v1::RollbackRequest*, v1::RollbackResponse*) override;
  grpc::Status GetStatus(grpc::ServerContext*, const v1::GetStatusRequest*, v1::GetStatusResponse*) override;
  grpc::Status GetStats(grpc::ServerContext*, const v1::GetStatsRequest*, v1::GetStatsResponse*) override;
  grpc::Status StreamEvents(grpc::ServerContext*, const v1::StreamEventsRequest*,
                            grpc::ServerWriter<v1::Event>*) override;
  grpc::Status Disable(grpc::ServerContext*, const v1::DisableRequest*, v1::DisableResponse*) override;

 private:
  grpc::Status check_access(grpc::ServerContext* ctx, std::string_view rpc, Role needed) const;
  template <typename Body>
  grpc::Status serve(grpc::ServerContext* ctx, std::string_view rpc, Role needed,
                     const google::protobuf::Message& request, Body&& body) const;

  control::Controller& controller_;
  telemetry::EventLog& events_;
  AccessPolicy access_;
  std::atomic<bool> shutting_down_{false};
};

// An agent event as the API (and the JSON event lines) carry it.
v1::Event to_proto(const telemetry::Event& e);

// Largest request the servers accept; the agent checks the policy size itself.
inline constexpr int kMaxMessageBytes = 64 << 20;

}  // namespace dnsguard::api
