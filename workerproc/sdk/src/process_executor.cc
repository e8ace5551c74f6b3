#include "workerproc/sdk/src/process_executor.h"

#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "hourglass/activity.h"
#include "ipc/blocking_frames.h"
#include "ipc/client.h"
#include "ipc/envelope.h"
#include "ipc/exit_codes.h"
#include "ipc/failpoint.h"
#include "ipc/frame.h"
#include "ipc/unix_socket.h"
#include "workerproc/sdk/src/activity_runner.h"
#include "workerproc/sdk/src/convert.h"

extern char** environ;

namespace hourglass::sdk {

namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
namespace at = coresdk::activity_task;

// The executor's ActivityRuntime: heartbeats over its own bridge connection,
// cancellation from the worker's socket.
class ExecutorRuntime final : public detail::ActivityRuntime {
 public:
  ExecutorRuntime(ipc::BlockingClient* client, std::string task_queue, std::string token)
      : client_(client), task_queue_(std::move(task_queue)), token_(std::move(token)) {}

  void Heartbeat(Payloads details) override {
    if (client_ == nullptr) return;
    v1::Request r;
    auto* hb = r.mutable_record_activity_heartbeat();
    hb->set_task_queue(task_queue_);
    hb->mutable_heartbeat()->set_task_token(token_);
    ToProto(details, hb->mutable_heartbeat()->mutable_details());
    // Answered at once by the bridge host (it throttles on its side).
    if (auto reply = client_->Call(std::move(r), 2s); !reply.ok()) {
      spdlog::warn("heartbeat failed: {}", ipc::Describe(reply.error()));
    }
  }
  ActivityCancelReason cancel_reason() const override { return cancel_.reason(); }
  bool WaitForCancel(Duration timeout) override { return cancel_.WaitFor(timeout); }
  void RequestCancel(const at::ActivityTask& cancel) { cancel_.Request(cancel); }

 private:
  ipc::BlockingClient* client_;
  std::string task_queue_;
  std::string token_;
  CancelSignal cancel_;
};

std::optional<ipc::BlockingClient> ConnectToBridge(const ExecutorConfig& config) {
  ipc::ClientOptions o;
  o.socket_path = config.bridge_socket;
  o.hello.set_role(v1::ROLE_EXECUTOR);
  o.hello.set_task_queue(config.task_queue);
  o.hello.set_client_name("executor " + config.task_queue);
  auto c = ipc::BlockingClient::Connect(o, 5s);
  if (!c.ok()) {
    spdlog::warn("executor: cannot reach the bridge host: {}", ipc::Describe(c.error()));
    return std::nullopt;
  }
  return std::move(c).value();
}

}  // namespace

std::string DescribeSignal(int signo) {
  const char* abbrev = ::sigabbrev_np(signo);
  std::string out =
      abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
  out += " (";
  out += ::strsignal(signo);
  out += ")";
  if (signo == SIGKILL)
    out += "; a SIGKILL nobody sent is usually the OOM killer or a memory limit";
  return out;
}

std::optional<ExecutorProcess> ExecutorProcess::Spawn(const ExecutorConfig& config,
                                                      const at::ActivityTask& task) {
  auto pair = ipc::MakeSocketPair();
  if (!pair.ok()) {
    spdlog::error("executor: socketpair: {}", ipc::Describe(pair.error()));
    return std::nullopt;
  }
  ipc::UniqueFd ours = std::move(pair->first);
  ipc::UniqueFd theirs = std::move(pair->second);
  std::vector<std::string> args{
      config.executable, "--run-activity",     "--activity-fd", std::to_string(kExecutorFd),
      "--bridge-socket", config.bridge_socket, "--task-queue",  config.task_queue,
      "--log-level",     config.log_level};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  // Only fds 0-2 and the socket on fd 3 reach the executor: everything else
  // is close-on-exec.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, theirs.get(), kExecutorFd);
  // And nothing the worker inherited without close-on-exec from whoever
  // started it.
  posix_spawn_file_actions_addclosefrom_np(&actions, kExecutorFd + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // Its own session: stopping the worker's process group must not kill an
  // attempt that is meant to outlive the worker.
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
  // Our environment, with our armed executor.* fault points in place of
  // HOURGLASS_FAILPOINTS: points armed on the worker at run time reach the
  // executors, and a one-shot point reaches one executor only.
  const std::string env_prefix = std::string(failpoint::kEnvVar) + "=";
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with(env_prefix)) env_strings.emplace_back(*e);
  }
  if (std::string armed = failpoint::HandOn("executor."); !armed.empty()) {
    env_strings.push_back(env_prefix + armed);
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  const int rc =
      ::posix_spawn(&pid, config.executable.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    spdlog::error("executor: cannot spawn {}: {}", config.executable, ::strerror(rc));
    return std::nullopt;
  }
  theirs.Reset();
  ExecutorProcess process(pid, std::move(ours));
  if (!ipc::WriteMessage(process.socket_.get(), task)) {
    spdlog::warn("executor {}: could not hand over the task (it died at start?)", pid);
  }
  return process;
}

