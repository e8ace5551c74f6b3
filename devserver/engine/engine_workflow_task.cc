// Workflow tasks: polling and dispatch, completion with its commands, failure,
// timeouts, and queries (buffered into workflow tasks, or direct query tasks).

#include <spdlog/spdlog.h>

#include "devserver/engine/engine.h"
#include "devserver/engine/engine_internal.h"
#include "devserver/engine/retry.h"

namespace hourglass::devserver {

namespace cmd = temporal::api::command::v1;

namespace {

bool IsTerminalCommand(enums::CommandType type) {
  switch (type) {
    case enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
    case enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
    case enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
    case enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION:
      return true;
    default:
      return false;
  }
}

struct CommandProblem {
  enums::WorkflowTaskFailedCause cause = enums::WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED;
  std::string message;
  explicit operator bool() const { return cause != enums::WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED; }
};

CommandProblem Problem(enums::WorkflowTaskFailedCause cause, std::string message) {
  return {cause, std::move(message)};
}

std::string FirstNegative(std::initializer_list<std::pair<const google::protobuf::Duration*, const char*>> ds) {
  for (const auto& [d, name] : ds) {
    if (auto e = CheckNonNegative(*d, name); !e.empty()) return e;
  }
  return "";
}

}  // namespace

struct Engine::CommandContext {
  int64_t completed_event_id = 0;
  std::string identity;
  bool need_workflow_task = false;
  // Timers canceled in this completion whose TimerFired was still buffered:
  // timer id -> started event id.
  std::map<std::string, int64_t> fired_but_canceled;
};

// --- tokens ---------------------------------------------------------------------

grpc::Status Engine::ParseTaskToken(const std::string& bytes, v1::TokenKind kind,
                                    v1::TaskToken* token) {
  if (bytes.empty()) return InvalidArgument("task_token is not set");
  if (!token->ParseFromString(bytes) || token->kind() != kind || token->run_id().empty()) {
    return InvalidArgument("task_token is not a token this server issued");
  }
  return grpc::Status::OK;
}

// --- polling ----------------------------------------------------------------------

uint64_t Engine::PollWorkflowTaskQueue(const wsv::PollWorkflowTaskQueueRequest& req,
                                       int64_t deadline_ms,
                                       Done<wsv::PollWorkflowTaskQueueResponse> done,
                                       PollerGone gone) {
  now_ = clock_.NowMs();
  if (auto st = CheckPoll(req.namespace_(), req.task_queue().name()); !st.ok()) {
    done(st, {});
    return 0;
  }
  auto waiter = std::make_unique<Waiter>();
  // Sticky queues are never dispatched to (every task goes to the normal
  // queue with full history), so sticky polls simply wait out their time.
  waiter->key = {req.namespace_(), req.task_queue().name(), TaskType::kWorkflow};
  waiter->identity = req.identity();
  waiter->workflow_done = std::move(done);
  waiter->gone = std::move(gone);
  return Park(std::move(waiter), deadline_ms);
}

grpc::Status Engine::CheckPoll(const std::string& ns, const std::string& task_queue) const {
  if (auto st = CheckNamespace(ns); !st.ok()) return st;
  if (task_queue.empty()) return InvalidArgument("task_queue.name is not set");
  return grpc::Status::OK;
}

uint64_t Engine::Park(std::unique_ptr<Waiter> waiter, int64_t deadline_ms) {
  waiter->id = next_waiter_id_++;
  const uint64_t id = waiter->id;
  if (shutting_down_) {
    AnswerEmpty(*waiter);
    return id;
  }
  const QueueKey key = waiter->key;
  waiters_[id] = std::move(waiter);
  queues_[key].waiters.push_back(id);
  MatchQueue(key);
  if (waiters_.contains(id)) {
    // The real server's cap, or a second before the caller gives up.
    int64_t expiry = now_ + options_.max_poll_wait_ms;
    if (deadline_ms > 0) expiry = std::min(expiry, deadline_ms - 1000);
    if (expiry <= now_) {
      OnPollExpiry(id);
    } else {
      timers_.Add(expiry, {TimerKind::kPollExpiry, "", static_cast<int64_t>(id), 0, ""});
    }
  }
  return id;
}

bool Engine::TryDispatchWorkflowTask(Waiter& waiter, const QueuedTask& task) {
  now_ = clock_.NowMs();
  Run* run = FindRunById(task.run_id);
  if (run == nullptr || !run->open()) return false;
  auto& wt = *run->state.mutable_workflow_task();
  if (wt.state() != v1::WORKFLOW_TASK_STATE_SCHEDULED || wt.scheduled_event_id() != task.ref) {
    return false;  // stale: already started, or superseded
  }
  Txn txn;
  auto& e = Append(txn, *run, enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  auto* a = e.mutable_workflow_task_started_event_attributes();
  a->set_scheduled_event_id(wt.scheduled_event_id());
  a->set_identity(waiter.identity);
  a->set_request_id(NewId());
  a->set_history_size_bytes(run->state.history_size_bytes());
  const int64_t started_id = e.event_id();
  wt.set_state(v1::WORKFLOW_TASK_STATE_STARTED);
  wt.set_started_event_id(started_id);
  wt.set_started_time_ms(now_);
  wt.set_started_identity(waiter.identity);
  timers_.Add(now_ + DurationMs(wt.start_to_close_timeout()),
              {TimerKind::kWorkflowTaskStartToClose, run->state.run_id(), wt.scheduled_event_id(),
               wt.attempt(), ""});
  Commit(txn);

  wsv::PollWorkflowTaskQueueResponse resp;
  v1::TaskToken token;
  token.set_kind(v1::TOKEN_KIND_WORKFLOW_TASK);
  token.set_namespace_(run->state.namespace_());
  token.set_workflow_id(run->state.workflow_id());
  token.set_run_id(run->state.run_id());
  token.set_scheduled_event_id(wt.scheduled_event_id());
  token.set_started_event_id(started_id);
  token.set_attempt(wt.attempt());
  resp.set_task_token(token.SerializeAsString());
  resp.mutable_workflow_execution()->set_workflow_id(run->state.workflow_id());
  resp.mutable_workflow_execution()->set_run_id(run->state.run_id());
  *resp.mutable_workflow_type() = run->state.started().workflow_type();
  resp.set_previous_started_event_id(run->state.last_completed_wt_started_event_id());
  resp.set_started_event_id(started_id);
  resp.set_attempt(wt.attempt());
  *resp.mutable_workflow_execution_task_queue() = run->state.started().task_queue();
  *resp.mutable_scheduled_time() = MsToTimestamp(wt.scheduled_time_ms());
  *resp.mutable_started_time() = MsToTimestamp(now_);
  // The first page of history; the worker pages the rest with
  // GetWorkflowExecutionHistory.
  const int64_t page = options_.history_page_size;
  auto* history = resp.mutable_history();
  for (int64_t id = 1; id <= started_id && id <= page; ++id) {
    *history->add_events() = run->history[static_cast<size_t>(id - 1)];
  }
  if (started_id > page) {
    v1::HistoryPageToken next;
    next.set_run_id(run->state.run_id());
    next.set_next_event_id(page + 1);
    resp.set_next_page_token(next.SerializeAsString());
  }
  for (auto& [id, q] : queries_) {
    if (q->run_id == run->state.run_id() && !q->dispatched) {
      (*resp.mutable_queries())[id] = q->query;
      q->dispatched = true;
    }
  }
  waiter.workflow_done(grpc::Status::OK, std::move(resp));
  return true;
}

bool Engine::TryDispatchQueryTask(Waiter& waiter, const QueuedTask& task) {
  auto qit = queries_.find(task.query_id);
  if (qit == queries_.end()) return false;
  PendingQuery& q = *qit->second;
  Run* run = FindRunById(q.run_id);
  if (run == nullptr) return false;
  auto events = ReadHistory(*run, 1, run->state.next_event_id());
  if (!events) {
    q.done(grpc::Status(grpc::StatusCode::INTERNAL, events.error().message()), {});
    queries_.erase(qit);
    return false;
  }
  wsv::PollWorkflowTaskQueueResponse resp;
  v1::TaskToken token;
  token.set_kind(v1::TOKEN_KIND_QUERY_TASK);
  token.set_namespace_(run->state.namespace_());
  token.set_workflow_id(run->state.workflow_id());
  token.set_run_id(run->state.run_id());
  token.set_query_id(q.id);
  resp.set_task_token(token.SerializeAsString());
  resp.mutable_workflow_execution()->set_workflow_id(run->state.workflow_id());
  resp.mutable_workflow_execution()->set_run_id(run->state.run_id());
  *resp.mutable_workflow_type() = run->state.started().workflow_type();
  resp.set_previous_started_event_id(run->state.last_completed_wt_started_event_id());
  resp.set_started_event_id(0);
  resp.set_attempt(1);
  *resp.mutable_workflow_execution_task_queue() = run->state.started().task_queue();
  *resp.mutable_query() = q.query;
  auto* history = resp.mutable_history();
  for (auto& e : *events) *history->add_events() = std::move(e);
  q.dispatched = true;
  waiter.workflow_done(grpc::Status::OK, std::move(resp));
  return true;
}

// --- completion -------------------------------------------------------------------

grpc::Status Engine::RespondWorkflowTaskCompleted(const wsv::RespondWorkflowTaskCompletedRequest& req,
                                                  wsv::RespondWorkflowTaskCompletedResponse*) {
  now_ = clock_.NowMs();
  v1::TaskToken token;
  if (auto st = ParseTaskToken(req.task_token(), v1::TOKEN_KIND_WORKFLOW_TASK, &token); !st.ok()) {
    return st;
  }
  if (!req.namespace_().empty() && req.namespace_() != token.namespace_()) {
    return InvalidArgument("namespace does not match the task token");
  }
  common::WorkflowExecution exec;
  exec.set_workflow_id(token.workflow_id());
  exec.set_run_id(token.run_id());
  Run* run = nullptr;
  if (auto st = ResolveRun(token.namespace_(), exec, &run, true); !st.ok()) return st;
  auto& wt = *run->state.mutable_workflow_task();
  if (wt.state() != v1::WORKFLOW_TASK_STATE_STARTED ||
      wt.scheduled_event_id() != token.scheduled_event_id() ||
      wt.started_event_id() != token.started_event_id() || wt.attempt() != token.attempt()) {
    return NotFound("workflow task not found (it timed out, failed, or was already completed)");
  }
  const auto& commands = req.commands();
  bool has_terminal = false;
  for (int i = 0; i < commands.size(); ++i) {
    if (!enums::CommandType_IsValid(commands[i].command_type())) {
      return InvalidArgument("commands[" + std::to_string(i) + "].command_type has an unknown value");
    }
    if (IsTerminalCommand(commands[i].command_type())) {
      if (i != commands.size() - 1) {
        return InvalidArgument("invalid command sequence: " +
                               enums::CommandType_Name(commands[i].command_type()) +
                               " must be the last command");
      }
      has_terminal = true;
    }
  }

  // Validate every command before anything changes: a bad command fails the
  // whole workflow task.
  CommandProblem problem;
  {
    std::set<std::string> activity_ids;
    for (const auto& [sid, ai] : run->state.activities()) activity_ids.insert(ai.attributes().activity_id());
    std::set<std::string> timer_ids;
    for (const auto& [tid, t] : run->state.timers()) timer_ids.insert(tid);
    std::set<std::string> buffered_fired;
    for (const auto& b : run->state.buffered()) {
      if (b.event_type() == enums::EVENT_TYPE_TIMER_FIRED) {
        buffered_fired.insert(b.timer_fired_event_attributes().timer_id());
      }
    }
    for (int i = 0; i < commands.size() && !problem; ++i) {
      const auto& c = commands[i];
      const std::string at = "commands[" + std::to_string(i) + "]";
      switch (c.command_type()) {
        case enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
          const auto& a = c.schedule_activity_task_command_attributes();
          const auto bad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SCHEDULE_ACTIVITY_ATTRIBUTES;
          if (!c.has_schedule_activity_task_command_attributes()) {
            problem = Problem(bad, at + ": attributes missing");
          } else if (a.activity_id().empty()) {
            problem = Problem(bad, at + ": activity_id is not set");
          } else if (a.activity_type().name().empty()) {
            problem = Problem(bad, at + ": activity_type.name is not set");
          } else if (!activity_ids.insert(a.activity_id()).second) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_SCHEDULE_ACTIVITY_DUPLICATE_ID,
                              at + ": activity id " + a.activity_id() + " is already in use");
          } else if (auto neg = FirstNegative({{&a.schedule_to_close_timeout(), "schedule_to_close_timeout"},
                                              {&a.schedule_to_start_timeout(), "schedule_to_start_timeout"},
                                              {&a.start_to_close_timeout(), "start_to_close_timeout"},
                                              {&a.heartbeat_timeout(), "heartbeat_timeout"}});
                     !neg.empty()) {
            problem = Problem(bad, at + ": " + neg);
          } else if (DurationMs(a.schedule_to_close_timeout()) <= 0 &&
                     DurationMs(a.start_to_close_timeout()) <= 0) {
            problem = Problem(bad, at + ": schedule_to_close_timeout or start_to_close_timeout must be set");
          } else if (a.has_retry_policy()) {
            if (auto e = ValidateRetryPolicy(a.retry_policy())) problem = Problem(bad, at + ": " + *e);
          }
          if (!problem) {
            if (auto e = CheckPayloads(a.input(), at + ".input"); !e.empty()) {
              problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_PAYLOADS_TOO_LARGE, e);
            }
          }
          break;
        }
        case enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK:
          if (c.request_cancel_activity_task_command_attributes().scheduled_event_id() <= 0) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_ACTIVITY_ATTRIBUTES,
                              at + ": scheduled_event_id is not set");
          }
          break;
        case enums::COMMAND_TYPE_START_TIMER: {
          const auto& a = c.start_timer_command_attributes();
          if (a.timer_id().empty()) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
                              at + ": timer_id is not set");
          } else if (DurationMs(a.start_to_fire_timeout()) <= 0 || IsNegative(a.start_to_fire_timeout())) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_TIMER_ATTRIBUTES,
                              at + ": start_to_fire_timeout must be positive");
          } else if (!timer_ids.insert(a.timer_id()).second) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_START_TIMER_DUPLICATE_ID,
                              at + ": timer id " + a.timer_id() + " is already in use");
          }
          break;
        }
        case enums::COMMAND_TYPE_CANCEL_TIMER: {
          const auto& id = c.cancel_timer_command_attributes().timer_id();
          if (!timer_ids.contains(id) && !buffered_fired.contains(id)) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_CANCEL_TIMER_ATTRIBUTES,
                              at + ": no timer " + id + " is running");
          }
          timer_ids.erase(id);
          break;
        }
        case enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: {
          const auto& a = c.start_child_workflow_execution_command_attributes();
          const auto bad = enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_START_CHILD_EXECUTION_ATTRIBUTES;
          if (a.workflow_id().empty()) {
            problem = Problem(bad, at + ": workflow_id is not set");
          } else if (a.workflow_type().name().empty()) {
            problem = Problem(bad, at + ": workflow_type.name is not set");
          } else if (auto neg = FirstNegative({{&a.workflow_execution_timeout(), "workflow_execution_timeout"},
                                              {&a.workflow_run_timeout(), "workflow_run_timeout"},
                                              {&a.workflow_task_timeout(), "workflow_task_timeout"}});
                     !neg.empty()) {
            problem = Problem(bad, at + ": " + neg);
          } else if (!a.cron_schedule().empty()) {
            problem = Problem(bad, at + ": cron_schedule is not supported by hourglass-devserver");
          } else if (a.has_retry_policy()) {
            if (auto e = ValidateRetryPolicy(a.retry_policy())) problem = Problem(bad, at + ": " + *e);
          }
          break;
        }
        case enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: {
          const auto& a = c.signal_external_workflow_execution_command_attributes();
          if (a.execution().workflow_id().empty() || a.signal_name().empty()) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_SIGNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
                              at + ": execution.workflow_id and signal_name must be set");
          }
          break;
        }
        case enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION:
          if (c.request_cancel_external_workflow_execution_command_attributes().workflow_id().empty()) {
            problem = Problem(
                enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_ATTRIBUTES,
                at + ": workflow_id is not set");
          }
          break;
        case enums::COMMAND_TYPE_RECORD_MARKER:
          if (c.record_marker_command_attributes().marker_name().empty()) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_RECORD_MARKER_ATTRIBUTES,
                              at + ": marker_name is not set");
          }
          break;
        case enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
          const auto& a = c.continue_as_new_workflow_execution_command_attributes();
          if (auto e = FirstNegative({{&a.workflow_run_timeout(), "workflow_run_timeout"},
                                      {&a.workflow_task_timeout(), "workflow_task_timeout"},
                                      {&a.backoff_start_interval(), "backoff_start_interval"}});
              !e.empty()) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES, at + ": " + e);
          } else if (!a.cron_schedule().empty()) {
            problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_BAD_CONTINUE_AS_NEW_ATTRIBUTES,
                              at + ": cron_schedule is not supported by hourglass-devserver");
          }
          break;
        }
        case enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION:
        case enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION:
        case enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION:
        case enums::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
        case enums::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES:
          break;
        default:
          problem = Problem(enums::WORKFLOW_TASK_FAILED_CAUSE_FEATURE_DISABLED,
                            at + ": " + enums::CommandType_Name(c.command_type()) +
                                " is not supported by hourglass-devserver");
          break;
      }
    }
  }

  Txn txn;
  if (problem) {
    FailWorkflowTask(txn, *run, problem.cause, problem.message, req.identity(), nullptr);
    Commit(txn);
    return InvalidArgument(problem.message);
  }

  // Timers canceled now whose TimerFired is still buffered: the fire is
  // dropped, the cancel recorded.
  CommandContext ctx;
  ctx.identity = req.identity();
  for (const auto& c : commands) {
    if (c.command_type() != enums::COMMAND_TYPE_CANCEL_TIMER) continue;
    const auto& id = c.cancel_timer_command_attributes().timer_id();
    auto* buffered = run->state.mutable_buffered();
    for (int i = 0; i < buffered->size(); ++i) {
      const auto& b = buffered->Get(i);
      if (b.event_type() == enums::EVENT_TYPE_TIMER_FIRED &&
          b.timer_fired_event_attributes().timer_id() == id) {
        ctx.fired_but_canceled[id] = b.timer_fired_event_attributes().started_event_id();
        buffered->DeleteSubrange(i, 1);
        break;
      }
    }
  }

  if (run->state.buffered_size() > 0 && has_terminal) {
    // New events arrived while the worker decided to close the run: it must
    // see them first. Core matches this exact message and replays quietly.
    FailWorkflowTask(txn, *run, enums::WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND,
                     "UnhandledCommand", req.identity(), nullptr);
    Commit(txn);
    return InvalidArgument("UnhandledCommand");
  }

  auto& done = Append(txn, *run, enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  auto* a = done.mutable_workflow_task_completed_event_attributes();
  a->set_scheduled_event_id(wt.scheduled_event_id());
  a->set_started_event_id(wt.started_event_id());
  a->set_identity(req.identity());
  if (req.has_sdk_metadata()) *a->mutable_sdk_metadata() = req.sdk_metadata();
  if (req.has_metering_metadata()) *a->mutable_metering_metadata() = req.metering_metadata();
  ctx.completed_event_id = done.event_id();
  run->state.set_last_completed_wt_started_event_id(wt.started_event_id());
  run->state.set_completed_workflow_tasks(run->state.completed_workflow_tasks() + 1);

  // The task stays "started" while commands apply, so that events they cause
  // on this same run (a signal to itself, a child's start) are buffered and
  // land after the command events.
  if (auto st = ApplyCommands(txn, *run, req, ctx.completed_event_id, ctx); !st.ok()) {
    spdlog::error("devserver: applying commands failed after validation: {}", st.error_message());
  }
  if (run->open()) {
    run->state.mutable_workflow_task()->set_state(v1::WORKFLOW_TASK_STATE_NONE);
    const bool flushed = FlushBuffered(txn, *run);
    if (flushed || ctx.need_workflow_task || req.force_create_new_workflow_task()) {
      ScheduleWorkflowTask(txn, *run);
    }
  }
  AnswerQueriesFor(*run, req);
  txn.after_commit.push_back([this, run] { RequeueQueriesFor(*run); });
  Commit(txn);
  return grpc::Status::OK;
}

