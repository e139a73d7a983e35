// dnsguardctl: the command line of dnsguard. `validate` and `compile` work offline;
// every other verb talks to dnsguardd over its Unix socket, or with --agent to remote
// agents over TCP with mutual TLS (fleet.cpp).

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "api/policy_error.hpp"
#include "api/tls.hpp"
#include "compiler/compile.hpp"
#include "common.hpp"
#include "fleet.hpp"
#include "dnsguard/v1/agent.grpc.pb.h"
#include "inspect/engine.hpp"
#include "policy/policy.hpp"

namespace {

using namespace dnsguard;
namespace pb = google::protobuf;

// Exit statuses shared by every verb (docs/operations.md).
constexpr int kOk = 0;
constexpr int kPolicyOrRequestError = 1;
constexpr int kAgentUnreachable = 2;

constexpr std::string_view kDefaultSocket = "/run/dnsguard/dnsguard.sock";

constexpr std::string_view kUsage = R"TXT(usage: dnsguardctl [--socket PATH] [-o table|json] COMMAND [ARGS]

Offline (no agent needed):
  validate FILE         check a policy; print every error as file:line:col: key: message
  compile FILE          print the nft text the policy compiles to (nft -c -f - accepts it)

Talking to dnsguardd:
  plan FILE             show what applying FILE would change against the running policy
  apply FILE            validate, compile and commit FILE in one kernel transaction
                        [--dry-run] [--confirm-within 60s] [--expect-generation N]
  confirm               keep a policy applied with --confirm-within
  rollback              restore the previous policy
  status                policy, generation, pending confirmation, kernel backend, drift
  stats                 the rules' counters
  events [--follow]     recent events: bypass attempts, blocks, applies...
                        [--kind KIND] [--action ACTION] [--client ADDR] [--domain NAME]
  disable               remove dnsguard's rules (the agent keeps running)

Options:
  --socket PATH         the agent's socket (default /run/dnsguard/dnsguard.sock, or
                        $DNSGUARD_SOCKET)
  -o table|json         output: human tables (default) or JSON (protobuf JSON mapping)
  --version             print the version and exit

Many agents (TCP, TLS 1.3, client certificate): status, apply, confirm, rollback and
disable run on every agent concurrently, one row per agent and a summary; the exit
status is 1 if any agent failed. apply takes --canary N: the first N agents first, the
rest only if all of those succeeded.
  --agent HOST:PORT     an agent (repeatable)
  --agents-file FILE    agents, one HOST:PORT a line ('#' comments)
  --tls-cert FILE --tls-key FILE   this client's certificate and key (PEM)
  --ca FILE             the CA that signs the agents' certificates (PEM)
  --parallel N          agents at a time (default 32)
  --timeout DURATION    per agent (default 30s)

Run `dnsguardctl COMMAND --help` for one command.
Exit status: 0 success, 1 policy or request error, 2 agent unreachable.
)TXT";

