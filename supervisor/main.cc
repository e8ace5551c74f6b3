// hourglass-supervisor: runs the Hourglass tree (docs/supervision.md): the
// embedded dev server (without --target), the bridge host, one worker process
// per task queue; restarts them with OTP's semantics; answers `hourglass ctl`
// on <runtime_dir>/supervisor.sock.

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <climits>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "ipc/log_sink.h"
#include "ipc/event_loop.h"
#include "ipc/exit_codes.h"
#include "ipc/unix_socket.h"
#include "supervisor/config/config.h"
#include "supervisor/shell/shell.h"

namespace {

using hourglass::supervisor::Config;
using hourglass::supervisor::QueueConfig;

std::string SelfDir() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// "orders" or "orders=/usr/local/bin/orders-worker".
QueueConfig ParseQueueFlag(const std::string& flag, const std::string& default_exec) {
  QueueConfig q;
  const auto eq = flag.find('=');
  q.name = flag.substr(0, eq);
  q.exec = eq == std::string::npos ? default_exec : flag.substr(eq + 1);
  return q;
}

}  // namespace

int main(int argc, char** argv) {
  namespace exit_code = hourglass::exit_code;
  CLI::App app{"hourglass-supervisor: the Hourglass supervision tree (docs/supervision.md)"};
  std::string config_file, target, namespace_name, runtime_dir, user, worker_exec, bin_dir,
      log_level = "info";
  std::string devserver_db, api_key_env, tls_ca, tls_cert, tls_key, tls_server_name;
  std::vector<std::string> queues;
  int devserver_port = -1;
  int heartbeat_ms = 0, watchdog_ms = 0, ready_ms = 0, shutdown_ms = 0;
  bool tls = false;
  app.add_option("--config", config_file,
                 "TOML configuration file (docs/supervision.md, Configuration)");
  app.add_option("--target", target,
                 "Temporal frontend host:port; without it the embedded dev server runs");
  app.add_option("--namespace", namespace_name, "Temporal namespace");
  app.add_option("--runtime-dir", runtime_dir,
                 "Private directory for sockets (default $XDG_RUNTIME_DIR/hourglass)");
  app.add_option("--user", user, "Run every child as this user (the supervisor must be root)");
  app.add_option("--queue", queues,
                 "Task queue to serve, NAME or NAME=WORKER_EXECUTABLE; repeatable; replaces the "
                 "file's queues");
  app.add_option("--worker-exec", worker_exec, "Worker executable for --queue NAME without =EXEC");
  app.add_option("--bin-dir", bin_dir,
                 "Where hourglass-devserver, -bridgehost, -workerproc are (default: ours)");
  app.add_option("--devserver-db", devserver_db,
                 "Embedded dev server's SQLite file (default <runtime-dir>/dev.db)");
  app.add_option("--devserver-port", devserver_port,
                 "Embedded dev server's port (default: any free port)");
  app.add_option("--api-key-env", api_key_env, "Environment variable holding the Temporal API key");
  app.add_flag("--tls", tls, "Connect to the target over TLS");
  app.add_option("--tls-ca", tls_ca, "CA bundle (PEM)");
  app.add_option("--tls-cert", tls_cert, "Client certificate (PEM), for mTLS");
  app.add_option("--tls-key", tls_key, "Client key (PEM), for mTLS");
  app.add_option("--tls-server-name", tls_server_name, "TLS server name override");
  app.add_option("--heartbeat-ms", heartbeat_ms, "Children's heartbeat period");
  app.add_option("--watchdog-ms", watchdog_ms,
                 "Kill a child silent this long on its control channel");
  app.add_option("--ready-ms", ready_ms, "Kill a child not READY after this long");
  app.add_option("--shutdown-ms", shutdown_ms, "SIGTERM to SIGKILL grace period");
  app.add_option("--log-level", log_level, "debug, info, warn or error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  spdlog::set_default_logger(hourglass::logging::NonBlockingLogger("supervisor"));
  spdlog::set_level(spdlog::level::from_str(log_level));

  Config config;
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in) {
      spdlog::critical("cannot read {}", config_file);
      return exit_code::kUsage;
    }
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = hourglass::supervisor::ParseConfig(text.str(), config_file);
    if (!parsed.ok()) {
      for (const auto& e : parsed.errors) spdlog::critical("{}", e);
      return exit_code::kUsage;
    }
    config = std::move(parsed.config);
  }
  // Flags on top of the file.
  if (!target.empty()) config.target = target;
  if (!namespace_name.empty()) config.namespace_name = namespace_name;
  if (!runtime_dir.empty()) config.runtime_dir = runtime_dir;
  if (!user.empty()) config.user = user;
  if (!devserver_db.empty()) config.devserver_db = devserver_db;
  if (devserver_port >= 0) config.devserver_port = static_cast<uint16_t>(devserver_port);
  if (!api_key_env.empty()) config.api_key_env = api_key_env;
  if (tls || !tls_ca.empty() || !tls_cert.empty()) config.tls = true;
  if (!tls_ca.empty()) config.tls_ca = tls_ca;
  if (!tls_cert.empty()) config.tls_cert = tls_cert;
  if (!tls_key.empty()) config.tls_key = tls_key;
  if (!tls_server_name.empty()) config.tls_server_name = tls_server_name;
  if (heartbeat_ms > 0) config.heartbeat_period = std::chrono::milliseconds(heartbeat_ms);
  if (watchdog_ms > 0) config.watchdog_timeout = std::chrono::milliseconds(watchdog_ms);
  if (ready_ms > 0) config.ready_timeout = std::chrono::milliseconds(ready_ms);
  if (shutdown_ms > 0) config.shutdown_timeout = std::chrono::milliseconds(shutdown_ms);
  if (!queues.empty()) {
    config.queues.clear();
    for (const auto& q : queues) config.queues.push_back(ParseQueueFlag(q, worker_exec));
  } else if (!worker_exec.empty()) {
    for (auto& q : config.queues) {
      if (q.exec.empty()) q.exec = worker_exec;
    }
    if (config.queues.empty()) config.queues.push_back(ParseQueueFlag("default", worker_exec));
  }
  for (const auto& q : config.queues) {
    if (q.name.empty()) {
      spdlog::critical("--queue: empty task queue name");
      return exit_code::kUsage;
    }
  }

  hourglass::supervisor::ShellOptions options;
  options.bin_dir = bin_dir.empty() ? SelfDir() : bin_dir;
  options.runtime_dir =
      config.runtime_dir.empty() ? hourglass::ipc::DefaultRuntimeDir() : config.runtime_dir;
  if (!config.user.empty()) {
    if (::geteuid() != 0) {
      spdlog::critical(
          "--user {}: only a supervisor started as root can switch its children's user",
          config.user);
      return exit_code::kUsage;
    }
    const passwd* pw = ::getpwnam(config.user.c_str());
    if (pw == nullptr) {
      spdlog::critical("--user {}: no such user", config.user);
      return exit_code::kUsage;
    }
    options.uid = pw->pw_uid;
    options.gid = pw->pw_gid;
  }
  options.config = std::move(config);

  // A broken control-socket peer must be an error on write, not a signal.
  ::signal(SIGPIPE, SIG_IGN);
  hourglass::ipc::EventLoop loop;
  hourglass::supervisor::Shell shell(loop, std::move(options));
  if (auto st = shell.Start(); !st.ok()) {
    spdlog::critical("cannot start: {}", st.error().message());
    return exit_code::kSocket;
  }
  loop.RunForever();
  const int code = shell.exit_code().value_or(exit_code::kInternal);
  spdlog::default_logger()->flush();
  return code;
}
