#pragma once

// What the supervisor runs for each child, derived from the Config: the argv
// and the environment. Pure, so the exact command lines are unit-tested.
// Secrets (the API key) travel in the environment, never in argv, which any
// user can read in /proc/<pid>/cmdline.

#include <string>
#include <utility>
#include <vector>

#include "supervisor/config/config.h"

namespace hourglass::supervisor {

struct LaunchPaths {
  std::string bin_dir;      // where hourglass-* binaries live (next to the supervisor)
  std::string runtime_dir;  // the private 0700 directory
};

struct Command {
  std::vector<std::string> argv;
  std::vector<std::pair<std::string, std::string>> env;
};

// The embedded dev server (no target configured).
Command DevServerCommand(const Config& config, const LaunchPaths& paths);
// The bridge host against `target` ("host:port"; the dev server's address
// when it is embedded). `api_key` is the resolved secret ("" for none).
Command BridgeHostCommand(const Config& config, const LaunchPaths& paths, const std::string& target,
                          const std::string& api_key);
// One worker process for `queue`, against the bridge host's socket.
Command WorkerCommand(const Config& config, const QueueConfig& queue, const LaunchPaths& paths,
                      const std::string& bridge_socket);

// The API key: config.api_key, else $<api_key_env>, else "".
std::string ResolveApiKey(const Config& config);

}  // namespace hourglass::supervisor