grpc::Status Engine::ApplyCommands(Txn& txn, Run& run, const wsv::RespondWorkflowTaskCompletedRequest& req,
                                   int64_t completed_id, CommandContext& ctx) {
  auto& s = run.state;
  const auto& started = s.started();
  common::WorkflowExecution self;
  self.set_workflow_id(s.workflow_id());
  self.set_run_id(s.run_id());
  for (const auto& c : req.commands()) {
    if (!run.open()) break;
    switch (c.command_type()) {
      case enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK: {
        const auto& in = c.schedule_activity_task_command_attributes();
        auto& e = Append(txn, run, enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
        auto* a = e.mutable_activity_task_scheduled_event_attributes();
        a->set_activity_id(in.activity_id());
        *a->mutable_activity_type() = in.activity_type();
        a->mutable_task_queue()->set_name(in.task_queue().name().empty() ? started.task_queue().name()
                                                                         : in.task_queue().name());
        a->mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
        if (in.has_header()) *a->mutable_header() = in.header();
        if (in.has_input()) *a->mutable_input() = in.input();
        // Timeout normalization, as the real server does it.
        const int64_t run_timeout = DurationMs(started.workflow_run_timeout());
        int64_t s2c = DurationMs(in.schedule_to_close_timeout());
        int64_t s2s = DurationMs(in.schedule_to_start_timeout());
        int64_t st2c = DurationMs(in.start_to_close_timeout());
        int64_t hb = DurationMs(in.heartbeat_timeout());
        if (s2c > 0) {
          if (s2s <= 0 || s2s > s2c) s2s = s2c;
          if (st2c <= 0 || st2c > s2c) st2c = s2c;
        } else {
          s2c = run_timeout;
          if (s2s <= 0) s2s = run_timeout;
        }
        if (run_timeout > 0) {
          s2c = s2c > 0 ? std::min(s2c, run_timeout) : run_timeout;
          s2s = s2s > 0 ? std::min(s2s, run_timeout) : run_timeout;
          st2c = std::min(st2c, run_timeout);
        }
        if (hb > st2c) hb = st2c;
        if (s2c > 0) *a->mutable_schedule_to_close_timeout() = MsToDuration(s2c);
        if (s2s > 0) *a->mutable_schedule_to_start_timeout() = MsToDuration(s2s);
        *a->mutable_start_to_close_timeout() = MsToDuration(st2c);
        if (hb > 0) *a->mutable_heartbeat_timeout() = MsToDuration(hb);
        a->set_workflow_task_completed_event_id(completed_id);
        if (in.has_retry_policy()) *a->mutable_retry_policy() = in.retry_policy();
        NormalizeRetryPolicy(*a->mutable_retry_policy());
        v1::ActivityInfo info;
        info.set_scheduled_event_id(e.event_id());
        *info.mutable_attributes() = *a;
        info.set_state(v1::ACTIVITY_STATE_SCHEDULED);
        info.set_attempt(1);
        info.set_first_scheduled_time_ms(now_);
        info.set_attempt_scheduled_time_ms(now_);
        info.set_queue_seq(next_queue_seq_++);
        const int64_t sid = e.event_id();
        auto& stored = (*s.mutable_activities())[sid] = std::move(info);
        Enqueue(txn, {s.namespace_(), a->task_queue().name(), TaskType::kActivity},
                {s.run_id(), sid, 1, ""});
        ArmActivityAttemptTimers(run, stored);
        break;
      }
      case enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK: {
        const int64_t sid = c.request_cancel_activity_task_command_attributes().scheduled_event_id();
        auto& e = Append(txn, run, enums::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED);
        e.mutable_activity_task_cancel_requested_event_attributes()->set_scheduled_event_id(sid);
        e.mutable_activity_task_cancel_requested_event_attributes()->set_workflow_task_completed_event_id(
            completed_id);
        const int64_t requested_id = e.event_id();
        auto& activities = *s.mutable_activities();
        auto it = activities.find(sid);
        if (it == activities.end()) break;  // already closed; its outcome is (being) recorded
        if (it->second.state() != v1::ACTIVITY_STATE_STARTED) {
          // Never started: canceled at once, and the workflow hears of it.
          auto& canceled = Append(txn, run, enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED);
          auto* ca = canceled.mutable_activity_task_canceled_event_attributes();
          ca->set_scheduled_event_id(sid);
          ca->set_latest_cancel_requested_event_id(requested_id);
          ca->set_identity(ctx.identity);
          activities.erase(it);
          ctx.need_workflow_task = true;
        } else {
          it->second.set_cancel_requested(true);
          it->second.set_cancel_requested_event_id(requested_id);
        }
        break;
      }
      case enums::COMMAND_TYPE_START_TIMER: {
        const auto& in = c.start_timer_command_attributes();
        auto& e = Append(txn, run, enums::EVENT_TYPE_TIMER_STARTED);
        auto* a = e.mutable_timer_started_event_attributes();
        a->set_timer_id(in.timer_id());
        *a->mutable_start_to_fire_timeout() = in.start_to_fire_timeout();
        a->set_workflow_task_completed_event_id(completed_id);
        v1::TimerInfo t;
        t.set_timer_id(in.timer_id());
        t.set_started_event_id(e.event_id());
        t.set_fire_time_ms(now_ + DurationMs(in.start_to_fire_timeout()));
        timers_.Add(t.fire_time_ms(), {TimerKind::kUserTimer, s.run_id(), e.event_id(), 0, in.timer_id()});
        (*s.mutable_timers())[in.timer_id()] = std::move(t);
        break;
      }
      case enums::COMMAND_TYPE_CANCEL_TIMER: {
        const auto& id = c.cancel_timer_command_attributes().timer_id();
        int64_t started_id = 0;
        auto& timers = *s.mutable_timers();
        if (auto it = timers.find(id); it != timers.end()) {
          started_id = it->second.started_event_id();
          timers.erase(it);
        } else if (auto f = ctx.fired_but_canceled.find(id); f != ctx.fired_but_canceled.end()) {
          started_id = f->second;
        } else {
          break;
        }
        auto& e = Append(txn, run, enums::EVENT_TYPE_TIMER_CANCELED);
        auto* a = e.mutable_timer_canceled_event_attributes();
        a->set_timer_id(id);
        a->set_started_event_id(started_id);
        a->set_workflow_task_completed_event_id(completed_id);
        a->set_identity(ctx.identity);
        break;
      }
      case enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION: {
        auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
        auto* a = e.mutable_workflow_execution_completed_event_attributes();
        const auto& in = c.complete_workflow_execution_command_attributes();
        if (in.has_result()) *a->mutable_result() = in.result();
        a->set_workflow_task_completed_event_id(completed_id);
        const hist::HistoryEvent close = e;
        CloseRun(txn, run, enums::WORKFLOW_EXECUTION_STATUS_COMPLETED);
        NotifyParent(txn, run, close);
        break;
      }
      case enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION: {
        const auto& failure = c.fail_workflow_execution_command_attributes().failure();
        enums::RetryState retry_state = enums::RETRY_STATE_RETRY_POLICY_NOT_SET;
        const std::string next = MaybeRetryRun(txn, run, &failure, &retry_state);
        auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
        auto* a = e.mutable_workflow_execution_failed_event_attributes();
        *a->mutable_failure() = failure;
        a->set_retry_state(retry_state);
        a->set_workflow_task_completed_event_id(completed_id);
        a->set_new_execution_run_id(next);
        s.set_new_execution_run_id(next);
        const hist::HistoryEvent close = e;
        CloseRun(txn, run, enums::WORKFLOW_EXECUTION_STATUS_FAILED);
        if (next.empty()) NotifyParent(txn, run, close);
        break;
      }
      case enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION: {
        auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
        auto* a = e.mutable_workflow_execution_canceled_event_attributes();
        const auto& in = c.cancel_workflow_execution_command_attributes();
        if (in.has_details()) *a->mutable_details() = in.details();
        a->set_workflow_task_completed_event_id(completed_id);
        const hist::HistoryEvent close = e;
        CloseRun(txn, run, enums::WORKFLOW_EXECUTION_STATUS_CANCELED);
        NotifyParent(txn, run, close);
        break;
      }
      case enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION: {
        const auto& in = c.continue_as_new_workflow_execution_command_attributes();
        StartParams p;
        p.ns = s.namespace_();
        p.workflow_id = s.workflow_id();
        p.identity = ctx.identity;
        p.type = in.workflow_type().name().empty() ? started.workflow_type() : in.workflow_type();
        p.task_queue = in.task_queue().name().empty() ? started.task_queue() : in.task_queue();
        p.input = in.has_input() ? &in.input() : nullptr;
        p.execution_timeout_ms = DurationMs(started.workflow_execution_timeout());
        p.run_timeout_ms = DurationMs(in.workflow_run_timeout()) > 0 ? DurationMs(in.workflow_run_timeout())
                                                                      : DurationMs(started.workflow_run_timeout());
        p.task_timeout_ms = DurationMs(in.workflow_task_timeout()) > 0
                                ? DurationMs(in.workflow_task_timeout())
                                : DurationMs(started.workflow_task_timeout());
        p.start_delay_ms = DurationMs(in.backoff_start_interval());
        p.retry_policy = in.has_retry_policy() ? &in.retry_policy()
                         : started.has_retry_policy() ? &started.retry_policy()
                                                      : nullptr;
        p.memo = in.has_memo() ? &in.memo() : &s.memo();
        p.search_attributes = in.has_search_attributes() ? &in.search_attributes() : &s.search_attributes();
        p.header = in.has_header() ? &in.header() : (started.has_header() ? &started.header() : nullptr);
        p.continued_execution_run_id = s.run_id();
        p.first_execution_run_id = started.first_execution_run_id();
        p.initiator = in.initiator() == enums::CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED
                          ? enums::CONTINUE_AS_NEW_INITIATOR_WORKFLOW
                          : in.initiator();
        p.continued_failure = in.has_failure() ? &in.failure() : nullptr;
        p.last_completion_result = in.has_last_completion_result() ? &in.last_completion_result() : nullptr;
        p.execution_expiration_ms = s.execution_expiration_ms();
        p.parent = s.has_parent() ? &s.parent() : nullptr;
        p.root = started.has_root_workflow_execution() ? &started.root_workflow_execution() : nullptr;
        // Copies: CreateRun may rehash runs_, but Run objects are stable
        // (unique_ptr), so `run` stays valid.
        Run& next = CreateRun(txn, p);
        auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW);
        auto* a = e.mutable_workflow_execution_continued_as_new_event_attributes();
        a->set_new_execution_run_id(next.state.run_id());
        *a->mutable_workflow_type() = p.type;
        *a->mutable_task_queue() = next.state.started().task_queue();
        if (in.has_input()) *a->mutable_input() = in.input();
        *a->mutable_workflow_run_timeout() = next.state.started().workflow_run_timeout();
        *a->mutable_workflow_task_timeout() = next.state.started().workflow_task_timeout();
        a->set_workflow_task_completed_event_id(completed_id);
        if (p.start_delay_ms > 0) *a->mutable_backoff_start_interval() = MsToDuration(p.start_delay_ms);
        a->set_initiator(p.initiator);
        if (in.has_failure()) *a->mutable_failure() = in.failure();
        if (in.has_last_completion_result()) *a->mutable_last_completion_result() = in.last_completion_result();
        if (p.header) *a->mutable_header() = *p.header;
        *a->mutable_memo() = next.state.memo();
        *a->mutable_search_attributes() = next.state.search_attributes();
        s.set_new_execution_run_id(next.state.run_id());
        CloseRun(txn, run, enums::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW);
        break;
      }
      case enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION: {
        const auto& in = c.start_child_workflow_execution_command_attributes();
        const std::string child_ns = in.namespace_().empty() ? s.namespace_() : in.namespace_();
        const auto policy = in.parent_close_policy() == enums::PARENT_CLOSE_POLICY_UNSPECIFIED
                                ? enums::PARENT_CLOSE_POLICY_TERMINATE
                                : in.parent_close_policy();
        const auto reuse = in.workflow_id_reuse_policy() == enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED
                               ? enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
                               : in.workflow_id_reuse_policy();
        auto& e = Append(txn, run, enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED);
        auto* a = e.mutable_start_child_workflow_execution_initiated_event_attributes();
        a->set_namespace_(child_ns);
        a->set_workflow_id(in.workflow_id());
        *a->mutable_workflow_type() = in.workflow_type();
        a->mutable_task_queue()->set_name(in.task_queue().name().empty() ? started.task_queue().name()
                                                                         : in.task_queue().name());
        a->mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
        if (in.has_input()) *a->mutable_input() = in.input();
        *a->mutable_workflow_execution_timeout() = in.workflow_execution_timeout();
        *a->mutable_workflow_run_timeout() = in.workflow_run_timeout();
        *a->mutable_workflow_task_timeout() = in.workflow_task_timeout();
        a->set_parent_close_policy(policy);
        a->set_workflow_task_completed_event_id(completed_id);
        a->set_workflow_id_reuse_policy(reuse);
        if (in.has_retry_policy()) *a->mutable_retry_policy() = in.retry_policy();
        if (in.has_header()) *a->mutable_header() = in.header();
        if (in.has_memo()) *a->mutable_memo() = in.memo();
        if (in.has_search_attributes()) *a->mutable_search_attributes() = in.search_attributes();
        const int64_t initiated = e.event_id();
        const hist::StartChildWorkflowExecutionInitiatedEventAttributes attrs = *a;

        auto fail_start = [&](enums::StartChildWorkflowExecutionFailedCause cause) {
          hist::HistoryEvent f;
          f.set_event_type(enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED);
          auto* fa = f.mutable_start_child_workflow_execution_failed_event_attributes();
          fa->set_namespace_(child_ns);
          fa->set_workflow_id(attrs.workflow_id());
          *fa->mutable_workflow_type() = attrs.workflow_type();
          fa->set_cause(cause);
          fa->set_initiated_event_id(initiated);
          fa->set_workflow_task_completed_event_id(completed_id);
          AddEvent(txn, run, std::move(f));
        };
        if (!namespaces_.contains(child_ns)) {
          fail_start(enums::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_NAMESPACE_NOT_FOUND);
          break;
        }
        Run* existing = CurrentRun(child_ns, attrs.workflow_id());
        StartParams p;
        p.ns = child_ns;
        p.workflow_id = attrs.workflow_id();
        p.reuse = reuse;
        p.conflict = enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL;
        bool use_existing = false;
        Run* to_terminate = nullptr;
        if (!CheckStartConflict(p, existing, &use_existing, &to_terminate).ok()) {
          fail_start(enums::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS);
          break;
        }
        p.identity = ctx.identity;
        p.type = attrs.workflow_type();
        p.task_queue = attrs.task_queue();
        p.input = attrs.has_input() ? &attrs.input() : nullptr;
        p.execution_timeout_ms = DurationMs(attrs.workflow_execution_timeout());
        p.run_timeout_ms = DurationMs(attrs.workflow_run_timeout());
        p.task_timeout_ms = DurationMs(attrs.workflow_task_timeout());
        p.retry_policy = attrs.has_retry_policy() ? &attrs.retry_policy() : nullptr;
        p.memo = attrs.has_memo() ? &attrs.memo() : nullptr;
        p.search_attributes = attrs.has_search_attributes() ? &attrs.search_attributes() : nullptr;
        p.header = attrs.has_header() ? &attrs.header() : nullptr;
        v1::ParentInfo parent;
        parent.set_namespace_(s.namespace_());
        parent.set_workflow_id(s.workflow_id());
        parent.set_run_id(s.run_id());
        parent.set_initiated_event_id(initiated);
        p.parent = &parent;
        const common::WorkflowExecution root = started.root_workflow_execution();
        p.root = started.has_root_workflow_execution() ? &root : nullptr;
        Run& child = CreateRun(txn, p);
        v1::ChildInfo info;
        info.set_initiated_event_id(initiated);
        info.set_namespace_(child_ns);
        info.set_workflow_id(attrs.workflow_id());
        info.set_run_id(child.state.run_id());
        info.set_workflow_type(attrs.workflow_type().name());
        info.set_parent_close_policy(policy);
        (*s.mutable_children())[initiated] = info;
        hist::HistoryEvent started_event;
        started_event.set_event_type(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED);
        auto* sa = started_event.mutable_child_workflow_execution_started_event_attributes();
        sa->set_namespace_(child_ns);
        sa->set_initiated_event_id(initiated);
        sa->mutable_workflow_execution()->set_workflow_id(attrs.workflow_id());
        sa->mutable_workflow_execution()->set_run_id(child.state.run_id());
        *sa->mutable_workflow_type() = attrs.workflow_type();
        if (attrs.has_header()) *sa->mutable_header() = attrs.header();
        AddEvent(txn, run, std::move(started_event));
        break;
      }
      case enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION: {
        const auto& in = c.signal_external_workflow_execution_command_attributes();
        const std::string target_ns = in.namespace_().empty() ? s.namespace_() : in.namespace_();
        auto& e = Append(txn, run, enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);
        auto* a = e.mutable_signal_external_workflow_execution_initiated_event_attributes();
        a->set_namespace_(target_ns);
        *a->mutable_workflow_execution() = in.execution();
        a->set_signal_name(in.signal_name());
        if (in.has_input()) *a->mutable_input() = in.input();
        a->set_child_workflow_only(in.child_workflow_only());
        if (in.has_header()) *a->mutable_header() = in.header();
        a->set_workflow_task_completed_event_id(completed_id);
        const int64_t initiated = e.event_id();
        Run* target = nullptr;
        const bool found = ResolveRun(target_ns, in.execution(), &target, true).ok() &&
                           (!in.child_workflow_only() ||
                            (target->state.has_parent() && target->state.parent().run_id() == s.run_id()));
        hist::HistoryEvent outcome;
        if (found) {
          hist::HistoryEvent sig;
          sig.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
          auto* sa = sig.mutable_workflow_execution_signaled_event_attributes();
          sa->set_signal_name(in.signal_name());
          if (in.has_input()) *sa->mutable_input() = in.input();
          if (in.has_header()) *sa->mutable_header() = in.header();
          sa->set_identity(ctx.identity);
          *sa->mutable_external_workflow_execution() = self;
          AddEvent(txn, *target, std::move(sig));
          ScheduleWorkflowTask(txn, *target);
          outcome.set_event_type(enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED);
          auto* oa = outcome.mutable_external_workflow_execution_signaled_event_attributes();
          oa->set_initiated_event_id(initiated);
          oa->set_namespace_(target_ns);
          *oa->mutable_workflow_execution() = in.execution();
        } else {
          outcome.set_event_type(enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
          auto* oa = outcome.mutable_signal_external_workflow_execution_failed_event_attributes();
          oa->set_cause(enums::SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND);
          oa->set_initiated_event_id(initiated);
          oa->set_namespace_(target_ns);
          *oa->mutable_workflow_execution() = in.execution();
          oa->set_workflow_task_completed_event_id(completed_id);
        }
        AddEvent(txn, run, std::move(outcome));
        break;
      }
      case enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION: {
        const auto& in = c.request_cancel_external_workflow_execution_command_attributes();
        const std::string target_ns = in.namespace_().empty() ? s.namespace_() : in.namespace_();
        common::WorkflowExecution target_exec;
        target_exec.set_workflow_id(in.workflow_id());
        target_exec.set_run_id(in.run_id());
        auto& e = Append(txn, run, enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED);
        auto* a = e.mutable_request_cancel_external_workflow_execution_initiated_event_attributes();
        a->set_namespace_(target_ns);
        *a->mutable_workflow_execution() = target_exec;
        a->set_child_workflow_only(in.child_workflow_only());
        a->set_reason(in.reason());
        a->set_workflow_task_completed_event_id(completed_id);
        const int64_t initiated = e.event_id();
        Run* target = nullptr;
        const bool found = ResolveRun(target_ns, target_exec, &target, true).ok() &&
                           (!in.child_workflow_only() ||
                            (target->state.has_parent() && target->state.parent().run_id() == s.run_id()));
        hist::HistoryEvent outcome;
        if (found) {
          RequestCancelRun(txn, *target, in.reason(), ctx.identity, &self, initiated);
          outcome.set_event_type(enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
          auto* oa = outcome.mutable_external_workflow_execution_cancel_requested_event_attributes();
          oa->set_initiated_event_id(initiated);
          oa->set_namespace_(target_ns);
          *oa->mutable_workflow_execution() = target_exec;
        } else {
          outcome.set_event_type(enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED);
          auto* oa = outcome.mutable_request_cancel_external_workflow_execution_failed_event_attributes();
          oa->set_cause(enums::CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED_CAUSE_EXTERNAL_WORKFLOW_EXECUTION_NOT_FOUND);
          oa->set_initiated_event_id(initiated);
          oa->set_namespace_(target_ns);
          *oa->mutable_workflow_execution() = target_exec;
          oa->set_workflow_task_completed_event_id(completed_id);
        }
        AddEvent(txn, run, std::move(outcome));
        break;
      }
      case enums::COMMAND_TYPE_RECORD_MARKER: {
        const auto& in = c.record_marker_command_attributes();
        auto& e = Append(txn, run, enums::EVENT_TYPE_MARKER_RECORDED);
        auto* a = e.mutable_marker_recorded_event_attributes();
        a->set_marker_name(in.marker_name());
        *a->mutable_details() = in.details();
        if (in.has_header()) *a->mutable_header() = in.header();
        if (in.has_failure()) *a->mutable_failure() = in.failure();
        a->set_workflow_task_completed_event_id(completed_id);
        break;
      }
      case enums::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
        const auto& in = c.upsert_workflow_search_attributes_command_attributes();
        auto& e = Append(txn, run, enums::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
        auto* a = e.mutable_upsert_workflow_search_attributes_event_attributes();
        *a->mutable_search_attributes() = in.search_attributes();
        a->set_workflow_task_completed_event_id(completed_id);
        auto& fields = *s.mutable_search_attributes()->mutable_indexed_fields();
        for (const auto& [key, value] : in.search_attributes().indexed_fields()) {
          // An empty payload (or JSON null / []) unsets the attribute.
          if (value.data().empty() || value.data() == "null" || value.data() == "[]") {
            fields.erase(key);
          } else {
            fields[key] = value;
          }
        }
        break;
      }
      case enums::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES: {
        const auto& in = c.modify_workflow_properties_command_attributes();
        auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED);
        auto* a = e.mutable_workflow_properties_modified_event_attributes();
        *a->mutable_upserted_memo() = in.upserted_memo();
        a->set_workflow_task_completed_event_id(completed_id);
        auto& fields = *s.mutable_memo()->mutable_fields();
        for (const auto& [key, value] : in.upserted_memo().fields()) {
          if (value.data().empty() || value.data() == "null") {
            fields.erase(key);
          } else {
            fields[key] = value;
          }
        }
        break;
      }
      default:
        break;  // rejected by validation
    }
  }
  return grpc::Status::OK;
}

void Engine::FailWorkflowTask(Txn& txn, Run& run, enums::WorkflowTaskFailedCause cause,
                              const std::string& message, const std::string& identity,
                              const Failure* failure) {
  auto& wt = *run.state.mutable_workflow_task();
  const int32_t attempt = wt.attempt();
  auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_TASK_FAILED);
  auto* a = e.mutable_workflow_task_failed_event_attributes();
  a->set_scheduled_event_id(wt.scheduled_event_id());
  a->set_started_event_id(wt.started_event_id());
  a->set_cause(cause);
  if (failure != nullptr) {
    *a->mutable_failure() = *failure;
  } else {
    a->mutable_failure()->set_message(message);
  }
  a->set_identity(identity);
  wt.set_state(v1::WORKFLOW_TASK_STATE_NONE);
  const bool flushed = FlushBuffered(txn, run);
  // New events reset the attempt: the workflow has something new to process.
  ScheduleWorkflowTask(txn, run, flushed ? 1 : attempt + 1);
  for (auto& [id, q] : queries_) {
    if (q->run_id == run.state.run_id()) q->dispatched = false;
  }
}

