// Activities: dispatch, heartbeats, completion by token and by id, server-side
// retries, the four timeouts and cancellation. Started is transient: no event
// is written when a worker takes an attempt; ActivityTaskStarted is written
// together with the attempt's final outcome.

#include <spdlog/spdlog.h>

#include "devserver/engine/engine.h"
#include "devserver/engine/engine_internal.h"
#include "devserver/engine/retry.h"

namespace hourglass::devserver {

namespace {

const char* TimeoutName(enums::TimeoutType type) {
  switch (type) {
    case enums::TIMEOUT_TYPE_START_TO_CLOSE:
      return "StartToClose";
    case enums::TIMEOUT_TYPE_SCHEDULE_TO_START:
      return "ScheduleToStart";
    case enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE:
      return "ScheduleToClose";
    case enums::TIMEOUT_TYPE_HEARTBEAT:
      return "Heartbeat";
    default:
      return "";
  }
}

}  // namespace

void Engine::ArmActivityAttemptTimers(const Run& run, const v1::ActivityInfo& ai) {
  const auto& a = ai.attributes();
  const std::string& run_id = run.state.run_id();
  const int64_t sid = ai.scheduled_event_id();
  const int64_t s2c = DurationMs(a.schedule_to_close_timeout());
  if (s2c > 0) {
    timers_.Add(ai.first_scheduled_time_ms() + s2c, {TimerKind::kActivityScheduleToClose, run_id, sid, 0, ""});
  }
  if (ai.state() == v1::ACTIVITY_STATE_SCHEDULED) {
    if (ai.retry_at_ms() > 0) {
      timers_.Add(ai.retry_at_ms(), {TimerKind::kActivityRetry, run_id, sid, ai.attempt(), ""});
    }
    const int64_t s2s = DurationMs(a.schedule_to_start_timeout());
    // Only worth a timer when it can fire before schedule-to-close.
    if (s2s > 0 && (s2c <= 0 || s2s < s2c) && ai.attempt() == 1) {
      timers_.Add(ai.attempt_scheduled_time_ms() + s2s,
                  {TimerKind::kActivityScheduleToStart, run_id, sid, ai.attempt(), ""});
    }
  } else {
    timers_.Add(ai.started_time_ms() + DurationMs(a.start_to_close_timeout()),
                {TimerKind::kActivityStartToClose, run_id, sid, ai.attempt(), ""});
    const int64_t hb = DurationMs(a.heartbeat_timeout());
    if (hb > 0) {
      const int64_t last = std::max(ai.started_time_ms(), ai.last_heartbeat_time_ms());
      timers_.Add(last + hb, {TimerKind::kActivityHeartbeat, run_id, sid, ai.attempt(), ""});
    }
  }
}

uint64_t Engine::PollActivityTaskQueue(const wsv::PollActivityTaskQueueRequest& req,
                                       int64_t deadline_ms,
                                       Done<wsv::PollActivityTaskQueueResponse> done,
                                       PollerGone gone) {
  now_ = clock_.NowMs();
  if (auto st = CheckPoll(req.namespace_(), req.task_queue().name()); !st.ok()) {
    done(st, {});
    return 0;
  }
  auto waiter = std::make_unique<Waiter>();
  waiter->key = {req.namespace_(), req.task_queue().name(), TaskType::kActivity};
  waiter->identity = req.identity();
  waiter->activity_done = std::move(done);
  waiter->gone = std::move(gone);
  return Park(std::move(waiter), deadline_ms);
}

bool Engine::TryDispatchActivityTask(Waiter& waiter, const QueuedTask& task) {
  now_ = clock_.NowMs();
  Run* run = FindRunById(task.run_id);
  if (run == nullptr || !run->open()) return false;
  auto& activities = *run->state.mutable_activities();
  auto it = activities.find(task.ref);
  if (it == activities.end()) return false;
  auto& ai = it->second;
  if (ai.state() != v1::ACTIVITY_STATE_SCHEDULED || ai.attempt() != task.attempt ||
      ai.retry_at_ms() > now_) {
    return false;
  }
  Txn txn;
  txn.Touch(run);
  ai.set_state(v1::ACTIVITY_STATE_STARTED);
  ai.set_started_time_ms(now_);
  ai.set_started_identity(waiter.identity);
  ai.set_started_request_id(NewId());
  ai.set_last_heartbeat_time_ms(0);
  ArmActivityAttemptTimers(*run, ai);
  Commit(txn);

  const auto& a = ai.attributes();
  wsv::PollActivityTaskQueueResponse resp;
  v1::TaskToken token;
  token.set_kind(v1::TOKEN_KIND_ACTIVITY_TASK);
  token.set_namespace_(run->state.namespace_());
  token.set_workflow_id(run->state.workflow_id());
  token.set_run_id(run->state.run_id());
  token.set_scheduled_event_id(ai.scheduled_event_id());
  token.set_attempt(ai.attempt());
  resp.set_task_token(token.SerializeAsString());
  resp.set_workflow_namespace(run->state.namespace_());
  *resp.mutable_workflow_type() = run->state.started().workflow_type();
  resp.mutable_workflow_execution()->set_workflow_id(run->state.workflow_id());
  resp.mutable_workflow_execution()->set_run_id(run->state.run_id());
  *resp.mutable_activity_type() = a.activity_type();
  resp.set_activity_id(a.activity_id());
  if (a.has_header()) *resp.mutable_header() = a.header();
  if (a.has_input()) *resp.mutable_input() = a.input();
  if (ai.has_heartbeat_details()) *resp.mutable_heartbeat_details() = ai.heartbeat_details();
  *resp.mutable_scheduled_time() = MsToTimestamp(ai.first_scheduled_time_ms());
  *resp.mutable_current_attempt_scheduled_time() = MsToTimestamp(ai.attempt_scheduled_time_ms());
  *resp.mutable_started_time() = MsToTimestamp(now_);
  resp.set_attempt(ai.attempt());
  *resp.mutable_schedule_to_close_timeout() = a.schedule_to_close_timeout();
  *resp.mutable_start_to_close_timeout() = a.start_to_close_timeout();
  *resp.mutable_heartbeat_timeout() = a.heartbeat_timeout();
  *resp.mutable_retry_policy() = a.retry_policy();
  waiter.activity_done(grpc::Status::OK, std::move(resp));
  return true;
}

grpc::Status Engine::FindActivity(const v1::TaskToken& token, Run** run_out, v1::ActivityInfo** out) {
  common::WorkflowExecution exec;
  exec.set_workflow_id(token.workflow_id());
  exec.set_run_id(token.run_id());
  Run* run = nullptr;
  if (auto st = ResolveRun(token.namespace_(), exec, &run, true); !st.ok()) return st;
  auto& activities = *run->state.mutable_activities();
  auto it = activities.find(token.scheduled_event_id());
  if (it == activities.end() || it->second.attempt() != token.attempt() ||
      it->second.state() != v1::ACTIVITY_STATE_STARTED) {
    return NotFound("activity task not found (it completed, timed out, or moved to another attempt)");
  }
  *run_out = run;
  *out = &it->second;
  return grpc::Status::OK;
}

grpc::Status Engine::FindActivityById(const std::string& ns, const std::string& workflow_id,
                                      const std::string& run_id, const std::string& activity_id,
                                      Run** run_out, v1::ActivityInfo** out) {
  if (activity_id.empty()) return InvalidArgument("activity_id is not set");
  common::WorkflowExecution exec;
  exec.set_workflow_id(workflow_id);
  exec.set_run_id(run_id);
  Run* run = nullptr;
  if (auto st = ResolveRun(ns, exec, &run, true); !st.ok()) return st;
  for (auto& [sid, ai] : *run->state.mutable_activities()) {
    if (ai.attributes().activity_id() == activity_id) {
      *run_out = run;
      *out = &ai;
      return grpc::Status::OK;
    }
  }
  return NotFound("activity " + activity_id + " not found");
}

void Engine::CloseActivity(Txn& txn, Run& run, v1::ActivityInfo& ai, hist::HistoryEvent outcome,
                           bool started) {
  const int64_t sid = ai.scheduled_event_id();
  if (started) {
    hist::HistoryEvent e;
    e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);
    *e.mutable_event_time() = MsToTimestamp(ai.started_time_ms() > 0 ? ai.started_time_ms() : now_);
    auto* a = e.mutable_activity_task_started_event_attributes();
    a->set_scheduled_event_id(sid);
    a->set_identity(ai.started_identity());
    a->set_request_id(ai.started_request_id());
    a->set_attempt(ai.attempt());
    if (ai.has_last_failure()) *a->mutable_last_failure() = ai.last_failure();
    const bool buffering = run.state.workflow_task().state() == v1::WORKFLOW_TASK_STATE_STARTED;
    AddEvent(txn, run, std::move(e));
    // When appended right away, the outcome names the Started event now; when
    // buffered, the flush fixes it.
    const int64_t started_id = buffering ? 0 : run.state.next_event_id() - 1;
    switch (outcome.event_type()) {
      case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        outcome.mutable_activity_task_completed_event_attributes()->set_started_event_id(started_id);
        break;
      case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED:
        outcome.mutable_activity_task_failed_event_attributes()->set_started_event_id(started_id);
        break;
      case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
        outcome.mutable_activity_task_timed_out_event_attributes()->set_started_event_id(started_id);
        break;
      case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED:
        outcome.mutable_activity_task_canceled_event_attributes()->set_started_event_id(started_id);
        break;
      default:
        break;
    }
  }
  AddEvent(txn, run, std::move(outcome));
  run.state.mutable_activities()->erase(sid);
  ScheduleWorkflowTask(txn, run);
}