const std::map<std::string_view, std::string_view> kVerbHelp = {
    {"validate", R"TXT(usage: dnsguardctl validate FILE

Parses and checks a policy on this machine, without an agent. Prints
"FILE: ok (policy NAME version N)" or every error found, each as
file:line:col: key: message. Exit status 0 or 1.
)TXT"},
    {"compile", R"TXT(usage: dnsguardctl compile FILE

Prints the nft text for a policy: one transaction that replaces table inet dnsguard and
touches no other table. `dnsguardctl compile FILE | nft -c -f -` checks it against the
running kernel. Exit status 0, or 1 with the policy's errors.
)TXT"},
    {"plan", R"TXT(usage: dnsguardctl plan FILE

Asks the agent what applying FILE would change: rules added (+) and removed (-), sets
added and removed, and set elements added and removed. Nothing is changed. The plan
names the generation it was made against; `apply --expect-generation N` refuses to
apply if another change landed in between.
)TXT"},
    {"apply", R"TXT(usage: dnsguardctl apply FILE [--dry-run] [--confirm-within DURATION]
                        [--expect-generation N]

Validates, compiles and commits FILE in one kernel transaction. On any error nothing
changes and every error is shown.
  --dry-run               show the plan, commit nothing
  --confirm-within 60s    unless `dnsguardctl confirm` arrives in time (s, m or h), the
                          agent restores the previous policy by itself, also across a
                          restart of the agent
  --expect-generation N   fail if the running generation is not N (from `plan`)
)TXT"},
    {"confirm", "usage: dnsguardctl confirm\n\nKeeps the policy applied with --confirm-within.\n"},
    {"rollback", "usage: dnsguardctl rollback\n\nRestores the previous policy (as a new generation).\n"},
    {"status", R"TXT(usage: dnsguardctl status

Shows the running policy (name, version, sha256), generation, when it was applied, a
pending confirmation, the kernel's queue backend, the inspector's fail mode and drift:
whether the live table differs from what the agent applied.
)TXT"},
    {"stats", "usage: dnsguardctl stats\n\nShows the packet and byte counters of the deny rules.\n"},
    {"events", R"TXT(usage: dnsguardctl events [--follow] [--kind KIND] [--action ACTION]
                          [--client ADDRESS] [--domain NAME]

Prints the agent's recent events; with --follow, keeps printing new ones until
interrupted. Kinds: bypass (a kernel rule denied DNS to a host that is not a designated
resolver: who, where, which rule), block, rate_limited and malformed (the inspector's
decisions), suppressed (how many traffic events sampling held back), and the agent's own
apply, rollback, confirm, confirm_timeout, disable, drift and start. --domain matches the
name and every name below it.
)TXT"},
    {"disable", "usage: dnsguardctl disable\n\nRemoves table inet dnsguard; the agent keeps running.\n"},
};

struct Global {
  std::string socket;
  bool json = false;
};

int usage(std::string_view verb, const std::string& problem) {
  std::cerr << "dnsguardctl " << verb << ": " << problem << "\n\n";
  auto it = kVerbHelp.find(verb);
  std::cerr << (it != kVerbHelp.end() ? it->second : kUsage);
  return kPolicyOrRequestError;
}

int print_errors(const Errors& errors) {
  for (const auto& e : errors) std::cerr << e.to_string() << '\n';
  std::cerr << errors.size() << (errors.size() == 1 ? " error\n" : " errors\n");
  return kPolicyOrRequestError;
}

std::string to_json(const pb::Message& m) {
  std::string out;
  pb::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)pb::util::MessageToJsonString(m, &out, options);
  return out;
}

std::string local_time(const pb::Timestamp& t) {
  const std::time_t secs = t.seconds();
  std::tm tm{};
  localtime_r(&secs, &tm);
  std::ostringstream s;
  s << std::put_time(&tm, "%Y-%m-%d %H:%M:%S %Z");
  return s.str();
}

// ---- talking to the agent ----

class Agent {
 public:
  explicit Agent(const Global& g) : g_(g) {
    stub_ = v1::DnsGuard::NewStub(cli::agent_channel("unix:" + g.socket, grpc::InsecureChannelCredentials()));
  }