grpc::Status Engine::RespondWorkflowTaskFailed(const wsv::RespondWorkflowTaskFailedRequest& req,
                                               wsv::RespondWorkflowTaskFailedResponse*) {
  now_ = clock_.NowMs();
  v1::TaskToken token;
  if (auto st = ParseTaskToken(req.task_token(), v1::TOKEN_KIND_WORKFLOW_TASK, &token); !st.ok()) {
    return st;
  }
  if (!enums::WorkflowTaskFailedCause_IsValid(req.cause())) {
    return InvalidArgument("cause has an unknown value " + std::to_string(req.cause()));
  }
  common::WorkflowExecution exec;
  exec.set_workflow_id(token.workflow_id());
  exec.set_run_id(token.run_id());
  Run* run = nullptr;
  if (auto st = ResolveRun(token.namespace_(), exec, &run, true); !st.ok()) return st;
  const auto& wt = run->state.workflow_task();
  if (wt.state() != v1::WORKFLOW_TASK_STATE_STARTED ||
      wt.scheduled_event_id() != token.scheduled_event_id() || wt.attempt() != token.attempt()) {
    return NotFound("workflow task not found (it timed out, failed, or was already completed)");
  }
  Txn txn;
  FailWorkflowTask(txn, *run, req.cause(), req.failure().message(), req.identity(),
                   req.has_failure() ? &req.failure() : nullptr);
  Commit(txn);
  return grpc::Status::OK;
}