grpc::Status Engine::CompleteActivity(Run& run, v1::ActivityInfo& ai, const common::Payloads* result,
                                      const std::string& identity) {
  if (result != nullptr) {
    if (auto e = CheckPayloads(*result, "result"); !e.empty()) return InvalidArgument(e);
  }
  Txn txn;
  if (!identity.empty()) ai.set_started_identity(identity);
  hist::HistoryEvent e;
  e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
  auto* a = e.mutable_activity_task_completed_event_attributes();
  if (result != nullptr) *a->mutable_result() = *result;
  a->set_scheduled_event_id(ai.scheduled_event_id());
  a->set_identity(identity);
  CloseActivity(txn, run, ai, std::move(e), /*started=*/true);
  Commit(txn);
  return grpc::Status::OK;
}

void Engine::HandleActivityFailure(Txn& txn, Run& run, v1::ActivityInfo& ai, const Failure& failure,
                                   const common::Payloads* last_heartbeat_details,
                                   const std::string& identity, enums::TimeoutType timeout) {
  txn.Touch(&run);
  if (last_heartbeat_details != nullptr && last_heartbeat_details->payloads_size() > 0) {
    *ai.mutable_heartbeat_details() = *last_heartbeat_details;
  }
  const auto& attrs = ai.attributes();
  const int64_t s2c = DurationMs(attrs.schedule_to_close_timeout());
  const int64_t deadline = s2c > 0 ? ai.first_scheduled_time_ms() + s2c : 0;
  const RetryDecision d = DecideRetry(attrs.retry_policy(), ai.attempt(), &failure, ai.cancel_requested(),
                                      now_, deadline, TimeoutName(timeout));
  if (d.state == enums::RETRY_STATE_IN_PROGRESS) {
    // Retried on the server: no history event; the next attempt becomes
    // visible after the backoff.
    ai.set_attempt(ai.attempt() + 1);
    ai.set_state(v1::ACTIVITY_STATE_SCHEDULED);
    *ai.mutable_last_failure() = failure;
    ai.set_attempt_scheduled_time_ms(now_ + d.backoff_ms);
    ai.set_retry_at_ms(now_ + d.backoff_ms);
    ai.set_started_time_ms(0);
    ai.set_last_heartbeat_time_ms(0);
    ai.set_queue_seq(next_queue_seq_++);
    ArmActivityAttemptTimers(run, ai);
    return;
  }
  hist::HistoryEvent e;
  if (timeout == enums::TIMEOUT_TYPE_UNSPECIFIED) {
    e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_FAILED);
    auto* a = e.mutable_activity_task_failed_event_attributes();
    *a->mutable_failure() = failure;
    a->set_scheduled_event_id(ai.scheduled_event_id());
    a->set_identity(identity);
    a->set_retry_state(d.state);
  } else {
    e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
    auto* a = e.mutable_activity_task_timed_out_event_attributes();
    *a->mutable_failure() = failure;
    a->set_scheduled_event_id(ai.scheduled_event_id());
    a->set_retry_state(d.state);
  }
  CloseActivity(txn, run, ai, std::move(e), /*started=*/true);
}

