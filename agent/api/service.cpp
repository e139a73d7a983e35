#include "api/service.hpp"

#include "api/policy_error.hpp"

#include <google/protobuf/util/time_util.h>

#include <exception>

namespace dnsguard::api {
namespace {

using google::protobuf::util::TimeUtil;
using api::to_proto;  // the policy error's, beside this file's own overloads

google::protobuf::Timestamp to_timestamp(control::Clock::time_point t) {
  return TimeUtil::MillisecondsToTimestamp(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count());
}

void to_proto(const control::PolicyInfo& info, v1::PolicyInfo* out) {
  out->set_name(info.name);
  out->set_version(info.version);
  out->set_sha256(info.sha256);
  out->set_file_name(info.file_name);
}

void to_proto(const ir::RulesetDiff& d, v1::PlanDiff* out) {
  out->set_unchanged(d.empty());
  for (const auto& r : d.rules_added) out->add_rules_added(r);
  for (const auto& r : d.rules_removed) out->add_rules_removed(r);
  for (const auto& s : d.sets_added) out->add_sets_added(s);
  for (const auto& s : d.sets_removed) out->add_sets_removed(s);
  for (const auto& c : d.set_changes) {
    auto* change = out->add_set_changes();
    change->set_set(c.set);
    for (const auto& e : c.added) change->add_added(e);
    for (const auto& e : c.removed) change->add_removed(e);
  }
  for (const auto& c : d.counters_added) out->add_counters_added(c);
  for (const auto& c : d.counters_removed) out->add_counters_removed(c);
}

// Maps controller errors to a gRPC status. Policy mistakes travel structured in the
// status details (a serialized PolicyErrors), and readably in the message.
grpc::Status to_status(const Errors& errors) {
  const ErrorCode code = errors.empty() ? ErrorCode::internal : errors.front().code;
  grpc::StatusCode status = grpc::StatusCode::INTERNAL;
  switch (code) {
    case ErrorCode::invalid_input: status = grpc::StatusCode::INVALID_ARGUMENT; break;
    case ErrorCode::failed_precondition: status = grpc::StatusCode::FAILED_PRECONDITION; break;
    case ErrorCode::kernel: status = grpc::StatusCode::ABORTED; break;  // refused: nothing changed
    case ErrorCode::unknown_outcome: status = grpc::StatusCode::UNKNOWN; break;
    case ErrorCode::storage: status = grpc::StatusCode::INTERNAL; break;  // not UNAVAILABLE: the agent is up
    case ErrorCode::internal: status = grpc::StatusCode::INTERNAL; break;
  }
  std::string message = join_errors(errors);
  if (!message.empty() && message.back() == '\n') message.pop_back();
  v1::PolicyErrors details;
  for (const auto& e : errors) to_proto(e, details.add_errors());
  return grpc::Status(status, message, details.SerializeAsString());
}

// A request with fields this agent does not know was built for a newer API; acting on
// part of it could do something the sender did not mean.
grpc::Status check_known_fields(const google::protobuf::Message& request) {
  const auto& unknown = request.GetReflection()->GetUnknownFields(request);
  if (unknown.empty()) return grpc::Status::OK;
  std::string numbers;
  for (int i = 0; i < unknown.field_count(); ++i)
    numbers += (i ? ", " : "") + std::to_string(unknown.field(i).number());
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      "request has fields this agent does not know (field numbers " + numbers +
                          "); is the client newer than the agent?");
}

control::PolicySource source_of(const v1::PolicySource& p) {
  return {p.text(), p.file_name().empty() ? "policy.toml" : p.file_name()};
}

// Runs one RPC body: rejects unknown fields, turns exceptions into INTERNAL.
template <typename Body>
grpc::Status handle(const google::protobuf::Message& request, Body&& body) {
  if (auto s = check_known_fields(request); !s.ok()) return s;
  try {
    return body();
  } catch (const std::exception& e) {
    return grpc::Status(grpc::StatusCode::INTERNAL, std::string("internal error: ") + e.what());
  }
}

// The StreamEvents filters: every one given must hold.
bool matches(const v1::StreamEventsRequest& req, const telemetry::Event& e) {
  if (!req.kind().empty() && e.kind != req.kind()) return false;
  if (!req.action().empty() && e.action != req.action()) return false;
  if (!req.client().empty() && e.client != req.client()) return false;
  if (!req.domain().empty()) {
    const std::string& d = req.domain();
    const bool below = e.qname.size() > d.size() && e.qname.ends_with(d) && e.qname[e.qname.size() - d.size() - 1] == '.';
    if (e.qname != d && !below) return false;
  }
  return true;
}

}  // namespace