void Engine::OnWorkflowTaskTimeout(const TimerKey& key) {
  Run* run = FindRunById(key.run_id);
  if (run == nullptr || !run->open()) return;
  auto& wt = *run->state.mutable_workflow_task();
  if (wt.state() != v1::WORKFLOW_TASK_STATE_STARTED || wt.scheduled_event_id() != key.ref ||
      wt.attempt() != key.attempt) {
    return;
  }
  if (now_ < wt.started_time_ms() + DurationMs(wt.start_to_close_timeout())) return;
  Txn txn;
  const int32_t attempt = wt.attempt();
  auto& e = Append(txn, *run, enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT);
  auto* a = e.mutable_workflow_task_timed_out_event_attributes();
  a->set_scheduled_event_id(wt.scheduled_event_id());
  a->set_started_event_id(wt.started_event_id());
  a->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
  wt.set_state(v1::WORKFLOW_TASK_STATE_NONE);
  const bool flushed = FlushBuffered(txn, *run);
  ScheduleWorkflowTask(txn, *run, flushed ? 1 : attempt + 1);
  for (auto& [id, q] : queries_) {
    if (q->run_id == run->state.run_id()) q->dispatched = false;
  }
  Commit(txn);
}

// --- queries ------------------------------------------------------------------------

void Engine::QueryWorkflow(const wsv::QueryWorkflowRequest& req, int64_t deadline_ms,
                           Done<wsv::QueryWorkflowResponse> done) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  if (auto st = ResolveRun(req.namespace_(), req.execution(), &run, false); !st.ok()) {
    done(st, {});
    return;
  }
  if (req.query().query_type().empty()) {
    done(InvalidArgument("query.query_type is not set"), {});
    return;
  }
  if (!enums::QueryRejectCondition_IsValid(req.query_reject_condition())) {
    done(InvalidArgument("query_reject_condition has an unknown value"), {});
    return;
  }
  const auto status = run->state.status();
  if (!run->open()) {
    const auto reject = req.query_reject_condition();
    if (reject == enums::QUERY_REJECT_CONDITION_NOT_OPEN ||
        (reject == enums::QUERY_REJECT_CONDITION_NOT_COMPLETED_CLEANLY &&
         status != enums::WORKFLOW_EXECUTION_STATUS_COMPLETED)) {
      wsv::QueryWorkflowResponse resp;
      resp.mutable_query_rejected()->set_status(status);
      done(grpc::Status::OK, std::move(resp));
      return;
    }
    if (run->state.completed_workflow_tasks() == 0) {
      done(WorkflowNotReady("workflow closed before a workflow task completed"), {});
      return;
    }
  }
  const auto& wt = run->state.workflow_task();
  if (run->open() && wt.attempt() >= 3 && wt.state() != v1::WORKFLOW_TASK_STATE_NONE) {
    done(WorkflowNotReady("the workflow's task is failing (attempt " + std::to_string(wt.attempt()) +
                          "); queries cannot be answered"),
         {});
    return;
  }
  if (shutting_down_) {
    done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"), {});
    return;
  }
  auto q = std::make_unique<PendingQuery>();
  q->id = NewId();
  q->run_id = run->state.run_id();
  q->query = req.query();
  q->done = std::move(done);
  const std::string id = q->id;
  queries_[id] = std::move(q);
  int64_t expiry = deadline_ms > 0 ? deadline_ms : now_ + options_.max_poll_wait_ms;
  timers_.Add(std::max(expiry, now_), {TimerKind::kQueryExpiry, "", 0, 0, id});
  // With a workflow task pending, the query rides on it; otherwise it goes
  // out as a direct query task now.
  RequeueQueriesFor(*run);
}

