#pragma once

// hourglass-supervisor's configuration: a TOML file (docs/supervision.md
// lists every key), then command-line flags on top. Parsing is pure: text in,
// a Config or a list of errors out, each naming the key ("queue[2].exec:
// required"). Unknown keys are errors, so a typo never silently means
// "default".

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace hourglass::supervisor {

struct Intensity {
  int max_restarts = 3;
  std::chrono::milliseconds period{5000};
};

struct QueueConfig {
  std::string name;
  std::string exec;               // empty: hourglass-workerproc next to the supervisor
  std::vector<std::string> args;  // extra worker flags
  std::optional<uint32_t> max_cached_workflows;
  std::optional<uint32_t> max_concurrent_workflow_tasks;
  std::optional<uint32_t> max_concurrent_activities;
  std::string isolation;  // "", "thread" or "process"
};

struct Config {
  // Temporal: empty target = run the embedded dev server.
  std::string target;
  std::string namespace_name = "default";
  bool tls = false;
  std::string tls_ca, tls_cert, tls_key, tls_server_name;
  std::string api_key;  // prefer api_key_env
  std::string api_key_env = "TEMPORAL_API_KEY";

  std::string runtime_dir;  // empty: the default (ipc::DefaultRuntimeDir)
  std::string user;         // run children as this user (supervisor as root)

  // The embedded dev server (when no target).
  std::string devserver_db;  // empty: <runtime_dir>/dev.db
  uint16_t devserver_port = 0;  // 0: any free port

  Intensity application{1, std::chrono::milliseconds(5000)};
  Intensity subsystem{3, std::chrono::milliseconds(5000)};
  Intensity workers{5, std::chrono::milliseconds(10000)};

  std::chrono::milliseconds ready_timeout{20000};
  std::chrono::milliseconds shutdown_timeout{10000};
  std::chrono::milliseconds heartbeat_period{1000};
  // A child silent for this long on its control channel is killed.
  std::chrono::milliseconds watchdog_timeout{5000};

  // The configured queues; "default" when none is configured.
  std::vector<QueueConfig> queues;
};

struct ConfigResult {
  Config config;
  std::vector<std::string> errors;
  bool ok() const { return errors.empty(); }
};

// Parses TOML text; `origin` names the file in messages.
ConfigResult ParseConfig(const std::string& text, const std::string& origin = "config");

}  // namespace hourglass::supervisor
