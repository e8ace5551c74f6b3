// hourglass-devserver: a durable, Temporal-compatible development server.
// Flags follow `temporal server start-dev` where they overlap.

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "devserver/engine_host.h"
#include "devserver/service/call_counter.h"
#include "devserver/service/workflow_service.h"
#include "devserver/store/sqlite_store.h"
#include "ipc/log_sink.h"
#include "ipc/control_channel.h"
#include "ipc/event_loop.h"
#include "ipc/exit_codes.h"
#include "ipc/failpoint.h"

namespace {

// Exit codes (docs/exit-codes.md).
constexpr int kExitOk = hourglass::exit_code::kOk;
constexpr int kExitUsage = hourglass::exit_code::kUsage;
constexpr int kExitStorage = hourglass::exit_code::kDevServerStorage;
constexpr int kExitListen = hourglass::exit_code::kDevServerListen;

// Under hourglass-supervisor: the control channel on its own small loop
// thread (the main thread waits for signals). READY carries the address
// actually bound; heartbeats keep the watchdog quiet; Drain, Shutdown and EOF
// (the supervisor is gone) all end in the same SIGTERM path.
class SupervisorLink {
 public:
  SupervisorLink(int fd, int heartbeat_ms) {
    thread_ = std::thread([this, fd, heartbeat_ms] {
      hourglass::ipc::ControlChannel::Handlers h;
      h.drain = [](const hourglass::ipc::v1::Drain&) { ::kill(::getpid(), SIGTERM); };
      h.shutdown = [](const std::string&) { ::kill(::getpid(), SIGTERM); };
      h.lost = [this] {
        supervisor_gone_ = true;
        ::kill(::getpid(), SIGTERM);
      };
      channel_ = hourglass::ipc::ControlChannel::FromFd(loop_, fd, std::move(h),
                                                          std::chrono::milliseconds(heartbeat_ms));
      opened_ = channel_ != nullptr;
      started_.test_and_set();
      started_.notify_all();
      if (opened_) loop_.RunForever();
      channel_.reset();
    });
    started_.wait(false);
  }
  ~SupervisorLink() {
    loop_.Stop();
    thread_.join();
  }
  bool opened() const { return opened_; }
  void Ready(const std::string& address) {
    loop_.Post([this, address] {
      hourglass::ipc::v1::Ready ready;
      ready.set_pid(static_cast<int32_t>(::getpid()));
      ready.set_address(address);
      channel_->SendReady(ready);
    });
  }
  bool supervisor_gone() const { return supervisor_gone_; }

 private:
  hourglass::ipc::EventLoop loop_;
  std::unique_ptr<hourglass::ipc::ControlChannel> channel_;
  std::thread thread_;
  std::atomic_flag started_;
  bool opened_ = false;
  std::atomic<bool> supervisor_gone_{false};
};

}  // namespace

int main(int argc, char** argv) {
  using namespace hourglass::devserver;
  CLI::App app{"hourglass-devserver: a durable Temporal-compatible development server"};
  std::string ip = "127.0.0.1";
  int port = 7233;
  std::string db_filename;
  std::vector<std::string> namespaces;
  std::string log_level = "info";
  bool fsync = false;
  int control_fd = -1;
  int heartbeat_ms = 1000;
  app.add_option("--ip", ip, "Address to listen on")->capture_default_str();
  app.add_option("-p,--port", port, "Port to listen on (0 picks a free one)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  app.add_option("-f,--db-filename", db_filename,
                 "SQLite database file (default: in memory, lost on exit)");
  app.add_option("-n,--namespace", namespaces, "Namespace to create at start (repeatable)");
  app.add_option("--log-level", log_level, "debug, info, warn or error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
  app.add_flag("--fsync", fsync, "fsync every commit (survive power loss, not only crashes)");
  app.add_option("--control-fd", control_fd, "Control channel to hourglass-supervisor (it passes 3)");
  app.add_option("--heartbeat-ms", heartbeat_ms, "Heartbeat period on the control channel")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }

  // Logs go to stderr; stdout carries only the ready line.
  auto logger = hourglass::logging::NonBlockingLogger("devserver");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(log_level));
  hourglass::failpoint::ArmFromEnvironment();  // docs/fault-injection.md

  // SIGTERM/SIGINT are taken synchronously by the main thread: block them
  // before any thread starts, so every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (control_fd >= 0) {
    // Die with the supervisor; and if it died before this line, notice now.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() == 1) return hourglass::exit_code::kSupervisorGone;
  }
  std::unique_ptr<SupervisorLink> supervisor;
  if (control_fd >= 0) {
    supervisor = std::make_unique<SupervisorLink>(control_fd, heartbeat_ms);
    if (!supervisor->opened()) {
      spdlog::critical("--control-fd {} is not an open socket", control_fd);
      return kExitUsage;
    }
  }

  auto store = SqliteStore::Open(db_filename, fsync);
  if (!store) {
    spdlog::critical("cannot open the database: {}", store.error().message());
    return kExitStorage;
  }
  EngineOptions options;
  options.namespaces = namespaces;
  EngineHost host(**store, options);
  if (auto st = host.Start(); !st) {
    spdlog::critical("cannot load the database: {}", st.error().message());
    return kExitStorage;
  }

  WorkflowServiceImpl service(host);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  int bound_port = 0;
  builder.AddListeningPort(ip + ":" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound_port);
  builder.RegisterService(&service);
  // Counted for the exit log line (service/call_counter.h); gRPC owns it.
  auto counter = std::make_unique<CallCounter>();
  CallCounter* calls = counter.get();
  std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::move(counter));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  // Large enough that an oversized request reaches us and gets a typed
  // INVALID_ARGUMENT naming its size, instead of gRPC's retryable
  // RESOURCE_EXHAUSTED.
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || bound_port == 0) {
    spdlog::critical("cannot listen on {}:{}", ip, port);
    host.Stop();
    return kExitListen;
  }
  std::printf("hourglass-devserver ready on %s:%d\n", ip.c_str(), bound_port);
  std::fflush(stdout);
  if (supervisor) supervisor->Ready(ip + ":" + std::to_string(bound_port));
  spdlog::info("serving WorkflowService on {}:{} (database: {})", ip, bound_port,
               db_filename.empty() ? "in memory" : db_filename);

  int signo = 0;
  sigwait(&stop_signals, &signo);
  spdlog::info("signal {}: stopping", signo);
  const int exit_code =
      supervisor && supervisor->supervisor_gone() ? hourglass::exit_code::kSupervisorGone : kExitOk;
  // The stop is bounded whatever happens below (DESIGN §7: every child of a
  // dead supervisor exits within a bounded time): a call stuck in gRPC must
  // not keep the process alive.
  std::thread([exit_code] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    spdlog::error("stop took longer than 5 s; exiting anyway");
    spdlog::default_logger()->flush();
    std::_Exit(exit_code);
  }).detach();
  // Parked long polls are answered and new ones return at once, while the
  // engine still runs: gRPC's Shutdown waits for every call to finish, and a
  // call posted to a stopped engine would never finish.
  host.BeginShutdown();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  host.Stop();
  spdlog::info("served {} calls: {}", calls->total(), calls->Summary());
  return exit_code;
}