grpc::Status Engine::FailActivity(Run& run, v1::ActivityInfo& ai, const Failure& failure,
                                  const common::Payloads* last_heartbeat_details,
                                  const std::string& identity) {
  Txn txn;
  if (!identity.empty()) ai.set_started_identity(identity);
  HandleActivityFailure(txn, run, ai, failure, last_heartbeat_details, identity,
                        enums::TIMEOUT_TYPE_UNSPECIFIED);
  Commit(txn);
  return grpc::Status::OK;
}

grpc::Status Engine::CancelActivity(Run& run, v1::ActivityInfo& ai, const common::Payloads* details,
                                    const std::string& identity) {
  if (!ai.cancel_requested()) {
    return InvalidArgument("activity was not asked to cancel; complete or fail it instead");
  }
  Txn txn;
  hist::HistoryEvent e;
  e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
  auto* a = e.mutable_activity_task_canceled_event_attributes();
  if (details != nullptr) *a->mutable_details() = *details;
  a->set_latest_cancel_requested_event_id(ai.cancel_requested_event_id());
  a->set_scheduled_event_id(ai.scheduled_event_id());
  a->set_identity(identity);
  CloseActivity(txn, run, ai, std::move(e), /*started=*/true);
  Commit(txn);
  return grpc::Status::OK;
}

