#include "bridgehost/activity_worker.h"

#include <spdlog/spdlog.h>

#include "bridgehost/grpc_errors.h"
#include "bridgehost/late_tasks.h"
#include "ipc/failpoint.h"

namespace hourglass::bridgehost {

namespace v1 = ::hourglass::ipc::v1;
namespace at = ::coresdk::activity_task;
using Async = wsv::WorkflowService::StubInterface::async_interface;
using std::chrono::milliseconds;

namespace {

// Core's buffer on top of the server's timeouts before it gives up locally.
constexpr milliseconds kLocalTimeoutGrace{5000};
constexpr milliseconds kDefaultThrottle{30000};
constexpr milliseconds kMaxThrottle{60000};

// Fault point: an activity task (start or cancel) is taken from Core, not yet
// sent to the poller. "error" answers the poll INTERNAL; the task stays for
// the next one.
bool PollReplyFailpoint() {
  return HOURGLASS_FAILPOINT("bridgehost.poll_activity_task.before_send");
}
ipc::Error PollReplyError() {
  return ipc::MakeError(v1::ERROR_KIND_INTERNAL,
                        failpoint::ErrorMessage("bridgehost.poll_activity_task.before_send"));
}

milliseconds ToMs(const google::protobuf::Duration& d) {
  return milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

at::ActivityTask ToCoreTask(wsv::PollActivityTaskQueueResponse& r) {
  at::ActivityTask task;
  task.set_task_token(r.task_token());
  auto* s = task.mutable_start();
  s->set_workflow_namespace(r.workflow_namespace());
  s->set_workflow_type(r.workflow_type().name());
  *s->mutable_workflow_execution() = r.workflow_execution();
  s->set_activity_id(r.activity_id());
  s->set_activity_type(r.activity_type().name());
  for (auto& [k, v] : *r.mutable_header()->mutable_fields()) (*s->mutable_header_fields())[k] = std::move(v);
  for (auto& p : *r.mutable_input()->mutable_payloads()) *s->add_input() = std::move(p);
  for (auto& p : *r.mutable_heartbeat_details()->mutable_payloads()) *s->add_heartbeat_details() = std::move(p);
  *s->mutable_scheduled_time() = r.scheduled_time();
  *s->mutable_current_attempt_scheduled_time() = r.current_attempt_scheduled_time();
  *s->mutable_started_time() = r.started_time();
  s->set_attempt(static_cast<uint32_t>(r.attempt()));
  *s->mutable_schedule_to_close_timeout() = r.schedule_to_close_timeout();
  *s->mutable_start_to_close_timeout() = r.start_to_close_timeout();
  *s->mutable_heartbeat_timeout() = r.heartbeat_timeout();
  *s->mutable_retry_policy() = r.retry_policy();
  if (r.has_priority()) *s->mutable_priority() = r.priority();
  return task;
}

}  // namespace

ActivityWorker::ActivityWorker(Runtime& runtime, std::string ns, std::string task_queue,
                               const v1::WorkerOptions& options, LateActivityTaskSink late_tasks)
    : runtime_(runtime),
      namespace_(std::move(ns)),
      task_queue_(std::move(task_queue)),
      options_(options),
      late_tasks_(std::move(late_tasks)) {}

ActivityWorker::~ActivityWorker() {
  *alive_ = false;
  Shutdown();
}

milliseconds ActivityWorker::ThrottleFor(milliseconds heartbeat_timeout) const {
  const milliseconds max = options_.max_heartbeat_throttle_interval_ms() > 0
                               ? milliseconds(options_.max_heartbeat_throttle_interval_ms())
                               : kMaxThrottle;
  const milliseconds fallback = options_.default_heartbeat_throttle_interval_ms() > 0
                                    ? milliseconds(options_.default_heartbeat_throttle_interval_ms())
                                    : kDefaultThrottle;
  const milliseconds t = heartbeat_timeout.count() > 0 ? heartbeat_timeout * 4 / 5 : fallback;
  return std::min(t, max);
}

void ActivityWorker::Poll(ipc::Responder responder) {
  if (shutting_down_) {
    responder.ReplyError(ipc::MakeError(v1::ERROR_KIND_SHUTDOWN, "activity worker for " + task_queue_ +
                                                                     " is shutting down"));
    return;
  }
  if (!ready_.empty()) {
    if (PollReplyFailpoint()) {
      responder.ReplyError(PollReplyError());
      return;
    }
    v1::Response out;
    *out.mutable_poll_activity_task()->mutable_task() = ready_.front();
    // If the caller is already gone the task stays for the next poller.
    if (responder.Reply(std::move(out))) ready_.pop_front();
    return;
  }
  parked_.Park(std::move(responder));
  MaybePollServer();
}

void ActivityWorker::CancelPoll(ipc::ConnectionId connection, uint64_t request_id) {
  parked_.Cancel(connection, request_id);
}

void ActivityWorker::MaybePollServer() {
  // Drop pollers that went away, so we do not take tasks for nobody.
  parked_.DropDead();
  const int max_polls = options_.max_concurrent_activity_task_polls() > 0
                            ? static_cast<int>(options_.max_concurrent_activity_task_polls())
                            : 5;
  const size_t max_outstanding = options_.max_outstanding_activities() > 0
                                     ? options_.max_outstanding_activities()
                                     : 1000;
  while (!shutting_down_ && server_polls_ < max_polls &&
         static_cast<size_t>(server_polls_) < parked_.size() &&
         outstanding_.size() + ready_.size() + static_cast<size_t>(server_polls_) < max_outstanding) {
    ++server_polls_;
    wsv::PollActivityTaskQueueRequest req;
    req.set_namespace_(namespace_);
    req.mutable_task_queue()->set_name(task_queue_);
    req.mutable_task_queue()->set_kind(temporal::api::enums::v1::TASK_QUEUE_KIND_NORMAL);
    req.set_identity(options_.identity().empty() ? runtime_.identity() : options_.identity());
    CallOptions opts;
    opts.long_poll = true;
    opts.timeout = milliseconds(70000);
    opts.max_attempts = 1 << 20;
    AsyncMethod<wsv::PollActivityTaskQueueRequest, wsv::PollActivityTaskQueueResponse> m =
        &Async::PollActivityTaskQueue;
    auto alive = alive_;
    runtime_.Call(
        m, std::move(req), opts,
        [this, alive, late = late_tasks_](grpc::Status st, wsv::PollActivityTaskQueueResponse r) {
          if (!*alive) {
            // This worker is gone (late_tasks.h).
            if (st.ok() && !r.task_token().empty()) late(std::move(r));
            return;
          }
          --server_polls_;
          if (!st.ok()) {
            if (!shutting_down_) {
              spdlog::warn("bridgehost: activity poll on {} failed: {}", task_queue_,
                           st.error_message());
              retry_timer_ =
                  runtime_.loop().AddTimer(milliseconds(1000), [this] { MaybePollServer(); });
            }
            return;
          }
          if (!r.task_token().empty()) OnServerTask(std::move(r));
          MaybePollServer();
        });
  }
}

void ActivityWorker::OnServerTask(wsv::PollActivityTaskQueueResponse response) {
  if (shutting_down_) {
    late_tasks_(std::move(response));  // late_tasks.h
    return;
  }
  const std::string token = response.task_token();
  auto& o = outstanding_[token];
  o.heartbeat_timeout = ToMs(response.heartbeat_timeout());
  o.throttle = ThrottleFor(o.heartbeat_timeout);
  const milliseconds start_to_close = ToMs(response.start_to_close_timeout());
  if (start_to_close.count() > 0) {
    o.timeout_timer = runtime_.loop().AddTimer(start_to_close + kLocalTimeoutGrace, [this, token] {
      IssueCancel(token, at::TIMED_OUT);
    });
  }
  Deliver(ToCoreTask(response));
}

void ActivityWorker::AcceptLateTask(wsv::PollActivityTaskQueueResponse task) {
  if (!task.task_token().empty()) OnServerTask(std::move(task));
}

void ActivityWorker::Deliver(at::ActivityTask task) {
  v1::Response out;
  *out.mutable_poll_activity_task()->mutable_task() = std::move(task);
  if (!parked_.empty() && PollReplyFailpoint()) {
    parked_.AnswerAll(PollReplyError());
  } else if (parked_.Offer(out).has_value()) {
    return;
  }
  ready_.push_back(std::move(*out.mutable_poll_activity_task()->mutable_task()));
}

void ActivityWorker::IssueCancel(const std::string& token, at::ActivityCancelReason reason) {
  auto it = outstanding_.find(token);
  if (it == outstanding_.end() || it->second.cancel_issued) return;
  it->second.cancel_issued = true;
  it->second.cancel_reason = reason;
  at::ActivityTask task;
  task.set_task_token(token);
  auto* c = task.mutable_cancel();
  c->set_reason(reason);
  auto* d = c->mutable_details();
  d->set_is_not_found(reason == at::NOT_FOUND || reason == at::TIMED_OUT);
  d->set_is_cancelled(reason == at::CANCELLED);
  d->set_is_timed_out(reason == at::TIMED_OUT);
  d->set_is_worker_shutdown(reason == at::WORKER_SHUTDOWN);
  Deliver(std::move(task));
}

void ActivityWorker::Complete(const coresdk::ActivityTaskCompletion& completion, ipc::Responder responder) {
  auto shared = std::make_shared<ipc::Responder>(std::move(responder));
  const std::string& token = completion.task_token();
  temporal::api::common::v1::Payloads last_details;
  bool worker_shutdown_cancel = false;
  if (auto it = outstanding_.find(token); it != outstanding_.end()) {
    last_details = it->second.has_pending_details ? it->second.pending_details : it->second.last_details;
    worker_shutdown_cancel = it->second.cancel_issued && it->second.cancel_reason == at::WORKER_SHUTDOWN;
    outstanding_.erase(it);
  }
  auto reply = [shared](grpc::Status st, const char* what) {
    // Fault point: the server accepted the completion; the worker (or
    // executor) has not been told. "error" answers it INTERNAL.
    if (st.ok() && HOURGLASS_FAILPOINT("bridgehost.complete_activity_task.before_reply")) {
      shared->ReplyError(ipc::MakeError(
          v1::ERROR_KIND_INTERNAL,
          failpoint::ErrorMessage("bridgehost.complete_activity_task.before_reply")));
      return;
    }
    if (st.ok()) {
      v1::Response out;
      out.mutable_complete_activity_task();
      shared->Reply(std::move(out));
    } else {
      shared->ReplyError(ToIpcError(st, what));
    }
  };
  const auto& result = completion.result();
  if (result.has_completed()) {
    wsv::RespondActivityTaskCompletedRequest req;
    req.set_namespace_(namespace_);
    req.set_task_token(token);
    req.set_identity(runtime_.identity());
    if (result.completed().has_result()) *req.mutable_result()->add_payloads() = result.completed().result();
    AsyncMethod<wsv::RespondActivityTaskCompletedRequest, wsv::RespondActivityTaskCompletedResponse> m =
        &Async::RespondActivityTaskCompleted;
    runtime_.Call(m, std::move(req), CallOptions{},
                  [reply](grpc::Status st, wsv::RespondActivityTaskCompletedResponse) {
                    reply(st, "RespondActivityTaskCompleted");
                  });
  } else if (result.has_failed() || (result.has_cancelled() && worker_shutdown_cancel)) {
    wsv::RespondActivityTaskFailedRequest req;
    req.set_namespace_(namespace_);
    req.set_task_token(token);
    req.set_identity(runtime_.identity());
    *req.mutable_failure() = result.has_failed() ? result.failed().failure() : result.cancelled().failure();
    if (last_details.payloads_size() > 0) *req.mutable_last_heartbeat_details() = last_details;
    AsyncMethod<wsv::RespondActivityTaskFailedRequest, wsv::RespondActivityTaskFailedResponse> m =
        &Async::RespondActivityTaskFailed;
    runtime_.Call(m, std::move(req), CallOptions{},
                  [reply](grpc::Status st, wsv::RespondActivityTaskFailedResponse) {
                    reply(st, "RespondActivityTaskFailed");
                  });
  } else if (result.has_cancelled()) {
    wsv::RespondActivityTaskCanceledRequest req;
    req.set_namespace_(namespace_);
    req.set_task_token(token);
    req.set_identity(runtime_.identity());
    const auto& failure = result.cancelled().failure();
    if (failure.has_canceled_failure_info()) *req.mutable_details() = failure.canceled_failure_info().details();
    AsyncMethod<wsv::RespondActivityTaskCanceledRequest, wsv::RespondActivityTaskCanceledResponse> m =
        &Async::RespondActivityTaskCanceled;
    runtime_.Call(m, std::move(req), CallOptions{},
                  [reply](grpc::Status st, wsv::RespondActivityTaskCanceledResponse) {
                    reply(st, "RespondActivityTaskCanceled");
                  });
  } else if (result.has_will_complete_async()) {
    reply(grpc::Status::OK, "");  // the task is completed later, by token, by someone else
  } else {
    shared->ReplyError(ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                                      "activity completion has no result (completed, failed, "
                                      "cancelled or will_complete_async)"));
  }
  MaybePollServer();
}

void ActivityWorker::Heartbeat(const coresdk::ActivityHeartbeat& heartbeat, ipc::Responder responder) {
  v1::Response out;
  out.mutable_record_activity_heartbeat();
  responder.Reply(std::move(out));  // heartbeats never fail to the caller (Core's contract)
  auto it = outstanding_.find(heartbeat.task_token());
  if (it == outstanding_.end()) {
    spdlog::debug("bridgehost: heartbeat for an unknown activity task on {}", task_queue_);
    return;
  }
  auto& o = it->second;
  o.pending_details.Clear();
  for (const auto& p : heartbeat.details()) *o.pending_details.add_payloads() = p;
  o.has_pending_details = true;
  if (o.heartbeat_in_flight || o.throttle_timer) return;
  const auto since = std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - o.last_sent);
  if (o.last_sent.time_since_epoch().count() == 0 || since >= o.throttle) {
    SendHeartbeat(heartbeat.task_token());
  } else {
    const std::string token = heartbeat.task_token();
    o.throttle_timer = runtime_.loop().AddTimer(o.throttle - since, [this, token] {
      auto t = outstanding_.find(token);
      if (t == outstanding_.end()) return;
      t->second.throttle_timer.Reset();
      if (t->second.has_pending_details && !t->second.heartbeat_in_flight) SendHeartbeat(token);
    });
  }
}

