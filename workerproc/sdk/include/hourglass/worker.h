#pragma once

// Running a worker: one process serving one task queue through the bridge
// host. A user's worker binary is a main() that calls RunWorker with its
// arguments; the workflows and activities it serves are whatever the binary
// registered (HOURGLASS_WORKFLOW / HOURGLASS_ACTIVITY).
//
//   int main(int argc, char** argv) { return hourglass::RunWorker(argc, argv); }
//
// Under hourglass-supervisor the flags come from its configuration and the
// control channel is fd 3; standalone, pass --bridge-socket and --task-queue.
// Exit codes: docs/exit-codes.md.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "hourglass/activity.h"

namespace hourglass {

struct WorkerOptions {
  WorkerOptions() = default;

  std::string bridge_socket{};      // default: <runtime dir>/bridge.sock
  std::string task_queue = "default";
  std::string namespace_name{};     // default: the bridge host's
  std::string identity{};           // default: pid@host
  int control_fd = -1;              // the supervisor passes 3
  // Runs kept between workflow tasks (Core's cache). Unset: 1000; 0: none.
  std::optional<uint32_t> max_cached_workflows{};
  uint32_t max_concurrent_workflow_tasks = 8;
  uint32_t evaluator_threads = 2;
  uint32_t max_concurrent_activities = 32;
  // Where activities registered with Isolation::kDefault run: kThread (an
  // executor thread) or kProcess (a process per attempt; crash-isolated).
  Isolation default_isolation = Isolation::kThread;
  // Workflow code that does not yield for this long fails its task.
  std::chrono::milliseconds deadlock_timeout{2000};
  // On SIGTERM / Drain: how long in-flight tasks and activities may finish.
  std::chrono::milliseconds graceful_shutdown{10000};
  std::chrono::milliseconds heartbeat_period{1000};
  std::chrono::milliseconds connect_timeout{10000};
  std::string log_level = "info";
};

// Parses the worker flags (--help lists them) and runs. Returns the exit code.
int RunWorker(int argc, char** argv);
// Runs with `options` until stopped. Returns the exit code.
int RunWorker(const WorkerOptions& options);

}  // namespace hourglass