grpc::Status Engine::HeartbeatActivity(Run& run, v1::ActivityInfo& ai, const common::Payloads* details,
                                       bool* cancel_requested) {
  if (details != nullptr) {
    if (auto e = CheckPayloads(*details, "details"); !e.empty()) return InvalidArgument(e);
  }
  Txn txn;
  txn.Touch(&run);
  if (details != nullptr) *ai.mutable_heartbeat_details() = *details;
  ai.set_last_heartbeat_time_ms(now_);
  const int64_t hb = DurationMs(ai.attributes().heartbeat_timeout());
  if (hb > 0) {
    timers_.Add(now_ + hb, {TimerKind::kActivityHeartbeat, run.state.run_id(), ai.scheduled_event_id(),
                            ai.attempt(), ""});
  }
  *cancel_requested = ai.cancel_requested();
  Commit(txn);
  return grpc::Status::OK;
}

grpc::Status Engine::FindActivityByToken(const std::string& task_token, Run** run, v1::ActivityInfo** info) {
  v1::TaskToken token;
  if (auto st = ParseTaskToken(task_token, v1::TOKEN_KIND_ACTIVITY_TASK, &token); !st.ok()) return st;
  return FindActivity(token, run, info);
}

grpc::Status Engine::FindActivityToResolveById(const std::string& ns, const std::string& workflow_id,
                                               const std::string& run_id, const std::string& activity_id,
                                               Run** run, v1::ActivityInfo** info) {
  if (auto st = FindActivityById(ns, workflow_id, run_id, activity_id, run, info); !st.ok()) return st;
  // Resolving by id works whether or not a worker had started the attempt.
  if ((*info)->state() != v1::ACTIVITY_STATE_STARTED) {
    (*info)->set_state(v1::ACTIVITY_STATE_STARTED);
    (*info)->set_started_time_ms(now_);
  }
  return grpc::Status::OK;
}

// --- RPCs -------------------------------------------------------------------------