void ActivityWorker::SendHeartbeat(const std::string& token) {
  auto& o = outstanding_.at(token);
  wsv::RecordActivityTaskHeartbeatRequest req;
  req.set_namespace_(namespace_);
  req.set_task_token(token);
  req.set_identity(runtime_.identity());
  *req.mutable_details() = o.pending_details;
  o.last_details = o.pending_details;
  o.has_pending_details = false;
  o.heartbeat_in_flight = true;
  o.last_sent = std::chrono::steady_clock::now();
  // The local timeout restarts with each heartbeat.
  AsyncMethod<wsv::RecordActivityTaskHeartbeatRequest, wsv::RecordActivityTaskHeartbeatResponse> m =
      &Async::RecordActivityTaskHeartbeat;
  auto alive = alive_;
  runtime_.Call(m, std::move(req), CallOptions{},
                [this, alive, token](grpc::Status st, wsv::RecordActivityTaskHeartbeatResponse r) {
                  if (!*alive) return;
                  auto it = outstanding_.find(token);
                  if (it == outstanding_.end()) return;
                  it->second.heartbeat_in_flight = false;
                  if (!st.ok()) {
                    if (st.error_code() == grpc::StatusCode::NOT_FOUND) IssueCancel(token, at::NOT_FOUND);
                    return;
                  }
                  if (r.cancel_requested()) {
                    IssueCancel(token, at::CANCELLED);
                  } else if (r.activity_reset()) {
                    IssueCancel(token, at::RESET);
                  } else if (r.activity_paused()) {
                    IssueCancel(token, at::PAUSED);
                  }
                  if (it->second.has_pending_details && !it->second.throttle_timer) {
                    it->second.throttle_timer =
                        runtime_.loop().AddTimer(it->second.throttle, [this, token] {
                          auto t = outstanding_.find(token);
                          if (t == outstanding_.end()) return;
                          t->second.throttle_timer.Reset();
                          if (t->second.has_pending_details && !t->second.heartbeat_in_flight) {
                            SendHeartbeat(token);
                          }
                        });
                  }
                });
}

void ActivityWorker::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  // Server polls are not cancelled (late_tasks.h): they run out.
  retry_timer_.Reset();
  parked_.AnswerAll(ipc::MakeError(v1::ERROR_KIND_SHUTDOWN, "activity worker for " + task_queue_ + " shut down"));
}

}  // namespace hourglass::bridgehost
