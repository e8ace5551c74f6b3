#include "workerproc/sdk/src/activity_executor.h"

#include <spdlog/spdlog.h>
#include <sys/wait.h>

#include <condition_variable>
#include <thread>

#include "ipc/failpoint.h"
#include "workerproc/sdk/src/activity_runner.h"
#include "workerproc/sdk/src/convert.h"
#include "workerproc/sdk/src/registry.h"

namespace hourglass::sdk {

// One running attempt: what its ActivityContext talks to.
class ActivityExecutor::Attempt final : public detail::ActivityRuntime {
 public:
  Attempt(BridgeLink& link, std::string task_queue, std::string token)
      : link_(link), task_queue_(std::move(task_queue)), token_(std::move(token)) {}

  void Heartbeat(Payloads details) override {
    ipc::v1::Request r;
    auto* hb = r.mutable_record_activity_heartbeat();
    hb->set_task_queue(task_queue_);
    hb->mutable_heartbeat()->set_task_token(token_);
    ToProto(details, hb->mutable_heartbeat()->mutable_details());
    // Never blocks the activity; the bridge host throttles as Core does.
    link_.Send(std::move(r), std::chrono::seconds(10), "heartbeat");
  }
  ActivityCancelReason cancel_reason() const override { return cancel_.reason(); }
  bool WaitForCancel(Duration timeout) override { return cancel_.WaitFor(timeout); }
  void RequestCancel(const coresdk::activity_task::ActivityTask& cancel) {
    cancel_.Request(cancel);
  }

 private:
  BridgeLink& link_;
  std::string task_queue_;
  std::string token_;
  CancelSignal cancel_;
};

ActivityExecutor::ActivityExecutor(BridgeLink& link, ExecutorConfig config, uint32_t max_concurrent,
                                   Isolation default_isolation)
    : link_(link),
      config_(std::move(config)),
      default_isolation_(default_isolation),
      slots_(max_concurrent) {}

ActivityExecutor::~ActivityExecutor() = default;

void ActivityExecutor::Start(coresdk::activity_task::ActivityTask task) {
  const RegisteredActivity* registered =
      Registry::Global().FindActivity(task.start().activity_type());
  Isolation isolation = registered != nullptr ? registered->options.isolation : Isolation::kDefault;
  if (isolation == Isolation::kDefault) isolation = default_isolation_;
  // Detached threads: the worker waits for in_flight() to reach 0 before it
  // exits, and exits without joining if an activity ignores its grace period.
  if (isolation == Isolation::kProcess) {
    std::thread([this, task = std::move(task)]() mutable {
      RunInProcess(std::move(task));
    }).detach();
  } else {
    std::thread([this, task = std::move(task)]() mutable {
      RunInThread(std::move(task));
    }).detach();
  }
}

void ActivityExecutor::RunInThread(coresdk::activity_task::ActivityTask task) {
  const std::string token = task.task_token();
  auto attempt = std::make_shared<Attempt>(link_, config_.task_queue, token);
  {
    std::lock_guard lock(mu_);
    running_[token] = [attempt](const coresdk::activity_task::ActivityTask& cancel) {
      attempt->RequestCancel(cancel);
    };
  }
  ActivityContext ctx(MakeActivityInfo(token, task.start(), config_.task_queue), *attempt);
  auto result = RunActivity(ctx, FromProto(task.start().input()));
  // Fault point: the attempt ran (thread executor), its completion is not
  // reported yet. "error" turns the result into a retryable failure.
  if (HOURGLASS_FAILPOINT("worker.activity.before_complete")) {
    result = FailpointResult("worker.activity.before_complete");
  }
  Report(token, std::move(result), ctx.info().activity_type + " " + ctx.info().activity_id);
  Finish(token);
}

void ActivityExecutor::RunInProcess(coresdk::activity_task::ActivityTask task) {
  const std::string token = task.task_token();
  const std::string what = task.start().activity_type() + " " + task.start().activity_id();
  auto process = ExecutorProcess::Spawn(config_, task);
  if (!process) {
    coresdk::activity_result::ActivityExecutionResult failed;
    auto* f = failed.mutable_failed()->mutable_failure();
    f->set_message("could not start an executor process for activity " + what);
    f->set_source(kFailureSource);
    f->mutable_application_failure_info()->set_type("ActivityProcessDied");
    Report(token, std::move(failed), what);
    Finish(token);
    return;
  }
  auto shared = std::make_shared<ExecutorProcess>(std::move(*process));
  if (on_process_started_) on_process_started_(shared->pid(), task);
  {
    std::lock_guard lock(mu_);
    running_[token] = [shared](const coresdk::activity_task::ActivityTask& cancel) {
      shared->Cancel(cancel);
    };
  }
  const int status = shared->Wait();
  // Exit 0: the executor delivered the completion itself. Anything else: it
  // died first (or could not reach the bridge host), so report it here.
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    spdlog::warn("activity {}: executor process {} died: {}", what, shared->pid(),
                 WIFSIGNALED(status) ? DescribeSignal(WTERMSIG(status))
                                     : "exit " + std::to_string(WEXITSTATUS(status)));
    Report(token, ExecutorDiedResult(shared->pid(), status), what);
  }
  Finish(token);
}

void ActivityExecutor::Report(const std::string& token,
                              coresdk::activity_result::ActivityExecutionResult result,
                              const std::string& what) {
  ipc::v1::Request r;
  auto* c = r.mutable_complete_activity_task();
  c->set_task_queue(config_.task_queue);
  c->mutable_completion()->set_task_token(token);
  *c->mutable_completion()->mutable_result() = std::move(result);
  auto reply = link_.Call(std::move(r), std::chrono::seconds(30));
  if (!reply.ok())
    spdlog::warn("activity {}: completion not delivered: {}", what, ipc::Describe(reply.error()));
}

void ActivityExecutor::Cancel(const coresdk::activity_task::ActivityTask& task) {
  CancelFn cancel;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(task.task_token());
    if (it != running_.end()) cancel = it->second;
  }
  if (cancel) cancel(task);
}

void ActivityExecutor::Finish(const std::string& token) {
  {
    std::lock_guard lock(mu_);
    running_.erase(token);
  }
  slots_.Release();
}

}  // namespace hourglass::sdk