void Engine::RequeueQueriesFor(Run& run) {
  const auto wt_state = run.state.workflow_task().state();
  if (run.open() && (wt_state == v1::WORKFLOW_TASK_STATE_SCHEDULED ||
                     wt_state == v1::WORKFLOW_TASK_STATE_STARTED)) {
    return;
  }
  const QueueKey key{run.state.namespace_(), run.state.started().task_queue().name(), TaskType::kWorkflow};
  bool queued = false;
  for (auto& [id, q] : queries_) {
    if (q->run_id != run.state.run_id() || q->dispatched) continue;
    q->dispatched = true;  // as a direct task: not attached to a workflow task
    queues_[key].backlog.push_back({run.state.run_id(), 0, 0, id});
    queued = true;
  }
  if (queued) MatchQueue(key);
}

void Engine::AnswerQueriesFor(Run& run, const wsv::RespondWorkflowTaskCompletedRequest& req) {
  for (const auto& [id, result] : req.query_results()) {
    auto it = queries_.find(id);
    if (it == queries_.end()) continue;
    auto q = std::move(it->second);
    queries_.erase(it);
    if (result.result_type() == enums::QUERY_RESULT_TYPE_ANSWERED) {
      wsv::QueryWorkflowResponse resp;
      *resp.mutable_query_result() = result.answer();
      q->done(grpc::Status::OK, std::move(resp));
    } else {
      q->done(QueryFailed(result.error_message(), result.has_failure() ? &result.failure() : nullptr), {});
    }
  }
  // Queries sent with this task but not answered go out again.
  for (auto& [id, q] : queries_) {
    if (q->run_id == run.state.run_id()) q->dispatched = false;
  }
}

grpc::Status Engine::RespondQueryTaskCompleted(const wsv::RespondQueryTaskCompletedRequest& req,
                                               wsv::RespondQueryTaskCompletedResponse*) {
  v1::TaskToken token;
  if (auto st = ParseTaskToken(req.task_token(), v1::TOKEN_KIND_QUERY_TASK, &token); !st.ok()) return st;
  auto it = queries_.find(token.query_id());
  if (it == queries_.end()) return NotFound("query not found (it timed out or was answered)");
  auto q = std::move(it->second);
  queries_.erase(it);
  if (req.completed_type() == enums::QUERY_RESULT_TYPE_ANSWERED) {
    wsv::QueryWorkflowResponse resp;
    *resp.mutable_query_result() = req.query_result();
    q->done(grpc::Status::OK, std::move(resp));
  } else {
    q->done(QueryFailed(req.error_message(), req.has_failure() ? &req.failure() : nullptr), {});
  }
  return grpc::Status::OK;
}

void Engine::OnQueryExpiry(const std::string& query_id) {
  auto it = queries_.find(query_id);
  if (it == queries_.end()) return;
  auto q = std::move(it->second);
  queries_.erase(it);
  q->done(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "no worker answered the query in time"), {});
}

}  // namespace hourglass::devserver
