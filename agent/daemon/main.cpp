// dnsguardd: the dnsguard agent. Re-applies the saved policy, then serves the API on a
// Unix socket (and, with --listen, over TCP with mutual TLS) until SIGTERM; the rules
// stay in place when it stops.

#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>

#include "api/service.hpp"
#include "api/tls.hpp"
#include "common/sha256.hpp"
#include "control/controller.hpp"
#include "nfqueue/inspector.hpp"
#include "nflog/nflog.hpp"
#include "daemon/metrics_server.hpp"
#include "telemetry/metrics.hpp"
#include <google/protobuf/util/json_util.h>
#include "nft/backend.hpp"
#include "policy/policy.hpp"

namespace {

using namespace dnsguard;

constexpr std::string_view kUsage = R"TXT(usage: dnsguardd [OPTIONS]

The dnsguard agent: owns table inet dnsguard, re-applies the saved policy at start-up
and serves the dnsguard API on a Unix socket. SIGTERM stops it and leaves the rules in
place; `dnsguardctl disable` removes them.

  --socket PATH         API socket (default /run/dnsguard/dnsguard.sock, mode 0660)
  --state-dir DIR       where the current and previous policy are kept
                        (default /var/lib/dnsguard)
  --policy FILE         apply FILE at start-up when it differs from the saved policy
  --check-policy FILE   validate FILE and exit (0 valid, 1 invalid): for ExecStartPre
  --version             print the version and exit

Remote API for fleet managers (TLS 1.3, a client certificate is required; there is no
plaintext TCP mode):
  --listen HOST:PORT    also serve the API over TCP, e.g. 0.0.0.0:7853 or [::]:7853
  --tls-cert FILE       the agent's certificate (PEM)
  --tls-key FILE        its private key (PEM)
  --client-ca FILE      the CA that signs client certificates (PEM)
  --admin-identity NAME a client certificate CN or SAN that may change policy
                        (repeatable); other valid clients may only read status, stats
                        and events
  SIGHUP re-reads the three files and restarts the TCP listener with them; the rules
  and the Unix socket are not touched, and bad files keep the old ones in use.

  --help                this text
)TXT";

struct Options {
  std::string socket = "/run/dnsguard/dnsguard.sock";
  std::string state_dir = "/var/lib/dnsguard";
  std::string policy;
  std::string check_policy;
  std::string listen;
  api::TlsFiles tls;
  api::AccessPolicy access;
};

int usage_error(const std::string& message) {
  std::cerr << "dnsguardd: " << message << "\n\n" << kUsage;
  return 1;
}

void log(const std::string& line) { std::cerr << "dnsguardd: " << line << std::endl; }

std::string errno_text() { return std::strerror(errno); }

// Creates the socket's directory (0755) or checks that an existing one is safe, and
// clears a stale socket left by a crashed agent. A live agent's socket is not stolen.
Status prepare_socket(const std::string& path) {
  const std::filesystem::path dir = std::filesystem::path(path).parent_path();
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error("cannot create " + dir.string() + ": " + ec.message());
    ::chmod(dir.c_str(), 0755);
  } else if (!S_ISDIR(st.st_mode)) {
    return make_error(dir.string() + " is not a directory");
  } else if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
    return make_error(dir.string() + " is writable by anyone; refusing to put the API socket there");
  }

  if (::lstat(path.c_str(), &st) != 0) return ok_status();
  if (!S_ISSOCK(st.st_mode)) return make_error(path + " exists and is not a socket; refusing to replace it");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return make_error("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  const int err = errno;
  ::close(fd);
  if (rc == 0) return make_error("another dnsguardd is already serving " + path);
  if (err != ECONNREFUSED) return make_error("cannot check " + path + ": " + std::strerror(err));
  log("removing stale socket " + path + " left by an agent that is gone");
  ::unlink(path.c_str());
  return ok_status();
}

