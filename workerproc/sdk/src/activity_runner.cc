#include "workerproc/sdk/src/activity_runner.h"

#include "workerproc/sdk/src/convert.h"
#include "workerproc/sdk/src/registry.h"

namespace hourglass::sdk {

namespace {

ActivityCancelReason ReasonFromProto(activity_pb::ActivityCancelReason r) {
  switch (r) {
    case activity_pb::NOT_FOUND: return ActivityCancelReason::kNotFound;
    case activity_pb::TIMED_OUT: return ActivityCancelReason::kTimedOut;
    case activity_pb::WORKER_SHUTDOWN: return ActivityCancelReason::kWorkerShutdown;
    case activity_pb::PAUSED: return ActivityCancelReason::kPaused;
    case activity_pb::RESET: return ActivityCancelReason::kReset;
    default: return ActivityCancelReason::kCancelled;
  }
}

}  // namespace

void CancelSignal::Request(const activity_pb::ActivityTask& cancel_task) {
  {
    std::lock_guard lock(mu_);
    if (reason_ == ActivityCancelReason::kNone) reason_ = ReasonFromProto(cancel_task.cancel().reason());
  }
  cv_.notify_all();
}

ActivityCancelReason CancelSignal::reason() const {
  std::lock_guard lock(mu_);
  return reason_;
}

bool CancelSignal::WaitFor(Duration timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return reason_ != ActivityCancelReason::kNone; });
}

ActivityInfo MakeActivityInfo(const std::string& task_token, const activity_pb::Start& start,
                              const std::string& task_queue) {
  ActivityInfo info;
  info.namespace_name = start.workflow_namespace();
  info.task_queue = task_queue;
  info.workflow_id = start.workflow_execution().workflow_id();
  info.workflow_run_id = start.workflow_execution().run_id();
  info.workflow_type = start.workflow_type();
  info.activity_id = start.activity_id();
  info.activity_type = start.activity_type();
  info.task_token = task_token;
  info.attempt = start.attempt();
  info.scheduled_time = FromProto(start.scheduled_time());
  info.current_attempt_scheduled_time = FromProto(start.current_attempt_scheduled_time());
  info.started_time = FromProto(start.started_time());
  info.schedule_to_close_timeout = FromProto(start.schedule_to_close_timeout());
  info.start_to_close_timeout = FromProto(start.start_to_close_timeout());
  info.heartbeat_timeout = FromProto(start.heartbeat_timeout());
  info.heartbeat_details = FromProto(start.heartbeat_details());
  return info;
}

result_pb::ActivityExecutionResult FailpointResult(const std::string& point) {
  result_pb::ActivityExecutionResult result;
  auto* f = result.mutable_failed()->mutable_failure();
  f->set_message("failpoint " + point);
  f->set_source(kFailureSource);
  f->mutable_application_failure_info()->set_type("FailpointError");
  return result;
}

result_pb::ActivityExecutionResult RunActivity(ActivityContext& ctx, const Payloads& input) {
  result_pb::ActivityExecutionResult result;
  const RegisteredActivity* activity = Registry::Global().FindActivity(ctx.info().activity_type);
  if (activity == nullptr) {
    auto* f = result.mutable_failed()->mutable_failure();
    f->set_message("activity type \"" + ctx.info().activity_type +
                   "\" is not registered with this worker; registered: " + JoinNames(Registry::Global().ActivityNames()));
    f->set_source(kFailureSource);
    f->mutable_application_failure_info()->set_type("NotFoundError");
    return result;
  }
  try {
    *result.mutable_completed()->mutable_result() = ToProto(activity->fn(ctx, input));
  } catch (const AsyncCompletionRequest&) {
    result.mutable_will_complete_async();
  } catch (const std::exception& e) {
    if (ctx.is_cancelled() && IsCancellation(e)) {
      *result.mutable_cancelled()->mutable_failure() = ExceptionToProto(std::current_exception());
    } else {
      *result.mutable_failed()->mutable_failure() = ExceptionToProto(std::current_exception());
    }
  } catch (...) {
    *result.mutable_failed()->mutable_failure() = ExceptionToProto(std::current_exception());
  }
  return result;
}

}  // namespace hourglass::sdk
