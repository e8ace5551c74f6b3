// hourglass-bridgehost: owns every connection to Temporal (the Runtime), every
// worker handle (the Holder) and, as it lands, the Core. Workers, executors and
// clients reach it over the IPC socket (docs/ipc-protocol.md).

#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <string>
#include <vector>

#include "bridgehost/holder.h"
#include "bridgehost/runtime.h"
#include "ipc/log_sink.h"
#include "ipc/control_channel.h"
#include "ipc/event_loop.h"
#include "ipc/exit_codes.h"
#include "ipc/failpoint.h"
#include "ipc/server.h"
#include "ipc/unix_socket.h"

namespace {

// Exit codes: docs/exit-codes.md.
constexpr int kExitOk = hourglass::exit_code::kOk;
constexpr int kExitInternal = hourglass::exit_code::kInternal;
constexpr int kExitUsage = hourglass::exit_code::kUsage;
constexpr int kExitSocket = hourglass::exit_code::kSocket;
constexpr int kExitSupervisorGone = hourglass::exit_code::kSupervisorGone;

}  // namespace

int main(int argc, char** argv) {
  using namespace hourglass;
  CLI::App app{"hourglass-bridgehost: the process that owns every Temporal connection"};
  bridgehost::RuntimeOptions runtime_options;
  std::string runtime_dir = ipc::DefaultRuntimeDir();
  std::string socket_path;
  std::vector<uid_t> allowed_uids;
  int control_fd = -1;
  int heartbeat_ms = 1000;
  int connect_timeout_ms = 10000;
  std::string log_level = "info";
  app.add_option("--target", runtime_options.target, "Temporal frontend host:port")->capture_default_str();
  app.add_option("--namespace", runtime_options.namespace_name, "Default namespace")->capture_default_str();
  app.add_option("--identity", runtime_options.identity, "Worker identity (default pid@host)");
  app.add_flag("--tls", runtime_options.tls, "Use TLS to reach Temporal");
  app.add_option("--tls-ca", runtime_options.tls_ca_path, "CA certificate (PEM)");
  app.add_option("--tls-cert", runtime_options.tls_cert_path, "Client certificate (PEM), for mTLS");
  app.add_option("--tls-key", runtime_options.tls_key_path, "Client key (PEM), for mTLS");
  app.add_option("--tls-server-name", runtime_options.tls_server_name, "Override the TLS server name");
  app.add_option("--api-key", runtime_options.api_key, "API key (default: $TEMPORAL_API_KEY)");
  app.add_option("--runtime-dir", runtime_dir, "Private (0700) directory for sockets")->capture_default_str();
  app.add_option("--socket", socket_path, "IPC socket path (default: <runtime-dir>/bridge.sock)");
  app.add_option("--allow-uid", allowed_uids, "Another uid allowed to connect (repeatable)");
  app.add_option("--control-fd", control_fd, "Control channel to the supervisor (it passes 3)");
  app.add_option("--heartbeat-ms", heartbeat_ms, "Heartbeat period on the control channel")->capture_default_str();
  app.add_option("--connect-timeout-ms", connect_timeout_ms, "How long the first GetSystemInfo retries")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (runtime_options.api_key.empty()) {
    if (const char* key = std::getenv("TEMPORAL_API_KEY")) runtime_options.api_key = key;
  }
  if (socket_path.empty()) socket_path = runtime_dir + "/bridge.sock";

  spdlog::set_default_logger(logging::NonBlockingLogger("bridgehost"));
  spdlog::set_level(spdlog::level::from_str(log_level));
  failpoint::ArmFromEnvironment();  // docs/fault-injection.md

  if (control_fd >= 0) {
    // Die with the supervisor; and if it died before this line, notice now.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() == 1) return kExitSupervisorGone;
  }

  if (auto st = ipc::EnsurePrivateDirectory(runtime_dir); !st) {
    spdlog::critical("runtime directory: {}", ipc::Describe(st.error()));
    return kExitSocket;
  }

  ipc::EventLoop loop;
  bridgehost::Runtime runtime(loop, runtime_options);
  bridgehost::Holder holder(runtime);
  ipc::ServerOptions server_options;
  server_options.socket_path = socket_path;
  server_options.allowed_uids = allowed_uids;
  // Root too: it can already read our memory, environment (the API key) and
  // socket directory, so refusing it protects nothing, while it is who runs
  // the supervisor that started us as its --user and, with it, the
  // operator's `hourglass` CLI.
  server_options.allowed_uids.push_back(0);
  server_options.welcome.set_bridge_epoch(runtime.epoch());
  server_options.welcome.set_namespace_(runtime_options.namespace_name);
  server_options.welcome.set_target(runtime_options.target);
  // A removed bridge.sock would leave every worker that starts from now on
  // unable to reach us while we live on (fault catalogue #22): checked
  // once a second, and bound again.
  server_options.path_check_period = std::chrono::milliseconds(1000);
  ipc::Server server(loop, server_options, holder);
  holder.set_connection_count([&server] { return server.connection_count(); });
  if (auto st = server.Start(); !st) {
    spdlog::critical("cannot serve on {}: {}", socket_path, ipc::Describe(st.error()));
    return kExitSocket;
  }

  int exit_code = kExitOk;
  bool stopping = false;
  ipc::EventHandle drain_timer;
  std::chrono::steady_clock::time_point drain_deadline;
  // Graceful stop: every handle shuts down (parked polls get SHUTDOWN, the
  // server gets ShutdownWorker), the socket closes, and the loop keeps running
  // until the calls already in flight (completions the server must not miss)
  // have finished, or the deadline passes.
  auto stop = [&](int code, const std::string& why, std::chrono::milliseconds grace) {
    if (stopping) return;
    stopping = true;
    spdlog::info("bridgehost: stopping ({})", why);
    exit_code = code;
    holder.ShutdownAll();
    runtime.CancelLongPolls();
    server.Stop();
    runtime.CancelConnect();
    drain_deadline = std::chrono::steady_clock::now() + grace;
    drain_timer = loop.AddPeriodicTimer(std::chrono::milliseconds(20), [&] {
      if ((runtime.live_calls() == 0 && holder.Drained()) || std::chrono::steady_clock::now() >= drain_deadline) {
        if (runtime.live_calls() > 0) spdlog::warn("bridgehost: {} calls still in flight at exit", runtime.live_calls());
        drain_timer.Reset();
        runtime.CancelAll();
        loop.Stop();
      }
    });
  };
  constexpr std::chrono::milliseconds kStopGrace{5000};
  auto term = loop.WatchSignal(SIGTERM, [&] { stop(kExitOk, "SIGTERM", kStopGrace); });
  auto intr = loop.WatchSignal(SIGINT, [&] { stop(kExitOk, "SIGINT", kStopGrace); });

  std::unique_ptr<ipc::ControlChannel> control;
  if (control_fd >= 0) {
    ipc::ControlChannel::Handlers handlers;
    handlers.stats = [&](ipc::v1::Stats& stats) {
      stats.set_bridge_epoch(runtime.epoch());
      for (const auto& q : holder.registered_queues()) stats.add_registered_task_queues(q);
      stats.set_open_connections(static_cast<uint32_t>(server.connection_count()));
      stats.set_parked_polls(static_cast<uint32_t>(holder.parked_polls()));
    };
    handlers.drain = [&](const ipc::v1::Drain& d) {
      stop(kExitOk, "drain: " + d.reason(),
           d.deadline_ms() > 0 ? std::chrono::milliseconds(d.deadline_ms()) : kStopGrace);
    };
    handlers.shutdown = [&](const std::string& reason) { stop(kExitOk, "shutdown: " + reason, kStopGrace); };
    handlers.lost = [&] { stop(kExitSupervisorGone, "the supervisor is gone", std::chrono::milliseconds(1000)); };
    control = ipc::ControlChannel::FromFd(loop, control_fd, std::move(handlers),
                                          std::chrono::milliseconds(heartbeat_ms));
    if (!control) {
      spdlog::critical("--control-fd {} is not an open socket", control_fd);
      return kExitUsage;
    }
    ipc::v1::Ready ready;
    ready.set_pid(static_cast<int32_t>(::getpid()));
    ready.set_socket_path(socket_path);
    ready.set_bridge_epoch(runtime.epoch());
    control->SendReady(ready);
  }
  // Serving starts now; Temporal may come later (the dev server may still be
  // starting, or restarting): requests then retry and answer UNAVAILABLE.
  runtime.Connect(std::chrono::milliseconds(connect_timeout_ms), [](grpc::Status) {});
  spdlog::info("bridgehost: serving on {} (epoch {}, target {})", socket_path, runtime.epoch(),
               runtime_options.target);
  loop.RunForever();
  return exit_code == kExitOk ? kExitOk : (exit_code == kExitSupervisorGone ? kExitSupervisorGone : kExitInternal);
}
