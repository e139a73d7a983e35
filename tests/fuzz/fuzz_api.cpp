// The gRPC request handlers on any bytes: the input is parsed as each request type and
// handed to the service (with a fake kernel); every call returns a status, none crashes.
#include <cstdint>
#include <filesystem>

#include "api/service.hpp"
#include "control/fake_kernel.hpp"

using namespace dnsguard;

namespace {
struct Agent {
  testing::FakeKernel kernel;
  telemetry::EventLog events;
  std::unique_ptr<control::Controller> controller;
  std::unique_ptr<api::Service> service;
  Agent() {
    char tmpl[] = "/tmp/dnsguard-fuzz-api.XXXXXX";
    const std::filesystem::path dir = ::mkdtemp(tmpl);
    controller = std::make_unique<control::Controller>(kernel, control::StateStore(dir / "state"), events);
    (void)controller->start();
    service = std::make_unique<api::Service>(*controller, events);
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Agent agent;
  if (size == 0) return 0;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  grpc::ServerContext ctx;
  switch (data[0] % 6) {
    case 0: {
      v1::ValidateRequest req;
      v1::ValidateResponse resp;
      if (req.ParseFromString(bytes)) (void)agent.service->Validate(&ctx, &req, &resp);
      break;
    }
    case 1: {
      v1::PlanRequest req;
      v1::PlanResponse resp;
      if (req.ParseFromString(bytes)) (void)agent.service->Plan(&ctx, &req, &resp);
      break;
    }
    case 2: {
      v1::ApplyRequest req;
      v1::ApplyResponse resp;
      if (req.ParseFromString(bytes)) {
        req.set_confirm_within_seconds(0);  // no timers left behind between inputs
        (void)agent.service->Apply(&ctx, &req, &resp);
      }
      break;
    }
    case 3: {
      v1::RollbackRequest req;
      v1::RollbackResponse resp;
      if (req.ParseFromString(bytes)) (void)agent.service->Rollback(&ctx, &req, &resp);
      break;
    }
    case 4: {
      v1::GetStatusRequest req;
      v1::GetStatusResponse resp;
      if (req.ParseFromString(bytes)) (void)agent.service->GetStatus(&ctx, &req, &resp);
      break;
    }
    default: {
      v1::DisableRequest req;
      v1::DisableResponse resp;
      if (req.ParseFromString(bytes)) (void)agent.service->Disable(&ctx, &req, &resp);
      break;
    }
  }
  return 0;
}