grpc::Status Engine::RecordActivityTaskHeartbeat(const wsv::RecordActivityTaskHeartbeatRequest& req,
                                                 wsv::RecordActivityTaskHeartbeatResponse* resp) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  v1::ActivityInfo* ai = nullptr;
  if (auto st = FindActivityByToken(req.task_token(), &run, &ai); !st.ok()) return st;
  bool cancel = false;
  auto st = HeartbeatActivity(*run, *ai, req.has_details() ? &req.details() : nullptr, &cancel);
  resp->set_cancel_requested(cancel);
  return st;
}

grpc::Status Engine::RecordActivityTaskHeartbeatById(
    const wsv::RecordActivityTaskHeartbeatByIdRequest& req,
    wsv::RecordActivityTaskHeartbeatByIdResponse* resp) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  v1::ActivityInfo* ai = nullptr;
  if (auto st = FindActivityById(req.namespace_(), req.workflow_id(), req.run_id(), req.activity_id(),
                                 &run, &ai);
      !st.ok()) {
    return st;
  }
  if (ai->state() != v1::ACTIVITY_STATE_STARTED) return NotFound("activity " + req.activity_id() + " is not running");
  bool cancel = false;
  auto st = HeartbeatActivity(*run, *ai, req.has_details() ? &req.details() : nullptr, &cancel);
  resp->set_cancel_requested(cancel);
  return st;
}

template <typename Request, typename Outcome>
grpc::Status Engine::ResolveRespondedActivity(const Request& req, Outcome outcome) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  v1::ActivityInfo* ai = nullptr;
  grpc::Status st;
  if constexpr (requires { req.task_token(); }) {
    st = FindActivityByToken(req.task_token(), &run, &ai);
  } else {
    st = FindActivityToResolveById(req.namespace_(), req.workflow_id(), req.run_id(), req.activity_id(),
                                   &run, &ai);
  }
  if (!st.ok()) return st;
  return outcome(*run, *ai);
}

template <typename Request>
grpc::Status Engine::CompleteRespondedActivity(const Request& req) {
  return ResolveRespondedActivity(req, [&](Run& run, v1::ActivityInfo& ai) {
    return CompleteActivity(run, ai, req.has_result() ? &req.result() : nullptr, req.identity());
  });
}

template <typename Request>
grpc::Status Engine::FailRespondedActivity(const Request& req) {
  return ResolveRespondedActivity(req, [&](Run& run, v1::ActivityInfo& ai) {
    return FailActivity(run, ai, req.failure(),
                        req.has_last_heartbeat_details() ? &req.last_heartbeat_details() : nullptr,
                        req.identity());
  });
}

template <typename Request>
grpc::Status Engine::CancelRespondedActivity(const Request& req) {
  return ResolveRespondedActivity(req, [&](Run& run, v1::ActivityInfo& ai) {
    return CancelActivity(run, ai, req.has_details() ? &req.details() : nullptr, req.identity());
  });
}

grpc::Status Engine::RespondActivityTaskCompleted(const wsv::RespondActivityTaskCompletedRequest& req,
                                                  wsv::RespondActivityTaskCompletedResponse*) {
  return CompleteRespondedActivity(req);
}

grpc::Status Engine::RespondActivityTaskCompletedById(
    const wsv::RespondActivityTaskCompletedByIdRequest& req,
    wsv::RespondActivityTaskCompletedByIdResponse*) {
  return CompleteRespondedActivity(req);
}

grpc::Status Engine::RespondActivityTaskFailed(const wsv::RespondActivityTaskFailedRequest& req,
                                               wsv::RespondActivityTaskFailedResponse*) {
  return FailRespondedActivity(req);
}

grpc::Status Engine::RespondActivityTaskFailedById(const wsv::RespondActivityTaskFailedByIdRequest& req,
                                                   wsv::RespondActivityTaskFailedByIdResponse*) {
  return FailRespondedActivity(req);
}

grpc::Status Engine::RespondActivityTaskCanceled(const wsv::RespondActivityTaskCanceledRequest& req,
                                                 wsv::RespondActivityTaskCanceledResponse*) {
  return CancelRespondedActivity(req);
}

grpc::Status Engine::RespondActivityTaskCanceledById(
    const wsv::RespondActivityTaskCanceledByIdRequest& req,
    wsv::RespondActivityTaskCanceledByIdResponse*) {
  return CancelRespondedActivity(req);
}