// What /metrics shows: the same counters as `dnsguardctl stats`, and the agent's state.
std::string render_metrics(control::Controller& controller, const telemetry::EventLog& events) {
  std::vector<telemetry::Sample> samples;
  auto status = controller.status();
  if (status) {
    samples.push_back({"dnsguard_policy_generation", "", "gauge", "Generation of the policy in force", {},
                       static_cast<double>(status->generation)});
    samples.push_back({"dnsguard_enforcing", "", "gauge", "1 when a policy is enforced", {},
                       status->enforcing ? 1.0 : 0.0});
    samples.push_back({"dnsguard_drift", "", "gauge", "1 when the live table differs from what the agent applied",
                       {}, status->drift ? 1.0 : 0.0});
    if (status->last_apply_duration)
      samples.push_back({"dnsguard_policy_apply_duration_seconds", "", "gauge",
                         "How long the last apply or rollback took: load, compile, lists, kernel commit", {},
                         std::chrono::duration<double>(*status->last_apply_duration).count()});
    samples.push_back({"dnsguard_policy_applies_total", "", "counter",
                       "Applies and rollbacks committed since the agent started", {},
                       static_cast<double>(status->applies)});
    if (status->applied_at)
      samples.push_back({"dnsguard_policy_applied_timestamp_seconds", "", "gauge", "When the policy was applied", {},
                         static_cast<double>(std::chrono::duration_cast<std::chrono::seconds>(
                                                 status->applied_at->time_since_epoch()).count())});
  }
  if (auto stats = controller.stats()) {
    for (const auto& c : stats->counters) {
      samples.push_back({"dnsguard_rule_packets_total", "", "counter", "Packets that hit a deny rule's counter",
                         {{"counter", c.name}}, static_cast<double>(c.packets)});
    }
    for (const auto& c : stats->counters) {
      samples.push_back({"dnsguard_rule_bytes_total", "", "counter", "Bytes that hit a deny rule's counter",
                         {{"counter", c.name}}, static_cast<double>(c.bytes)});
    }
    for (const auto& c : stats->inspector)
      samples.push_back({c.metric, c.suffix, c.type, c.description, c.labels,
                         c.metric_value.value_or(static_cast<double>(c.value))});
  }
  samples.push_back({"dnsguard_events_dropped_total", "", "counter", "Events pushed out of the full event ring", {},
                     static_cast<double>(events.dropped())});
  samples.push_back({"dnsguard_events_suppressed_total", "", "counter", "Traffic events held back by sampling", {},
                     static_cast<double>(events.suppressed())});
  return telemetry::render_prometheus(samples);
}

int check_policy(const std::string& path) {
  auto p = policy::load_policy_file(path);
  if (!p) {
    std::cerr << join_errors(p.errors());
    return 1;
  }
  if (auto lists = inspect::check_block_lists(p.value()); !lists) {
    std::cerr << join_errors(lists.errors());
    return 1;
  }
  std::cout << path << ": ok (policy " << p->name << " version " << p->version << ")\n";
  return 0;
}

// Applies --policy FILE at start-up unless it is what already runs.
Status apply_startup_policy(control::Controller& controller, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read --policy " + path + ": " + errno_text());
  std::ostringstream text;
  text << in.rdbuf();
  auto status = controller.status();
  if (status && status->enforcing && status->policy && status->policy->sha256 == sha256_hex(text.str()))
    return ok_status();
  auto applied = controller.apply({text.str(), path}, {});
  if (!applied) return applied.errors();
  log("applied " + path + " at start-up, generation " + std::to_string(applied->generation));
  return ok_status();
}

}  // namespace