v1::Event to_proto(const telemetry::Event& e) {
  v1::Event out;
  *out.mutable_time() = to_timestamp(e.time);
  out.set_kind(e.kind);
  out.set_message(e.message);
  out.set_generation(e.generation);
  if (!e.policy_name.empty()) {
    out.mutable_policy()->set_name(e.policy_name);
    out.mutable_policy()->set_version(e.policy_version);
    out.mutable_policy()->set_sha256(e.policy_sha256);
  }
  out.set_client(e.client);
  out.set_client_port(e.client_port);
  if (e.uid) out.set_uid(*e.uid);
  out.set_user(e.user);
  out.set_destination(e.destination);
  out.set_destination_port(e.destination_port);
  out.set_protocol(e.protocol);
  out.set_qname(e.qname);
  out.set_qtype(e.qtype);
  out.set_rule(e.rule);
  out.set_action(e.action);
  out.set_count(e.count);
  out.set_registered_domain(e.registered_domain);
  for (const auto& s : e.signals) out.add_signals(s);
  out.set_score(e.score);
  return out;
}

grpc::Status authorize(const AccessPolicy& policy, bool certificate_peer, const std::vector<std::string>& identities,
                       std::string_view rpc, Role needed) {
  if (!policy.remote) return grpc::Status::OK;
  if (!certificate_peer)
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the remote API needs a client certificate");
  if (needed == Role::reader) return grpc::Status::OK;
  for (const auto& id : identities)
    if (std::find(policy.admin_identities.begin(), policy.admin_identities.end(), id) != policy.admin_identities.end())
      return grpc::Status::OK;
  std::string who;
  for (const auto& id : identities) who += (who.empty() ? "" : ", ") + id;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                      std::string(rpc) + " needs the admin role, and the client certificate (" +
                          (who.empty() ? "no name" : who) +
                          ") is not one of the agent's --admin-identity names; it may only read status, "
                          "stats and events");
}

grpc::Status Service::check_access(grpc::ServerContext* ctx, std::string_view rpc, Role needed) const {
  const auto auth = ctx ? ctx->auth_context() : nullptr;
  const bool certificate_peer = auth && auth->IsPeerAuthenticated();
  std::vector<std::string> identities;
  if (certificate_peer) {
    for (const char* property : {"x509_common_name", "x509_subject_alternative_name"})
      for (const auto& v : auth->FindPropertyValues(property)) identities.emplace_back(v.data(), v.size());
  }
  return authorize(access_, certificate_peer, identities, rpc, needed);
}

// Every RPC's prologue: the caller's role, then the request's fields, then the body
// with exceptions turned into INTERNAL.
template <typename Body>
grpc::Status Service::serve(grpc::ServerContext* ctx, std::string_view rpc, Role needed,
                            const google::protobuf::Message& request, Body&& body) const {
  if (auto denied = check_access(ctx, rpc, needed); !denied.ok()) return denied;
  return handle(request, std::forward<Body>(body));
}

grpc::Status Service::Validate(grpc::ServerContext* ctx, const v1::ValidateRequest* req,
                               v1::ValidateResponse* resp) {
  return serve(ctx, "Validate", Role::admin, *req, [&] {
    auto r = controller_.validate(source_of(req->policy()));
    resp->set_valid(r.ok());
    if (r.ok())
      to_proto(r.value(), resp->mutable_policy());
    else
      for (const auto& e : r.errors()) to_proto(e, resp->add_errors());
    return grpc::Status::OK;
  });
}

grpc::Status Service::Plan(grpc::ServerContext* ctx, const v1::PlanRequest* req, v1::PlanResponse* resp) {
  return serve(ctx, "Plan", Role::admin, *req, [&] {
    auto r = controller_.plan(source_of(req->policy()));
    if (!r) return to_status(r.errors());
    to_proto(r->policy, resp->mutable_policy());
    to_proto(r->diff, resp->mutable_diff());
    resp->set_base_generation(r->base_generation);
    resp->set_nft_text(r->nft_text);
    return grpc::Status::OK;
  });
}

grpc::Status Service::Apply(grpc::ServerContext* ctx, const v1::ApplyRequest* req, v1::ApplyResponse* resp) {
  return serve(ctx, "Apply", Role::admin, *req, [&] {
    control::ApplyOptions options;
    options.dry_run = req->dry_run();
    // Another client may send any number: a revert deadline past a week is a mistake.
    if (req->confirm_within_seconds() > 7 * 24 * 3600)
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "confirm_within_seconds is over a week");
    options.confirm_within = std::chrono::seconds(req->confirm_within_seconds());
    options.expected_generation = req->expected_generation();
    auto r = controller_.apply(source_of(req->policy()), options);
    if (!r) return to_status(r.errors());
    to_proto(r->policy, resp->mutable_policy());
    to_proto(r->diff, resp->mutable_diff());
    resp->set_committed(r->committed);
    resp->set_generation(r->generation);
    if (r->confirm_deadline) *resp->mutable_confirm_deadline() = to_timestamp(*r->confirm_deadline);
    resp->set_netlink_messages(static_cast<uint32_t>(r->stats.messages));
    resp->set_set_elements(r->stats.set_elements);
    return grpc::Status::OK;
  });
}