// --- timers -----------------------------------------------------------------------

void Engine::OnActivityTimer(const TimerKey& key) {
  Run* run = FindRunById(key.run_id);
  if (run == nullptr || !run->open()) return;
  auto& activities = *run->state.mutable_activities();
  auto it = activities.find(key.ref);
  if (it == activities.end()) return;
  auto& ai = it->second;
  const auto& a = ai.attributes();
  Txn txn;
  switch (key.kind) {
    case TimerKind::kActivityRetry: {
      if (ai.state() != v1::ACTIVITY_STATE_SCHEDULED || ai.attempt() != key.attempt ||
          ai.retry_at_ms() > now_) {
        return;
      }
      ai.set_retry_at_ms(0);
      txn.Touch(run);
      Enqueue(txn, {run->state.namespace_(), a.task_queue().name(), TaskType::kActivity},
              {run->state.run_id(), ai.scheduled_event_id(), ai.attempt(), ""});
      break;
    }
    case TimerKind::kActivityScheduleToStart: {
      if (ai.state() != v1::ACTIVITY_STATE_SCHEDULED || ai.attempt() != key.attempt) return;
      Failure f;
      f.set_message("activity ScheduleToStart timeout");
      f.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_SCHEDULE_TO_START);
      hist::HistoryEvent e;
      e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
      auto* ta = e.mutable_activity_task_timed_out_event_attributes();
      *ta->mutable_failure() = f;
      ta->set_scheduled_event_id(ai.scheduled_event_id());
      ta->set_retry_state(enums::RETRY_STATE_TIMEOUT);
      CloseActivity(txn, *run, ai, std::move(e), /*started=*/false);
      break;
    }
    case TimerKind::kActivityScheduleToClose: {
      if (now_ < ai.first_scheduled_time_ms() + DurationMs(a.schedule_to_close_timeout())) return;
      Failure f;
      f.set_message("activity ScheduleToClose timeout");
      auto* info = f.mutable_timeout_failure_info();
      info->set_timeout_type(enums::TIMEOUT_TYPE_SCHEDULE_TO_CLOSE);
      if (ai.has_heartbeat_details()) *info->mutable_last_heartbeat_details() = ai.heartbeat_details();
      if (ai.has_last_failure()) *f.mutable_cause() = ai.last_failure();
      hist::HistoryEvent e;
      e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT);
      auto* ta = e.mutable_activity_task_timed_out_event_attributes();
      *ta->mutable_failure() = f;
      ta->set_scheduled_event_id(ai.scheduled_event_id());
      ta->set_retry_state(enums::RETRY_STATE_TIMEOUT);
      CloseActivity(txn, *run, ai, std::move(e), ai.state() == v1::ACTIVITY_STATE_STARTED);
      break;
    }
    case TimerKind::kActivityStartToClose:
    case TimerKind::kActivityHeartbeat: {
      if (ai.state() != v1::ACTIVITY_STATE_STARTED || ai.attempt() != key.attempt) return;
      const bool heartbeat = key.kind == TimerKind::kActivityHeartbeat;
      if (heartbeat) {
        const int64_t last = std::max(ai.started_time_ms(), ai.last_heartbeat_time_ms());
        if (now_ < last + DurationMs(a.heartbeat_timeout())) return;  // a newer heartbeat re-armed it
      } else if (now_ < ai.started_time_ms() + DurationMs(a.start_to_close_timeout())) {
        return;
      }
      const auto type = heartbeat ? enums::TIMEOUT_TYPE_HEARTBEAT : enums::TIMEOUT_TYPE_START_TO_CLOSE;
      Failure f;
      f.set_message(std::string("activity ") + TimeoutName(type) + " timeout");
      auto* info = f.mutable_timeout_failure_info();
      info->set_timeout_type(type);
      if (ai.has_heartbeat_details()) *info->mutable_last_heartbeat_details() = ai.heartbeat_details();
      HandleActivityFailure(txn, *run, ai, f, nullptr, ai.started_identity(), type);
      break;
    }
    default:
      return;
  }
  Commit(txn);
}

}  // namespace hourglass::devserver