// The TCP listener with mutual TLS.
Result<std::unique_ptr<grpc::Server>> start_tcp_server(api::Service& service, const Options& opt,
                                                       const api::TlsMaterial& tls) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(opt.listen, api::server_credentials(tls), &port);
  builder.SetMaxReceiveMessageSize(api::kMaxMessageBytes);
  builder.SetMaxSendMessageSize(api::kMaxMessageBytes);
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return make_error("cannot listen on " + opt.listen);
  log("serving on " + opt.listen + " (TLS 1.3, client certificates required; admin identities: " +
      std::to_string(opt.access.admin_identities.size()) + ")");
  return server;
}

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string& into) {
      if (i + 1 >= argc) return false;
      into = argv[++i];
      return true;
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (arg == "--version") {
      std::cout << "dnsguardd " DNSGUARD_VERSION "\n";
      return 0;
    } else if (arg == "--socket") {
      if (!value(opt.socket)) return usage_error("--socket needs a PATH");
    } else if (arg == "--state-dir") {
      if (!value(opt.state_dir)) return usage_error("--state-dir needs a DIR");
    } else if (arg == "--policy") {
      if (!value(opt.policy)) return usage_error("--policy needs a FILE");
    } else if (arg == "--check-policy") {
      if (!value(opt.check_policy)) return usage_error("--check-policy needs a FILE");
    } else if (arg == "--listen") {
      if (!value(opt.listen)) return usage_error("--listen needs HOST:PORT");
    } else if (arg == "--tls-cert") {
      if (!value(opt.tls.certificate)) return usage_error("--tls-cert needs a FILE");
    } else if (arg == "--tls-key") {
      if (!value(opt.tls.key)) return usage_error("--tls-key needs a FILE");
    } else if (arg == "--client-ca") {
      if (!value(opt.tls.ca)) return usage_error("--client-ca needs a FILE");
    } else if (arg == "--admin-identity") {
      std::string name;
      if (!value(name) || name.empty()) return usage_error("--admin-identity needs a NAME");
      opt.access.admin_identities.push_back(name);
    } else {
      return usage_error("unknown option " + std::string(arg));
    }
  }
  if (!opt.check_policy.empty()) return check_policy(opt.check_policy);
  const bool any_tls = !opt.tls.certificate.empty() || !opt.tls.key.empty() || !opt.tls.ca.empty();
  if (opt.listen.empty() && (any_tls || !opt.access.admin_identities.empty()))
    return usage_error("--tls-cert, --tls-key, --client-ca and --admin-identity go with --listen");
  if (!opt.listen.empty() && (opt.tls.certificate.empty() || opt.tls.key.empty() || opt.tls.ca.empty()))
    return usage_error("--listen needs --tls-cert, --tls-key and --client-ca: there is no plaintext TCP mode");
  // Certificates are checked before anything is applied or served.
  std::optional<api::TlsMaterial> tls;
  if (!opt.listen.empty()) {
    auto loaded = api::load_tls(opt.tls);
    if (!loaded) {
      log(join_errors(loaded.errors()));
      return 1;
    }
    tls = std::move(loaded).value();
    api::require_tls13();  // before any gRPC object exists
    opt.access.remote = true;
  }

  ::umask(077);  // state files are the agent's alone
  // Signals are taken synchronously by the main thread; every other thread blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  nft::NetlinkBackend kernel;
  telemetry::EventLog events;
  nfqueue::InspectorOptions inspector_options;
  inspector_options.events = &events;
  nfqueue::Inspector inspector(inspector_options);
  control::ControllerOptions controller_options;
  controller_options.inspector = &inspector;
  control::Controller controller(kernel, control::StateStore(opt.state_dir), events, controller_options);

  // The agent's own events go to stderr as text; with [telemetry] events = "stdout"
  // every event also goes to stdout as one JSON object per line (journald keeps both).
  std::thread event_printer([&events, &controller] {
    uint64_t last = 0;
    google::protobuf::util::JsonPrintOptions json;
    json.preserve_proto_field_names = true;
    do {
      const bool as_json = controller.events_to_stdout();
      for (const auto& e : events.since(last)) {
        last = e.sequence;
        const bool traffic = !e.client.empty() || !e.destination.empty() || e.kind == "suppressed";
        if (!traffic) log("event " + e.kind + " generation " + std::to_string(e.generation) + ": " + e.message);
        if (as_json) {
          std::string line;
          if (google::protobuf::util::MessageToJsonString(api::to_proto(e), &line, json).ok())
            std::cout << line << '\n';
        }
      }
      std::cout.flush();
    } while (events.wait(last, std::chrono::seconds(1)));
  });
  auto stop_printer = [&] {
    events.close();
    event_printer.join();
  };

  if (auto s = controller.start(); !s) {
    log("cannot start:\n" + join_errors(s.errors()));
    stop_printer();
    return 1;
  }
  // Denied attempts logged by the kernel rules become "bypass" events.
  nflog::DeniedAttemptLog denied(events, ir::kLogGroup);
  if (auto s = denied.start(); !s) log("denied attempts will not be reported: " + join_errors(s.errors()));
  if (!opt.policy.empty()) {
    if (auto s = apply_startup_policy(controller, opt.policy); !s) {
      log("--policy " + opt.policy + " was not applied:\n" + join_errors(s.errors()));
      stop_printer();
      return 1;
    }
  }
  if (auto s = prepare_socket(opt.socket); !s) {
    log(join_errors(s.errors()));
    stop_printer();
    return 1;
  }

  api::Service service(controller, events);  // the Unix socket: trusted
  api::Service remote_service(controller, events, opt.access);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + opt.socket, grpc::InsecureServerCredentials());
  builder.SetMaxReceiveMessageSize(api::kMaxMessageBytes);
  builder.SetMaxSendMessageSize(api::kMaxMessageBytes);
  builder.RegisterService(&service);
  ::umask(0117);  // the socket is created 0660
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(077);
  if (!server) {
    log("cannot listen on " + opt.socket);
    stop_printer();
    return 1;
  }
  ::chmod(opt.socket.c_str(), 0660);
  log("serving on " + opt.socket);
  std::unique_ptr<grpc::Server> tcp_server;
  if (!opt.listen.empty()) {
    auto started = start_tcp_server(remote_service, opt, *tls);
    if (!started) {
      log(join_errors(started.errors()));
      service.shutdown();
      remote_service.shutdown();
      server->Shutdown(std::chrono::system_clock::now());
      ::unlink(opt.socket.c_str());
      inspector.stop();
      denied.stop();
      stop_printer();
      return 1;
    }
    tcp_server = std::move(started).value();
  }

  uint64_t watchdog_usec = 0;
  const bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
  sd_notify(0, "READY=1\nSTATUS=serving");

  // Wake at least every second: the metrics endpoint follows the running policy.
  const auto tick = std::min<std::chrono::microseconds>(
      watchdog ? std::chrono::microseconds(watchdog_usec / 2) : std::chrono::seconds(1), std::chrono::seconds(1));
  daemon::MetricsServer metrics;
  std::string metrics_failed;  // an address that would not serve, so it is not retried every second
  const timespec timeout{static_cast<time_t>(tick.count() / 1'000'000),
                         static_cast<long>((tick.count() % 1'000'000) * 1000)};
  for (;;) {
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT) break;
    if (sig == SIGHUP) {
      if (!tcp_server) {
        log("SIGHUP: nothing to reload (no --listen)");
      } else if (auto reloaded = api::load_tls(opt.tls); !reloaded) {
        log("SIGHUP: certificates not reloaded, the old ones stay in use:\n" + join_errors(reloaded.errors()));
      } else if (auto fresh = start_tcp_server(remote_service, opt, reloaded.value()); !fresh) {
        log("SIGHUP: certificates not reloaded, the old ones stay in use:\n" + join_errors(fresh.errors()));
      } else {
        // The new listener shares the port (SO_REUSEPORT) before the old one goes.
        tcp_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
        tcp_server = std::move(fresh).value();
        log("SIGHUP: certificates reloaded");
      }
    }
    if (watchdog) sd_notify(0, "WATCHDOG=1");
    const std::string wanted = controller.metrics_address();
    if (wanted != metrics.address() && wanted != metrics_failed) {
      metrics.stop();
      metrics_failed.clear();
      if (!wanted.empty()) {
        auto s = metrics.start(wanted, [&] { return render_metrics(controller, events); });
        if (s)
          log("serving metrics on http://" + wanted + "/metrics");
        else {
          log(join_errors(s.errors()));
          metrics_failed = wanted;
        }
      }
    }
  }

  metrics.stop();
  sd_notify(0, "STOPPING=1");
  log("stopping; the rules stay in place");
  service.shutdown();
  remote_service.shutdown();
  if (tcp_server) tcp_server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  ::unlink(opt.socket.c_str());
  // With fail = "open" the kernel lets DNS through while nobody serves the queues; with
  // "closed" it holds it back until the agent is back.
  inspector.stop();
  denied.stop();
  stop_printer();
  return 0;
}
