#pragma once

// Process isolation: each attempt of a process-isolated activity runs in a
// process of its own, so a segfault, abort or OOM kill of user code fails
// that attempt and nothing else.
//
// Worker side (SpawnExecutor / ExecutorProcess): the worker re-executes its
// own binary (/proc/self/exe, via posix_spawn: exec at once, never a bare
// fork of a threaded process) in a new session with one extra fd, a socket
// pair end on fd 3. It writes the ActivityTask there, forwards Cancel tasks
// the same way, and waits for the process. If the process dies before
// reporting, the worker fails the attempt with a message naming the signal.
//
// Executor side (RunExecutorProcess): reads the task, connects to the bridge
// host itself, runs the activity, heartbeats, and delivers the completion
// itself (CompleteActivityTask by queue; the bridge host falls back to the
// task token when the queue's handle is gone). So an executor outlives its
// worker: SIGKILL the worker mid-activity and the result is still recorded.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>

#include "ipc/unique_fd.h"
#include "temporal/sdk/core/activity_result/activity_result.pb.h"
#include "temporal/sdk/core/activity_task/activity_task.pb.h"

namespace hourglass::sdk {

struct ExecutorConfig {
  std::string executable = "/proc/self/exe";
  std::string bridge_socket;
  std::string task_queue;
  std::string log_level = "info";
};

// The fd the executor process finds its socket on.
inline constexpr int kExecutorFd = 3;

class ExecutorProcess {
 public:
  // Spawns the executor and hands it `task`. Nothing on failure (logged).
  static std::optional<ExecutorProcess> Spawn(const ExecutorConfig& config,
                                              const coresdk::activity_task::ActivityTask& task);

  pid_t pid() const { return pid_; }
  // Forwards a Cancel task; harmless once the process is gone.
  void Cancel(const coresdk::activity_task::ActivityTask& cancel);
  // Blocks until the process exits; returns its wait status.
  int Wait();

 private:
  ExecutorProcess(pid_t pid, ipc::UniqueFd socket) : pid_(pid), socket_(std::move(socket)) {}
  pid_t pid_;
  ipc::UniqueFd socket_;
};

// The result to report when the executor died without reporting: a failed
// attempt (retryable) whose message names the signal or exit code.
coresdk::activity_result::ActivityExecutionResult ExecutorDiedResult(pid_t pid, int wait_status);

// "SIGSEGV (Segmentation fault)".
std::string DescribeSignal(int signo);

// The executor process's main: returns its exit code (0: the completion was
// delivered to the bridge host).
int RunExecutorProcess(const ExecutorConfig& config, int fd);

}  // namespace hourglass::sdk
