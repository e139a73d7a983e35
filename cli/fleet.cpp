#include "fleet.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

#include "api/tls.hpp"
#include "common.hpp"
#include "dnsguard/v1/agent.grpc.pb.h"

namespace dnsguard::cli {
namespace {

namespace v1 = dnsguard::v1;

// One agent's outcome: what the fleet table and the JSON lines show.
struct Row {
  std::string agent;
  std::string result = "skipped";  // ok | failed | skipped
  std::string policy;
  int64_t version = 0;
  std::string sha256;
  uint64_t generation = 0;
  std::string error;
};

// What a verb sends to one agent.
using Call = std::function<grpc::Status(v1::DnsGuard::Stub&, grpc::ClientContext&, Row&)>;

std::string json_escape(const std::string& s) {
  std::string out;
  for (const unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

void fill_policy(Row& row, const v1::PolicyInfo& p) {
  row.policy = p.name();
  row.version = p.version();
  row.sha256 = p.sha256();
}

std::string explain(const grpc::Status& status) {
  std::string message = status.error_message();
  v1::PolicyErrors details;
  if (!status.error_details().empty() && details.ParseFromString(status.error_details()) && details.errors_size() > 0) {
    message = to_error(details.errors(0)).to_string() +
              (details.errors_size() > 1 ? " (and " + std::to_string(details.errors_size() - 1) + " more)" : "");
  }
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE: return "unreachable: " + message;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "timed out";
    case grpc::StatusCode::PERMISSION_DENIED: return "permission denied: " + message;
    default: return message;
  }
}

// Runs `call` on each of `rows` (by index), at most `parallel` at a time.
void run_all(const FleetOptions& options, const std::shared_ptr<grpc::ChannelCredentials>& credentials,
             std::vector<Row>& rows, const std::vector<size_t>& which, const Call& call) {
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < which.size(); i = next++) {
      Row& row = rows[which[i]];
      auto stub = v1::DnsGuard::NewStub(agent_channel(row.agent, credentials));
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + options.timeout);
      const grpc::Status status = call(*stub, ctx, row);
      row.result = status.ok() ? "ok" : "failed";
      if (!status.ok()) row.error = explain(status);
    }
  };
  std::vector<std::thread> threads;
  const size_t n = std::min(std::max<size_t>(options.parallel, 1), which.size());
  for (size_t t = 0; t < n; ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
}

void print(const FleetOptions& options, const std::vector<Row>& rows, const std::string& verb) {
  if (options.json) {
    for (const auto& r : rows)
      std::cout << "{\"agent\":\"" << json_escape(r.agent) << "\",\"result\":\"" << r.result << "\",\"policy\":\""
                << json_escape(r.policy) << "\",\"version\":" << r.version << ",\"sha256\":\"" << r.sha256
                << "\",\"generation\":" << r.generation << ",\"error\":\"" << json_escape(r.error) << "\"}\n";
    return;
  }
  size_t width = 5;
  for (const auto& r : rows) width = std::max(width, r.agent.size());
  std::cout << std::left << std::setw(static_cast<int>(width) + 2) << "AGENT" << std::setw(9) << "RESULT"
            << std::setw(24) << "POLICY" << std::setw(14) << "SHA256" << std::setw(12) << "GENERATION"
            << "ERROR\n";
  for (const auto& r : rows) {
    const std::string policy = r.policy.empty() ? "-" : r.policy + " v" + std::to_string(r.version);
    std::cout << std::left << std::setw(static_cast<int>(width) + 2) << r.agent << std::setw(9) << r.result
              << std::setw(24) << policy << std::setw(14) << (r.sha256.empty() ? "-" : r.sha256.substr(0, 12))
              << std::setw(12) << (r.result == "ok" || r.generation ? std::to_string(r.generation) : "-")
              << r.error << '\n';
  }
  std::map<std::string, size_t> by_result;
  for (const auto& r : rows) ++by_result[r.result];
  std::cout << '\n' << verb << " on " << rows.size() << (rows.size() == 1 ? " agent: " : " agents: ");
  bool first = true;
  for (const auto& [result, n] : by_result) {
    std::cout << (first ? "" : ", ") << n << ' ' << result;
    first = false;
  }
  std::cout << '\n';
  // Which agents run which policy: drift across the fleet at a glance.
  std::map<std::string, size_t> by_policy;
  for (const auto& r : rows)
    if (r.result == "ok") ++by_policy[r.policy.empty() ? "no policy" : r.policy + " v" + std::to_string(r.version) + " " + r.sha256.substr(0, 12)];
  if (by_policy.size() > 1) std::cout << "agents disagree: " << by_policy.size() << " different policies\n";
  for (const auto& [policy, n] : by_policy) std::cout << "  " << policy << ": " << n << (n == 1 ? " agent\n" : " agents\n");
}

int fail(const std::string& message) {
  std::cerr << "dnsguardctl: " << message << '\n';
  return 1;
}

}  // namespace

bool read_agents_file(const std::string& path, std::vector<std::string>& into) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "dnsguardctl: cannot read the agents file " << path << ": " << std::strerror(errno) << '\n';
    return false;
  }
  std::string line;
  while (std::getline(in, line)) {
    if (const auto hash = line.find('#'); hash != std::string::npos) line.resize(hash);
    const auto start = line.find_first_not_of(" \t\r");
    if (start == std::string::npos) continue;
    const auto end = line.find_last_not_of(" \t\r");
    into.push_back(line.substr(start, end - start + 1));
  }
  return true;
}