  template <typename Request, typename Response, typename Call>
  int call(Call method, const Request& req, Response& resp,
           std::chrono::seconds timeout = std::chrono::seconds(120)) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    const grpc::Status status = ((*stub_).*method)(&ctx, req, &resp);
    return report(status);
  }

  v1::DnsGuard::Stub& stub() { return *stub_; }

  // Prints a failed call's problem and its fix; returns the exit status.
  int report(const grpc::Status& status) const {
    if (status.ok()) return kOk;
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
        status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      std::cerr << "dnsguardctl: cannot reach the agent at " << g_.socket << " ("
                << status.error_message() << ").\n"
                << "Is dnsguardd running? Start it with `systemctl start dnsguardd` (or run "
                   "`dnsguardd --socket "
                << g_.socket << "`),\nor point --socket (or $DNSGUARD_SOCKET) at the socket it serves.\n";
      return kAgentUnreachable;
    }
    v1::PolicyErrors details;
    if (!status.error_details().empty() && details.ParseFromString(status.error_details()) &&
        details.errors_size() > 0) {
      if (g_.json) {
        std::cout << to_json(details);
      } else {
        for (const auto& e : details.errors()) std::cerr << cli::to_error(e).to_string() << '\n';
      }
      if (status.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
        std::cerr << details.errors_size() << (details.errors_size() == 1 ? " error" : " errors")
                  << "; nothing was changed\n";
    } else {
      std::cerr << "dnsguardctl: " << status.error_message() << '\n';
    }
    if (status.error_code() == grpc::StatusCode::UNKNOWN) {
      std::cerr << "dnsguardctl: the agent cannot tell whether the kernel committed the change; "
                   "`dnsguardctl status` shows what is enforced now\n";
      return kAgentUnreachable;
    }
    return kPolicyOrRequestError;
  }

 private:
  const Global& g_;
  std::unique_ptr<v1::DnsGuard::Stub> stub_;
};

bool load_source(const std::string& path, v1::PolicySource* source) {
  if (auto problem = cli::load_source(path, *source)) {
    std::cerr << "dnsguardctl: " << *problem << '\n';
    return false;
  }
  return true;
}

void print_diff(const v1::PlanDiff& d) {
  if (d.unchanged()) {
    std::cout << "no changes\n";
    return;
  }
  for (const auto& r : d.rules_removed()) std::cout << "  - rule " << r << '\n';
  for (const auto& r : d.rules_added()) std::cout << "  + rule " << r << '\n';
  for (const auto& s : d.sets_removed()) std::cout << "  - set " << s << '\n';
  for (const auto& s : d.sets_added()) std::cout << "  + set " << s << '\n';
  for (const auto& c : d.set_changes()) {
    for (const auto& e : c.removed()) std::cout << "  - element " << c.set() << " " << e << '\n';
    for (const auto& e : c.added()) std::cout << "  + element " << c.set() << " " << e << '\n';
  }
  for (const auto& c : d.counters_removed()) std::cout << "  - counter " << c << '\n';
  for (const auto& c : d.counters_added()) std::cout << "  + counter " << c << '\n';
}

std::string describe(const v1::PolicyInfo& p) {
  return p.name() + " version " + std::to_string(p.version()) + " (sha256 " + p.sha256().substr(0, 12) + ")";
}

// ---- verbs ----

int validate(const Global& g, const std::vector<std::string>& args) {
  if (args.size() != 1) return usage("validate", "expected exactly one policy FILE");
  auto p = policy::load_policy_file(args[0]);
  const Status lists = p ? inspect::check_block_lists(p.value()) : ok_status();
  if (g.json) {  // the Validate RPC's response, offline
    v1::ValidateResponse out;
    const Errors* errors = !p ? &p.errors() : !lists ? &lists.errors() : nullptr;
    out.set_valid(errors == nullptr);
    if (errors) {
      for (const auto& e : *errors) api::to_proto(e, out.add_errors());
    } else {
      out.mutable_policy()->set_name(p->name);
      out.mutable_policy()->set_version(p->version);
      out.mutable_policy()->set_file_name(args[0]);
    }
    std::string json;
    pb::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;  // "valid": false too
    (void)pb::util::MessageToJsonString(out, &json, options);
    std::cout << json;
    return errors ? kPolicyOrRequestError : kOk;
  }
  if (!p) return print_errors(p.errors());
  if (!lists) return print_errors(lists.errors());
  std::cout << args[0] << ": ok (policy " << p->name << " version " << p->version << ")\n";
  return kOk;
}

int compile(const std::vector<std::string>& args) {
  if (args.size() != 1) return usage("compile", "expected exactly one policy FILE");
  auto p = policy::load_policy_file(args[0]);
  if (!p) return print_errors(p.errors());
  std::cout << ir::render_nft(compiler::compile(p.value()));
  return kOk;
}

