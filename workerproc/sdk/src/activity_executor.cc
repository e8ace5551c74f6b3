#include "workerproc/sdk/src/activity_executor.h"

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <thread>

#include "workerproc/sdk/src/activity_runner.h"
#include "workerproc/sdk/src/convert.h"

namespace hourglass::sdk {

namespace {

ActivityCancelReason ReasonFromProto(coresdk::activity_task::ActivityCancelReason r) {
  using enum coresdk::activity_task::ActivityCancelReason;
  switch (r) {
    case NOT_FOUND: return ActivityCancelReason::kNotFound;
    case CANCELLED: return ActivityCancelReason::kCancelled;
    case TIMED_OUT: return ActivityCancelReason::kTimedOut;
    case WORKER_SHUTDOWN: return ActivityCancelReason::kWorkerShutdown;
    case PAUSED: return ActivityCancelReason::kPaused;
    case RESET: return ActivityCancelReason::kReset;
    default: return ActivityCancelReason::kCancelled;
  }
}

}  // namespace

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
  ActivityCancelReason cancel_reason() const override {
    std::lock_guard lock(mu_);
    return reason_;
  }
  bool WaitForCancel(Duration timeout) override {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return reason_ != ActivityCancelReason::kNone; });
  }
  void RequestCancel(ActivityCancelReason reason) {
    {
      std::lock_guard lock(mu_);
      if (reason_ == ActivityCancelReason::kNone) reason_ = reason;
    }
    cv_.notify_all();
  }

 private:
  BridgeLink& link_;
  std::string task_queue_;
  std::string token_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ActivityCancelReason reason_ = ActivityCancelReason::kNone;
};

ActivityExecutor::ActivityExecutor(BridgeLink& link, std::string task_queue, uint32_t max_concurrent)
    : link_(link), task_queue_(std::move(task_queue)), slots_(max_concurrent) {}

ActivityExecutor::~ActivityExecutor() = default;

void ActivityExecutor::Start(coresdk::activity_task::ActivityTask task) {
  const std::string token = task.task_token();
  auto attempt = std::make_shared<Attempt>(link_, task_queue_, token);
  {
    std::lock_guard lock(mu_);
    running_[token] = attempt;
  }
  // Detached: the worker waits for in_flight() to reach 0 before it exits,
  // and exits without joining if an activity ignores its grace period.
  std::thread([this, task = std::move(task), attempt]() mutable {
    ActivityContext ctx(MakeActivityInfo(task.task_token(), task.start(), task_queue_), *attempt);
    auto result = RunActivity(ctx, FromProto(task.start().input()));
    ipc::v1::Request r;
    auto* c = r.mutable_complete_activity_task();
    c->set_task_queue(task_queue_);
    c->mutable_completion()->set_task_token(task.task_token());
    *c->mutable_completion()->mutable_result() = std::move(result);
    auto reply = link_.Call(std::move(r), std::chrono::seconds(30));
    if (!reply.ok()) {
      spdlog::warn("activity {} ({}): completion not delivered: {}", ctx.info().activity_id,
                   ctx.info().activity_type, ipc::Describe(reply.error()));
    }
    Finish(task.task_token());
  }).detach();
}

void ActivityExecutor::Cancel(const coresdk::activity_task::ActivityTask& task) {
  std::shared_ptr<Attempt> attempt;
  {
    std::lock_guard lock(mu_);
    auto it = running_.find(task.task_token());
    if (it != running_.end()) attempt = it->second;
  }
  if (attempt) attempt->RequestCancel(ReasonFromProto(task.cancel().reason()));
}

void ActivityExecutor::Finish(const std::string& token) {
  {
    std::lock_guard lock(mu_);
    running_.erase(token);
  }
  slots_.Release();
}

}  // namespace hourglass::sdk