void ExecutorProcess::Cancel(const at::ActivityTask& cancel) {
  if (socket_) (void)ipc::WriteMessage(socket_.get(), cancel);
}

int ExecutorProcess::Wait() {
  // Seen exited but not reaped yet: while it is an unreaped zombie its pid
  // (its process group's id: it leads a session of its own) cannot be
  // reused, so killing the group now reaches only what the attempt left
  // behind (a background process it started), never a stranger.
  siginfo_t info{};
  int rc;
  while ((rc = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOWAIT)) < 0 &&
         errno == EINTR) {
  }
  if (rc == 0) (void)::kill(-pid_, SIGKILL);  // ESRCH: it was alone
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  socket_.Reset();
  return status;
}

coresdk::activity_result::ActivityExecutionResult ExecutorDiedResult(pid_t pid, int wait_status) {
  coresdk::activity_result::ActivityExecutionResult result;
  auto* f = result.mutable_failed()->mutable_failure();
  if (WIFSIGNALED(wait_status)) {
    f->set_message("activity process " + std::to_string(pid) + " was killed by " +
                   DescribeSignal(WTERMSIG(wait_status)));
  } else {
    f->set_message("activity process " + std::to_string(pid) + " exited with code " +
                   std::to_string(WEXITSTATUS(wait_status)) + " before reporting its result");
  }
  f->set_source(kFailureSource);
  // Retryable: the server applies the activity's retry policy.
  f->mutable_application_failure_info()->set_type("ActivityProcessDied");
  return result;
}

int RunExecutorProcess(const ExecutorConfig& config, int fd) {
  ipc::FrameDecoder decoder;
  at::ActivityTask task;
  if (!ipc::ReadMessage(fd, decoder, task, 10s) || !task.has_start()) {
    spdlog::error("executor: no activity task on fd {}", fd);
    return exit_code::kUsage;
  }
  std::optional<ipc::BlockingClient> client = ConnectToBridge(config);
  ExecutorRuntime runtime(client ? &*client : nullptr, config.task_queue, task.task_token());
  // Cancel tasks from the worker; EOF means the worker is gone, which changes
  // nothing for this attempt.
  std::thread([fd, &runtime, decoder = std::move(decoder)]() mutable {
    at::ActivityTask cancel;
    while (ipc::ReadMessage(fd, decoder, cancel, std::chrono::milliseconds(-1))) {
      if (cancel.has_cancel()) runtime.RequestCancel(cancel);
    }
  }).detach();

  ActivityContext ctx(MakeActivityInfo(task.task_token(), task.start(), config.task_queue),
                      runtime);
  auto result = RunActivity(ctx, FromProto(task.start().input()));
  // Fault point: the attempt ran, its completion is not delivered yet.
  // "error" turns the result into a retryable failure.
  if (HOURGLASS_FAILPOINT("executor.activity.before_complete")) {
    result = FailpointResult("executor.activity.before_complete");
  }

  v1::Request r;
  auto* c = r.mutable_complete_activity_task();
  c->set_task_queue(config.task_queue);
  c->mutable_completion()->set_task_token(task.task_token());
  *c->mutable_completion()->mutable_result() = std::move(result);
  // The bridge host may be restarting: keep trying for a while, reconnecting.
  for (const auto deadline = std::chrono::steady_clock::now() + 60s;;) {
    if (client) {
      auto reply = client->Call(r, 30s);
      if (reply.ok()) return exit_code::kOk;
      spdlog::warn("executor: completion not delivered yet: {}", ipc::Describe(reply.error()));
      if (reply.error().kind() != v1::ERROR_KIND_UNAVAILABLE &&
          reply.error().kind() != v1::ERROR_KIND_DEADLINE_EXCEEDED) {
        // The server refused it (for example the attempt already timed out):
        // nothing left to deliver.
        return exit_code::kOk;
      }
    }
    if (std::chrono::steady_clock::now() >= deadline) return exit_code::kBridgeUnreachable;
    std::this_thread::sleep_for(500ms);
    client = ConnectToBridge(config);
  }
}

}  // namespace hourglass::sdk