int plan(Agent& agent, const Global& g, const std::vector<std::string>& args) {
  if (args.size() != 1) return usage("plan", "expected exactly one policy FILE");
  v1::PlanRequest req;
  if (!load_source(args[0], req.mutable_policy())) return kPolicyOrRequestError;
  v1::PlanResponse resp;
  if (int rc = agent.call(&v1::DnsGuard::Stub::Plan, req, resp); rc != kOk) return rc;
  if (g.json) {
    std::cout << to_json(resp);
    return kOk;
  }
  std::cout << "plan: " << describe(resp.policy()) << " against generation " << resp.base_generation() << '\n';
  print_diff(resp.diff());
  if (!resp.diff().unchanged())
    std::cout << "apply it with: dnsguardctl apply " << args[0] << " --expect-generation "
              << resp.base_generation() << '\n';
  return kOk;
}

int apply(Agent& agent, const Global& g, const std::vector<std::string>& args) {
  v1::ApplyRequest req;
  std::string file;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--dry-run") {
      req.set_dry_run(true);
    } else if (args[i] == "--confirm-within" && i + 1 < args.size()) {
      auto d = cli::parse_duration(args[++i]);
      if (!d || *d == 0) return usage("apply", "--confirm-within takes a duration such as 60s, 5m or 1h, at most a week");
      req.set_confirm_within_seconds(*d);
    } else if (args[i] == "--expect-generation" && i + 1 < args.size()) {
      auto n = cli::parse_number<uint64_t>(args[++i]);
      if (!n) return usage("apply", "--expect-generation takes a number");
      req.set_expected_generation(*n);
    } else if (file.empty() && !args[i].starts_with("--")) {
      file = args[i];
    } else {
      return usage("apply", "unexpected argument " + args[i]);
    }
  }
  if (file.empty()) return usage("apply", "expected a policy FILE");
  if (!load_source(file, req.mutable_policy())) return kPolicyOrRequestError;
  v1::ApplyResponse resp;
  if (int rc = agent.call(&v1::DnsGuard::Stub::Apply, req, resp); rc != kOk) return rc;
  if (g.json) {
    std::cout << to_json(resp);
    return kOk;
  }
  if (!resp.committed()) {
    std::cout << "dry run: " << describe(resp.policy()) << " would change generation "
              << resp.generation() << " like this (nothing was changed):\n";
    print_diff(resp.diff());
    return kOk;
  }
  std::cout << "applied " << describe(resp.policy()) << " as generation " << resp.generation() << " ("
            << resp.netlink_messages() << " netlink messages, " << resp.set_elements()
            << " set elements, one transaction)\n";
  print_diff(resp.diff());
  if (resp.has_confirm_deadline())
    std::cout << "waiting for confirmation until " << local_time(resp.confirm_deadline())
              << ": run `dnsguardctl confirm`, or the agent restores the previous policy by itself\n";
  return kOk;
}

template <typename Request, typename Response, typename Method>
int simple(Agent& agent, const Global& g, std::string_view verb, const std::vector<std::string>& args,
           Method method, void (*print)(const Response&)) {
  if (!args.empty()) return usage(verb, "takes no arguments");
  Request req;
  Response resp;
  if (int rc = agent.call(method, req, resp); rc != kOk) return rc;
  if (g.json)
    std::cout << to_json(resp);
  else
    print(resp);
  return kOk;
}

