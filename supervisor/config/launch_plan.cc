#include "supervisor/config/launch_plan.h"

#include <cstdlib>

namespace hourglass::supervisor {

namespace {

std::string Millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()); }

}  // namespace

Command DevServerCommand(const Config& config, const LaunchPaths& paths) {
  Command c;
  c.argv = {paths.bin_dir + "/hourglass-devserver",
            "--port",
            std::to_string(config.devserver_port),
            "--db-filename",
            config.devserver_db.empty() ? paths.runtime_dir + "/dev.db" : config.devserver_db,
            "--namespace",
            config.namespace_name,
            "--log-level",
            "warn",
            "--control-fd",
            "3",
            "--heartbeat-ms",
            Millis(config.heartbeat_period)};
  return c;
}

Command BridgeHostCommand(const Config& config, const LaunchPaths& paths, const std::string& target,
                          const std::string& api_key) {
  Command c;
  c.argv = {paths.bin_dir + "/hourglass-bridgehost",
            "--target",
            target,
            "--namespace",
            config.namespace_name,
            "--runtime-dir",
            paths.runtime_dir,
            "--control-fd",
            "3",
            "--heartbeat-ms",
            Millis(config.heartbeat_period)};
  if (config.tls) {
    c.argv.push_back("--tls");
    auto add = [&](const char* flag, const std::string& value) {
      if (!value.empty()) {
        c.argv.push_back(flag);
        c.argv.push_back(value);
      }
    };
    add("--tls-ca", config.tls_ca);
    add("--tls-cert", config.tls_cert);
    add("--tls-key", config.tls_key);
    add("--tls-server-name", config.tls_server_name);
  }
  // The bridge host reads its key from the environment (never argv).
  if (!api_key.empty()) c.env.emplace_back("TEMPORAL_API_KEY", api_key);
  return c;
}

Command WorkerCommand(const Config& config, const QueueConfig& queue, const LaunchPaths& paths,
                      const std::string& bridge_socket) {
  Command c;
  c.argv = {queue.exec.empty() ? paths.bin_dir + "/hourglass-workerproc" : queue.exec,
            "--bridge-socket",
            bridge_socket,
            "--task-queue",
            queue.name,
            "--namespace",
            config.namespace_name,
            "--control-fd",
            "3",
            "--heartbeat-ms",
            Millis(config.heartbeat_period),
            "--graceful-shutdown-ms",
            Millis(config.shutdown_timeout)};
  auto add = [&](const char* flag, const auto& value) {
    if (value) {
      c.argv.push_back(flag);
      c.argv.push_back(std::to_string(*value));
    }
  };
  add("--max-cached-workflows", queue.max_cached_workflows);
  add("--max-concurrent-workflow-tasks", queue.max_concurrent_workflow_tasks);
  add("--max-concurrent-activities", queue.max_concurrent_activities);
  if (!queue.isolation.empty()) {
    c.argv.push_back("--isolation");
    c.argv.push_back(queue.isolation);
  }
  c.argv.insert(c.argv.end(), queue.args.begin(), queue.args.end());
  return c;
}

std::string ResolveApiKey(const Config& config) {
  if (!config.api_key.empty()) return config.api_key;
  if (config.api_key_env.empty()) return "";
  const char* v = std::getenv(config.api_key_env.c_str());
  return v != nullptr ? v : "";
}

}  // namespace hourglass::supervisor
