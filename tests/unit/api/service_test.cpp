// The gRPC service through an in-process channel (no socket), with a fake kernel:
// every RPC, and the bad requests a client can send. After each bad request the agent
// must still answer.

#include "api/service.hpp"

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "control/fake_kernel.hpp"
#include "control/policies.hpp"

namespace dnsguard::api {
namespace {

using ::testing::HasSubstr;
using testing::policy_text;

class ServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/dnsguard-api-test.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    controller_ = std::make_unique<control::Controller>(kernel_, control::StateStore(dir_ / "state"), events_);
    ASSERT_TRUE(controller_->start().ok());
    service_ = std::make_unique<Service>(*controller_, events_);
    grpc::ServerBuilder builder;
    builder.SetMaxReceiveMessageSize(kMaxMessageBytes);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    grpc::ChannelArguments args;
    args.SetMaxSendMessageSize(kMaxMessageBytes);
    stub_ = v1::DnsGuard::NewStub(server_->InProcessChannel(args));
  }
  void TearDown() override {
    service_->shutdown();
    events_.close();
    server_->Shutdown();
    std::filesystem::remove_all(dir_);
  }

  template <typename Req, typename Resp>
  grpc::Status call(grpc::Status (v1::DnsGuard::Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
                    const Req& req, Resp* resp) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return ((*stub_).*method)(&ctx, req, resp);
  }

  grpc::Status apply(const std::string& text, v1::ApplyResponse* resp, uint32_t confirm = 0) {
    v1::ApplyRequest req;
    req.mutable_policy()->set_text(text);
    req.mutable_policy()->set_file_name("p.toml");
    req.set_confirm_within_seconds(confirm);
    return call(&v1::DnsGuard::Stub::Apply, req, resp);
  }

  // The agent still serves: a status call succeeds.
  void expect_serving() {
    v1::GetStatusResponse status;
    EXPECT_TRUE(call(&v1::DnsGuard::Stub::GetStatus, v1::GetStatusRequest{}, &status).ok());
  }

  std::filesystem::path dir_;
  testing::FakeKernel kernel_;
  telemetry::EventLog events_;
  std::unique_ptr<control::Controller> controller_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::DnsGuard::Stub> stub_;
};

TEST_F(ServiceTest, ValidateReportsStructuredErrors) {
  v1::ValidateRequest req;
  req.mutable_policy()->set_text("[policy]\nname = \"x\"\nversion = 1\n[egress]\nbogus = 1\n");
  req.mutable_policy()->set_file_name("mine.toml");
  v1::ValidateResponse resp;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::Validate, req, &resp).ok());
  EXPECT_FALSE(resp.valid());
  ASSERT_GE(resp.errors_size(), 1);
  const auto& e = resp.errors(0);
  EXPECT_EQ(e.file(), "mine.toml");
  EXPECT_EQ(e.line(), 4u);
  EXPECT_EQ(e.column(), 1u);
  EXPECT_EQ(e.key(), "egress.resolvers");

  req.mutable_policy()->set_text(policy_text(3));
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::Validate, req, &resp).ok());
  EXPECT_TRUE(resp.valid());
  EXPECT_EQ(resp.policy().version(), 3);
}