void print_status(const v1::GetStatusResponse& s) {
  auto row = [](std::string_view k, const std::string& v) {
    std::cout << std::left << std::setw(22) << k << v << '\n';
  };
  row("enforcing", s.enforcing() ? "yes" : "no");
  if (s.has_policy()) {
    row("policy", s.policy().name() + " version " + std::to_string(s.policy().version()));
    row("policy sha256", s.policy().sha256());
    row("policy file", s.policy().file_name());
  }
  row("generation", std::to_string(s.generation()));
  if (s.has_applied_at()) row("applied at", local_time(s.applied_at()));
  if (s.has_last_apply_duration()) {
    const double ms = static_cast<double>(s.last_apply_duration().seconds()) * 1e3 +
                      static_cast<double>(s.last_apply_duration().nanos()) / 1e6;
    std::ostringstream text;
    text << std::fixed << std::setprecision(1) << ms << " ms";
    row("last apply took", text.str());
  }
  row("pending confirmation", s.confirm_pending() ? "until " + local_time(s.confirm_deadline()) : "none");
  row("rollback available", s.has_previous() ? "yes" : "no");
  row("queue backend", s.queue_backend());
  row("inspector fail mode", s.fail_mode().empty() ? "-" : s.fail_mode());
  row("drift", s.drift() ? "YES: " + s.drift_detail() : "none");
  row("agent version", s.agent_version());
}

void print_stats(const v1::GetStatsResponse& s) {
  std::cout << "generation " << s.generation() << '\n';
  std::cout << std::left << std::setw(24) << "COUNTER" << std::right << std::setw(12) << "PACKETS"
            << std::setw(14) << "BYTES" << "  DESCRIPTION\n";
  for (const auto& c : s.counters())
    std::cout << std::left << std::setw(24) << c.name() << std::right << std::setw(12) << c.packets()
              << std::setw(14) << c.bytes() << "  " << c.description() << '\n';
  if (s.inspector_size() == 0) return;
  std::cout << '\n' << std::left << std::setw(36) << "INSPECTOR" << std::right << std::setw(12) << "COUNT"
            << "  DESCRIPTION\n";
  for (const auto& c : s.inspector())
    std::cout << std::left << std::setw(36) << c.name() << std::right << std::setw(12) << c.packets() << "  "
              << c.description() << '\n';
}

int events(Agent& agent, const Global& g, const std::vector<std::string>& args) {
  v1::StreamEventsRequest req;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--follow" || args[i] == "-f")
      req.set_follow(true);
    else if (args[i] == "--kind" && i + 1 < args.size())
      req.set_kind(args[++i]);
    else if (args[i] == "--action" && i + 1 < args.size())
      req.set_action(args[++i]);
    else if (args[i] == "--client" && i + 1 < args.size())
      req.set_client(args[++i]);
    else if (args[i] == "--domain" && i + 1 < args.size())
      req.set_domain(args[++i]);
    else
      return usage("events", "unexpected argument " + args[i]);
  }
  grpc::ClientContext ctx;
  if (!req.follow()) ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  auto reader = agent.stub().StreamEvents(&ctx, req);
  v1::Event e;
  while (reader->Read(&e)) {
    if (g.json) {
      std::string line;
      pb::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      (void)pb::util::MessageToJsonString(e, &line, options);
      std::cout << line << std::endl;
    } else {
      std::cout << local_time(e.time()) << "  " << std::left << std::setw(16) << e.kind() << " gen "
                << e.generation() << "  " << e.message() << std::endl;
    }
  }
  return agent.report(reader->Finish());
}

}  // namespace