int run_fleet(const FleetOptions& options, const std::string& verb, const std::vector<std::string>& args) {
  if (options.agents.empty()) return fail("no agents given (--agent HOST:PORT or --agents-file FILE)");
  if (options.ca.empty()) return fail("remote agents need --ca (and --tls-cert/--tls-key): there is no plaintext mode");
  auto tls = api::load_tls({options.certificate, options.key, options.ca}, false);
  if (!tls) {
    for (const auto& e : tls.errors()) std::cerr << "dnsguardctl: " << e.to_string() << '\n';
    return 1;
  }
  const auto credentials = api::channel_credentials(tls.value());

  std::vector<Row> rows(options.agents.size());
  for (size_t i = 0; i < rows.size(); ++i) rows[i].agent = options.agents[i];
  std::vector<size_t> all(rows.size());
  for (size_t i = 0; i < all.size(); ++i) all[i] = i;

  if (verb == "status") {
    if (!args.empty()) return fail("status takes no arguments");
    run_all(options, credentials, rows, all, [](v1::DnsGuard::Stub& stub, grpc::ClientContext& ctx, Row& row) {
      v1::GetStatusResponse resp;
      auto s = stub.GetStatus(&ctx, {}, &resp);
      if (s.ok()) {
        if (resp.has_policy()) fill_policy(row, resp.policy());
        row.generation = resp.generation();
        if (resp.drift()) row.error = "drift: " + resp.drift_detail();
      }
      return s;
    });
  } else if (verb == "apply") {
    v1::ApplyRequest req;
    std::string file;
    size_t canary = 0;
    for (size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--dry-run") {
        req.set_dry_run(true);
      } else if (args[i] == "--confirm-within" && i + 1 < args.size()) {
        auto d = parse_duration(args[++i]);
        if (!d || *d == 0) return fail("--confirm-within takes a duration such as 60s, 5m or 1h, at most a week");
        req.set_confirm_within_seconds(*d);
      } else if (args[i] == "--canary" && i + 1 < args.size()) {
        auto n = parse_number<size_t>(args[++i]);
        if (!n || *n == 0) return fail("--canary takes a number of agents");
        canary = *n;
      } else if (file.empty() && !args[i].starts_with("--")) {
        file = args[i];
      } else {
        return fail("apply: unexpected argument " + args[i]);
      }
    }
    if (file.empty()) return fail("apply: expected a policy FILE");
    if (auto problem = load_source(file, *req.mutable_policy())) return fail(*problem);
    const Call call = [&req](v1::DnsGuard::Stub& stub, grpc::ClientContext& ctx, Row& row) {
      v1::ApplyResponse resp;
      auto s = stub.Apply(&ctx, req, &resp);
      if (s.ok()) {
        fill_policy(row, resp.policy());
        row.generation = resp.generation();
        if (!resp.committed()) row.error = "dry run: nothing changed";
        else if (resp.has_confirm_deadline()) row.error = "waiting for confirmation";
      }
      return s;
    };
    // Canary wave first; the rest only when every canary agent succeeded.
    const size_t first_wave = canary ? std::min(canary, rows.size()) : rows.size();
    std::vector<size_t> wave(all.begin(), all.begin() + static_cast<long>(first_wave));
    run_all(options, credentials, rows, wave, call);
    const bool canary_ok = std::all_of(wave.begin(), wave.end(), [&](size_t i) { return rows[i].result == "ok"; });
    if (first_wave < rows.size()) {
      if (canary_ok) {
        std::vector<size_t> rest(all.begin() + static_cast<long>(first_wave), all.end());
        run_all(options, credentials, rows, rest, call);
      } else {
        for (size_t i = first_wave; i < rows.size(); ++i) rows[i].error = "not attempted: the canary wave failed";
      }
    }
  } else if (verb == "confirm" || verb == "rollback" || verb == "disable") {
    if (!args.empty()) return fail(verb + " takes no arguments");
    run_all(options, credentials, rows, all, [&verb](v1::DnsGuard::Stub& stub, grpc::ClientContext& ctx, Row& row) {
      if (verb == "confirm") {
        v1::ConfirmResponse resp;
        auto s = stub.Confirm(&ctx, {}, &resp);
        row.generation = resp.generation();
        return s;
      }
      if (verb == "rollback") {
        v1::RollbackResponse resp;
        auto s = stub.Rollback(&ctx, {}, &resp);
        if (resp.has_policy()) fill_policy(row, resp.policy());
        row.generation = resp.generation();
        return s;
      }
      v1::DisableResponse resp;
      auto s = stub.Disable(&ctx, {}, &resp);
      row.generation = resp.generation();
      return s;
    });
  } else {
    return fail(verb + " is not available across agents (status, apply, confirm, rollback, disable are)");
  }
  print(options, rows, verb);
  return std::all_of(rows.begin(), rows.end(), [](const Row& r) { return r.result == "ok"; }) ? 0 : 1;
}

}  // namespace dnsguard::cli