TEST_F(ServiceTest, ApplyPlanConfirmRollbackStatusStatsDisable) {
  v1::ApplyResponse applied;
  ASSERT_TRUE(apply(policy_text(1), &applied).ok());
  EXPECT_TRUE(applied.committed());
  EXPECT_EQ(applied.generation(), 1u);
  EXPECT_EQ(applied.policy().sha256().size(), 64u);

  v1::PlanRequest plan_req;
  plan_req.mutable_policy()->set_text(policy_text(2, "192.0.2.54"));
  v1::PlanResponse plan;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::Plan, plan_req, &plan).ok());
  EXPECT_EQ(plan.base_generation(), 1u);
  ASSERT_EQ(plan.diff().set_changes_size(), 1);
  EXPECT_EQ(plan.diff().set_changes(0).added(0), "192.0.2.54");
  EXPECT_THAT(plan.nft_text(), HasSubstr("table inet dnsguard {"));

  ASSERT_TRUE(apply(policy_text(2, "192.0.2.54"), &applied, 60).ok());
  EXPECT_TRUE(applied.has_confirm_deadline());
  v1::GetStatusResponse status;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::GetStatus, v1::GetStatusRequest{}, &status).ok());
  EXPECT_TRUE(status.confirm_pending());
  EXPECT_EQ(status.queue_backend(), "xt-NFQUEUE");
  EXPECT_FALSE(status.drift());

  v1::ConfirmResponse confirmed;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::Confirm, v1::ConfirmRequest{}, &confirmed).ok());
  EXPECT_EQ(confirmed.generation(), 2u);

  v1::RollbackResponse rolled;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::Rollback, v1::RollbackRequest{}, &rolled).ok());
  EXPECT_EQ(rolled.policy().version(), 1);
  EXPECT_EQ(rolled.generation(), 3u);

  v1::GetStatsResponse stats;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::GetStats, v1::GetStatsRequest{}, &stats).ok());
  ASSERT_EQ(stats.counters_size(), 1);
  EXPECT_EQ(stats.counters(0).name(), "egress_dns_denied");
  EXPECT_EQ(stats.counters(0).packets(), 3u);
  EXPECT_THAT(stats.counters(0).description(), HasSubstr("not designated resolvers"));

  v1::DisableResponse disabled;
  ASSERT_TRUE(call(&v1::DnsGuard::Stub::Disable, v1::DisableRequest{}, &disabled).ok());
  EXPECT_EQ(disabled.generation(), 4u);
  EXPECT_FALSE(kernel_.table);
}

TEST_F(ServiceTest, StreamEventsReplaysAndFollows) {
  v1::ApplyResponse applied;
  ASSERT_TRUE(apply(policy_text(1), &applied).ok());

  v1::StreamEventsRequest req;
  req.set_kind("apply");
  {
    grpc::ClientContext ctx;
    auto reader = stub_->StreamEvents(&ctx, req);
    v1::Event e;
    ASSERT_TRUE(reader->Read(&e));
    EXPECT_EQ(e.kind(), "apply");
    EXPECT_EQ(e.generation(), 1u);
    EXPECT_FALSE(reader->Read(&e));
    EXPECT_TRUE(reader->Finish().ok());
  }
  req.set_follow(true);
  grpc::ClientContext ctx;
  auto reader = stub_->StreamEvents(&ctx, req);
  v1::Event e;
  ASSERT_TRUE(reader->Read(&e));  // the replayed one
  std::thread later([&] {
    v1::ApplyResponse r;
    EXPECT_TRUE(apply(policy_text(2), &r).ok());
  });
  ASSERT_TRUE(reader->Read(&e));  // delivered live
  EXPECT_EQ(e.generation(), 2u);
  later.join();
  ctx.TryCancel();
}

TEST_F(ServiceTest, PolicyErrorsTravelInTheStatusDetails) {
  v1::ApplyResponse resp;
  const auto status = apply("[policy]\nname = \"x\"\nversion = 1\n[egress]\ndefault = \"allow\"\n", &resp);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::PolicyErrors details;
  ASSERT_TRUE(details.ParseFromString(status.error_details()));
  ASSERT_EQ(details.errors_size(), 1);
  EXPECT_EQ(details.errors(0).key(), "egress.default");
  EXPECT_EQ(details.errors(0).line(), 5u);
  EXPECT_THAT(status.error_message(), HasSubstr("\"allow\" is not one of"));
  EXPECT_FALSE(kernel_.table);
}