grpc::Status Service::Confirm(grpc::ServerContext* ctx, const v1::ConfirmRequest* req,
                              v1::ConfirmResponse* resp) {
  return serve(ctx, "Confirm", Role::admin, *req, [&] {
    auto r = controller_.confirm();
    if (!r) return to_status(r.errors());
    resp->set_generation(r.value());
    return grpc::Status::OK;
  });
}

grpc::Status Service::Rollback(grpc::ServerContext* ctx, const v1::RollbackRequest* req,
                               v1::RollbackResponse* resp) {
  return serve(ctx, "Rollback", Role::admin, *req, [&] {
    auto r = controller_.rollback();
    if (!r) return to_status(r.errors());
    if (!r->policy.name.empty()) to_proto(r->policy, resp->mutable_policy());
    resp->set_generation(r->generation);
    return grpc::Status::OK;
  });
}

grpc::Status Service::GetStatus(grpc::ServerContext* ctx, const v1::GetStatusRequest* req,
                                v1::GetStatusResponse* resp) {
  return serve(ctx, "GetStatus", Role::reader, *req, [&] {
    auto r = controller_.status();
    if (!r) return to_status(r.errors());
    resp->set_enforcing(r->enforcing);
    if (r->policy) to_proto(*r->policy, resp->mutable_policy());
    resp->set_generation(r->generation);
    if (r->applied_at) *resp->mutable_applied_at() = to_timestamp(*r->applied_at);
    resp->set_confirm_pending(r->confirm_deadline.has_value());
    if (r->confirm_deadline) *resp->mutable_confirm_deadline() = to_timestamp(*r->confirm_deadline);
    resp->set_queue_backend(std::string(nft::to_string(r->kernel.queue_backend())));
    resp->mutable_kernel()->set_native_queue(r->kernel.native_queue);
    resp->mutable_kernel()->set_xt_nfqueue(r->kernel.xt_nfqueue);
    resp->mutable_kernel()->set_table_owner_flag(r->kernel.table_owner_flag);
    resp->set_fail_mode(r->fail_mode);
    resp->set_drift(r->drift);
    resp->set_drift_detail(r->drift_detail);
    resp->set_has_previous(r->has_previous);
    resp->set_agent_version(DNSGUARD_VERSION);
    if (r->last_apply_duration)
      *resp->mutable_last_apply_duration() =
          TimeUtil::NanosecondsToDuration(r->last_apply_duration->count());
    return grpc::Status::OK;
  });
}

grpc::Status Service::GetStats(grpc::ServerContext* ctx, const v1::GetStatsRequest* req,
                               v1::GetStatsResponse* resp) {
  return serve(ctx, "GetStats", Role::reader, *req, [&] {
    auto r = controller_.stats();
    if (!r) return to_status(r.errors());
    resp->set_generation(r->generation);
    for (const auto& c : r->counters) {
      auto* out = resp->add_counters();
      out->set_name(c.name);
      out->set_description(c.description);
      out->set_packets(c.packets);
      out->set_bytes(c.bytes);
    }
    for (const auto& c : r->inspector) {
      auto* out = resp->add_inspector();
      out->set_name(c.name);
      out->set_description(c.description);
      out->set_packets(c.value);
    }
    return grpc::Status::OK;
  });
}

grpc::Status Service::StreamEvents(grpc::ServerContext* ctx, const v1::StreamEventsRequest* req,
                                   grpc::ServerWriter<v1::Event>* writer) {
  return serve(ctx, "StreamEvents", Role::reader, *req, [&] {
    uint64_t last = 0;
    for (;;) {
      for (const auto& e : events_.since(last)) {
        last = e.sequence;
        if (!matches(*req, e)) continue;
        if (!writer->Write(to_proto(e))) return grpc::Status::OK;  // the client went away
      }
      if (!req->follow()) return grpc::Status::OK;
      // Wake up now and then to notice a cancelled client or a shutdown.
      bool open = true;
      while (open && !ctx->IsCancelled() && !shutting_down_) {
        open = events_.wait(last, std::chrono::milliseconds(500));
        if (!events_.since(last).empty()) break;
      }
      if (!open || ctx->IsCancelled() || shutting_down_) return grpc::Status::OK;
    }
  });
}

grpc::Status Service::Disable(grpc::ServerContext* ctx, const v1::DisableRequest* req,
                              v1::DisableResponse* resp) {
  return serve(ctx, "Disable", Role::admin, *req, [&] {
    auto r = controller_.disable();
    if (!r) return to_status(r.errors());
    resp->set_generation(r.value());
    return grpc::Status::OK;
  });
}

}  // namespace dnsguard::api