int main(int argc, char** argv) {
  Global g;
  const char* env_socket = std::getenv("DNSGUARD_SOCKET");
  g.socket = env_socket && *env_socket ? env_socket : std::string(kDefaultSocket);
  std::vector<std::string> args(argv + 1, argv + argc);

  // Global options come before the verb.
  cli::FleetOptions fleet;
  bool remote = false;
  size_t i = 0;
  for (; i < args.size() && args[i].starts_with("-"); ++i) {
    const bool has_value = i + 1 < args.size();
    if (args[i] == "--help" || args[i] == "-h") {
      std::cout << kUsage;
      return kOk;
    } else if (args[i] == "--version") {
      std::cout << "dnsguardctl " DNSGUARD_VERSION "\n";
      return kOk;
    } else if (args[i] == "--socket" && has_value) {
      g.socket = args[++i];
    } else if (args[i] == "--agent" && has_value) {
      fleet.agents.push_back(args[++i]);
      remote = true;
    } else if (args[i] == "--agents-file" && has_value) {
      if (!cli::read_agents_file(args[++i], fleet.agents)) return kPolicyOrRequestError;
      remote = true;
    } else if (args[i] == "--tls-cert" && has_value) {
      fleet.certificate = args[++i];
    } else if (args[i] == "--tls-key" && has_value) {
      fleet.key = args[++i];
    } else if (args[i] == "--ca" && has_value) {
      fleet.ca = args[++i];
    } else if (args[i] == "--parallel" && has_value) {
      auto n = cli::parse_number<size_t>(args[++i]);
      if (!n || *n == 0) return usage("", "--parallel takes a number of agents");
      fleet.parallel = *n;
    } else if (args[i] == "--timeout" && has_value) {
      auto d = cli::parse_duration(args[++i]);
      if (!d || *d == 0) return usage("", "--timeout takes a duration such as 30s or 2m, at most a week");
      fleet.timeout = std::chrono::seconds(*d);
    } else if (args[i] == "-o" && i + 1 < args.size()) {
      const std::string& format = args[++i];
      if (format != "json" && format != "table") return usage("", "-o takes table or json");
      g.json = format == "json";
    } else {
      std::cerr << "dnsguardctl: unknown option " << args[i] << "\n\n" << kUsage;
      return kPolicyOrRequestError;
    }
  }
  if (i == args.size()) {
    std::cerr << kUsage;
    return kPolicyOrRequestError;
  }
  const std::string verb = args[i];
  std::vector<std::string> rest(args.begin() + static_cast<long>(i) + 1, args.end());
  if (verb == "help") {
    std::cout << kUsage;
    return kOk;
  }
  if (kVerbHelp.count(verb) == 0) {
    std::cerr << "dnsguardctl: unknown command \"" << verb << "\"\n\n" << kUsage;
    return kPolicyOrRequestError;
  }
  for (const auto& a : rest)
    if (a == "--help" || a == "-h") {
      std::cout << kVerbHelp.at(verb);
      return kOk;
    }

  if (verb == "validate") return validate(g, rest);
  if (verb == "compile") return compile(rest);
  if (remote) {
    fleet.json = g.json;
    api::require_tls13();  // before any gRPC object exists
    return cli::run_fleet(fleet, verb, rest);
  }

  Agent agent(g);
  if (verb == "plan") return plan(agent, g, rest);
  if (verb == "apply") return apply(agent, g, rest);
  if (verb == "events") return events(agent, g, rest);
  if (verb == "status")
    return simple<v1::GetStatusRequest, v1::GetStatusResponse>(agent, g, verb, rest,
                                                               &v1::DnsGuard::Stub::GetStatus, print_status);
  if (verb == "stats")
    return simple<v1::GetStatsRequest, v1::GetStatsResponse>(agent, g, verb, rest,
                                                             &v1::DnsGuard::Stub::GetStats, print_stats);
  if (verb == "confirm")
    return simple<v1::ConfirmRequest, v1::ConfirmResponse>(
        agent, g, verb, rest, &v1::DnsGuard::Stub::Confirm, +[](const v1::ConfirmResponse& r) {
          std::cout << "generation " << r.generation() << " confirmed; it stays\n";
        });
  if (verb == "rollback")
    return simple<v1::RollbackRequest, v1::RollbackResponse>(
        agent, g, verb, rest, &v1::DnsGuard::Stub::Rollback, +[](const v1::RollbackResponse& r) {
          if (r.has_policy())
            std::cout << "restored " << describe(r.policy()) << " as generation " << r.generation() << '\n';
          else
            std::cout << "no previous policy: rules removed, generation " << r.generation() << '\n';
        });
  if (verb == "disable")
    return simple<v1::DisableRequest, v1::DisableResponse>(
        agent, g, verb, rest, &v1::DnsGuard::Stub::Disable, +[](const v1::DisableResponse& r) {
          std::cout << "rules removed (generation " << r.generation() << "); the agent keeps running\n";
        });
  return kPolicyOrRequestError;
}