TEST_F(ServiceTest, BadRequestsGetClearErrorsAndTheAgentKeepsServing) {
  v1::ApplyResponse resp;

  auto empty = apply("", &resp);
  EXPECT_EQ(empty.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(empty.error_message(), HasSubstr("the policy is empty"));
  expect_serving();

  auto big = apply(std::string(10u << 20, 'x'), &resp);  // 10 MiB of garbage
  EXPECT_EQ(big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(big.error_message(), HasSubstr("TOML syntax error"));
  expect_serving();

  auto huge = apply(std::string(control::kMaxPolicyBytes + 1, '#'), &resp);
  EXPECT_EQ(huge.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(huge.error_message(), HasSubstr("the limit is"));
  expect_serving();

  auto binary = apply(std::string("[policy]\nname = \"\xc3\x28\"\n"), &resp);
  EXPECT_EQ(binary.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(binary.error_message(), HasSubstr("not UTF-8 text (invalid byte at offset 17)"));
  expect_serving();

  v1::ApplyRequest future;
  future.mutable_policy()->set_text(policy_text(1));
  future.GetReflection()->MutableUnknownFields(&future)->AddVarint(99, 1);
  auto unknown = call(&v1::DnsGuard::Stub::Apply, future, &resp);
  EXPECT_EQ(unknown.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(unknown.error_message(), HasSubstr("fields this agent does not know (field numbers 99)"));
  EXPECT_FALSE(kernel_.table);  // nothing of it was applied
  expect_serving();

  v1::ConfirmResponse confirmed;
  auto nothing = call(&v1::DnsGuard::Stub::Confirm, v1::ConfirmRequest{}, &confirmed);
  EXPECT_EQ(nothing.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::RollbackResponse rolled;
  EXPECT_EQ(call(&v1::DnsGuard::Stub::Rollback, v1::RollbackRequest{}, &rolled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  expect_serving();
}

TEST_F(ServiceTest, KernelRefusalIsAbortedAndChangesNothing) {
  v1::ApplyResponse resp;
  ASSERT_TRUE(apply(policy_text(1), &resp).ok());
  kernel_.refuse_next_apply = true;
  auto refused = apply(policy_text(2, "192.0.2.99"), &resp);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(refused.error_message(), HasSubstr("kernel rejected"));
  EXPECT_THAT(*kernel_.table, HasSubstr("192.0.2.53"));
}

}  // namespace
}  // namespace dnsguard::api

namespace dnsguard::api {
namespace {

TEST(Authorize, AdminIdentitiesMayChangePolicyOthersMayOnlyRead) {
  const AccessPolicy policy{true, {"admin.fleet.example", "ops-admin"}};
  // A client certificate naming an admin identity (CN or SAN): everything.
  EXPECT_TRUE(authorize(policy, true, {"ops-admin"}, "Apply", Role::admin).ok());
  EXPECT_TRUE(authorize(policy, true, {"host7", "admin.fleet.example"}, "Rollback", Role::admin).ok());
  // Any other valid client: reads only, and a denial names what is missing.
  EXPECT_TRUE(authorize(policy, true, {"reader"}, "GetStatus", Role::reader).ok());
  const auto denied = authorize(policy, true, {"reader"}, "Apply", Role::admin);
  EXPECT_EQ(denied.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.error_message(), ::testing::HasSubstr("Apply needs the admin role"));
  EXPECT_THAT(denied.error_message(), ::testing::HasSubstr("(reader)"));
  EXPECT_EQ(authorize(AccessPolicy{true, {}}, true, {"anyone"}, "Disable", Role::admin).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  // The remote listener denies by default: no certificate, not even a read.
  EXPECT_EQ(authorize(policy, false, {}, "GetStatus", Role::reader).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // The Unix socket's service: trusted (its file mode guards it).
  EXPECT_TRUE(authorize(AccessPolicy{}, false, {}, "Apply", Role::admin).ok());
}

}  // namespace
}  // namespace dnsguard::api
