// Engine plumbing, namespaces, and the workflow lifecycle outside workflow
// tasks: start, signal, cancel, terminate, close, retry, timeouts, describe,
// history, list.

#include "devserver/engine/engine.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "devserver/engine/engine_internal.h"
#include "devserver/engine/retry.h"
#include "devserver/engine/visibility_query.h"

namespace hourglass::devserver {

int64_t SystemClock::NowMs() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// --- helpers ------------------------------------------------------------------

bool IsCloseEvent(enums::EventType type) {
  switch (type) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return true;
    default:
      return false;
  }
}

bool IsCompletionEvent(enums::EventType type) {
  switch (type) {
    case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
    case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED:
    case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
    case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
      return true;
    default:
      return false;
  }
}

std::string StatusName(enums::WorkflowExecutionStatus status) {
  return enums::WorkflowExecutionStatus_Name(status);
}

std::string CheckNonNegative(const google::protobuf::Duration& d, const std::string& field) {
  if (IsNegative(d)) return field + " must not be negative";
  return "";
}

std::string CheckPayloads(const common::Payloads& payloads, const std::string& field) {
  for (const auto& p : payloads.payloads()) {
    if (p.ByteSizeLong() > kMaxPayloadBytes) {
      return field + " holds a payload of " + std::to_string(p.ByteSizeLong()) +
             " bytes, over the " + std::to_string(kMaxPayloadBytes) + "-byte limit";
    }
  }
  return "";
}

namespace {

int64_t ClampTimeout(int64_t value_ms, int64_t cap_ms) {
  if (cap_ms <= 0) return value_ms;
  if (value_ms <= 0) return cap_ms;
  return std::min(value_ms, cap_ms);
}

common::WorkflowExecution Execution(const Run& run) {
  common::WorkflowExecution e;
  e.set_workflow_id(run.state.workflow_id());
  e.set_run_id(run.state.run_id());
  return e;
}

}  // namespace

// --- construction, boot -------------------------------------------------------

Engine::Engine(SqliteStore& store, const Clock& clock, EngineOptions options)
    : store_(store), clock_(clock), options_(std::move(options)), rng_(std::random_device{}()) {}

Engine::~Engine() = default;

size_t Engine::open_runs() const {
  size_t n = 0;
  for (const auto& [id, run] : runs_) n += run->open() ? 1 : 0;
  return n;
}

std::string Engine::NewId() {
  // A random (version 4) UUID.
  uint64_t a = rng_(), b = rng_();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48),
                static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return buf;
}

Status Engine::Boot() {
  now_ = clock_.NowMs();
  auto namespaces = store_.LoadNamespaces();
  if (!namespaces) return namespaces.error();
  for (auto& rec : *namespaces) namespaces_[rec.info().name()] = std::move(rec);

  Txn txn;
  std::vector<std::string> wanted = options_.namespaces;
  wanted.insert(wanted.begin(), "default");
  for (const auto& name : wanted) {
    if (namespaces_.contains(name)) continue;
    v1::NamespaceRecord rec;
    rec.mutable_info()->set_name(name);
    rec.mutable_info()->set_id(NewId());
    rec.mutable_info()->set_state(enums::NAMESPACE_STATE_REGISTERED);
    *rec.mutable_config()->mutable_workflow_execution_retention_ttl() = MsToDuration(86400000);
    rec.mutable_replication()->set_active_cluster_name("active");
    auto& stored = namespaces_[name] = std::move(rec);
    txn.namespaces.push_back(&stored);
  }
  Commit(txn);

  auto runs = store_.LoadRuns();
  if (!runs) return runs.error();
  size_t open = 0;
  for (auto& state : *runs) {
    auto run = std::make_unique<Run>();
    run->state = std::move(state);
    const std::string id = run->state.run_id();
    runs_[id] = std::move(run);
  }
  // The current run of each workflow id is the latest started run, unless a
  // later run of the same id exists that started after it (the store keeps
  // runs ordered by start time; continue-as-new and retries start later).
  for (auto& [id, run] : runs_) {
    auto key = std::make_pair(run->state.namespace_(), run->state.workflow_id());
    auto it = current_runs_.find(key);
    if (it == current_runs_.end() ||
        runs_[it->second]->state.start_time_ms() <= run->state.start_time_ms()) {
      current_runs_[key] = id;
    }
  }
  for (auto& [id, run] : runs_) {
    if (!run->open()) continue;
    ++open;
    if (auto st = LoadHistoryIfNeeded(*run); !st) return st;
    ArmTimers(*run);
    RequeueTasks(*run);
  }
  spdlog::info("devserver: loaded {} namespaces, {} runs ({} open)", namespaces_.size(),
               runs_.size(), open);
  return ipc::OkStatus();
}

Status Engine::LoadHistoryIfNeeded(Run& run) {
  if (!run.history.empty() || run.state.next_event_id() <= 1) return ipc::OkStatus();
  auto events = store_.LoadHistory(run.state.run_id(), 1, run.state.next_event_id());
  if (!events) return events.error();
  run.history = std::move(events).value();
  if (static_cast<int64_t>(run.history.size()) != run.state.next_event_id() - 1) {
    return ipc::MakeError(ipc::v1::ERROR_KIND_INTERNAL,
                          "history of run " + run.state.run_id() + " is incomplete in the database");
  }
  return ipc::OkStatus();
}

Result<std::vector<hist::HistoryEvent>> Engine::ReadHistory(Run& run, int64_t from_event_id,
                                                            int64_t max_events) {
  const int64_t last = run.state.next_event_id() - 1;
  if (from_event_id < 1) from_event_id = 1;
  if (!run.history.empty()) {
    std::vector<hist::HistoryEvent> out;
    for (int64_t id = from_event_id; id <= last && static_cast<int64_t>(out.size()) < max_events;
         ++id) {
      out.push_back(run.history[static_cast<size_t>(id - 1)]);
    }
    return out;
  }
  return store_.LoadHistory(run.state.run_id(), from_event_id, max_events);
}

void Engine::ArmTimers(const Run& run) {
  const auto& s = run.state;
  const auto& wt = s.workflow_task();
  if (wt.state() == v1::WORKFLOW_TASK_STATE_STARTED) {
    timers_.Add(wt.started_time_ms() + DurationMs(wt.start_to_close_timeout()),
                {TimerKind::kWorkflowTaskStartToClose, s.run_id(), wt.scheduled_event_id(),
                 wt.attempt(), ""});
  } else if (wt.state() == v1::WORKFLOW_TASK_STATE_BACKOFF) {
    timers_.Add(wt.backoff_until_ms(), {TimerKind::kWorkflowTaskBackoff, s.run_id(), 0, 0, ""});
  }
  for (const auto& [id, timer] : s.timers()) {
    timers_.Add(timer.fire_time_ms(),
                {TimerKind::kUserTimer, s.run_id(), timer.started_event_id(), 0, timer.timer_id()});
  }
  for (const auto& [id, info] : s.activities()) ArmActivityAttemptTimers(run, info);
  if (s.run_expiration_ms() > 0) {
    timers_.Add(s.run_expiration_ms(), {TimerKind::kRunTimeout, s.run_id(), 0, 0, ""});
  }
  if (s.execution_expiration_ms() > 0) {
    timers_.Add(s.execution_expiration_ms(), {TimerKind::kExecutionTimeout, s.run_id(), 0, 0, ""});
  }
}

void Engine::RequeueTasks(Run& run) {
  const auto& s = run.state;
  const auto& wt = s.workflow_task();
  Txn unused;
  if (wt.state() == v1::WORKFLOW_TASK_STATE_SCHEDULED) {
    Enqueue(unused, {s.namespace_(), s.started().task_queue().name(), TaskType::kWorkflow},
            {s.run_id(), wt.scheduled_event_id(), wt.attempt(), ""});
  }
  for (const auto& [id, info] : s.activities()) {
    if (info.state() == v1::ACTIVITY_STATE_SCHEDULED && info.retry_at_ms() <= now_) {
      Enqueue(unused,
              {s.namespace_(), info.attributes().task_queue().name(), TaskType::kActivity},
              {s.run_id(), info.scheduled_event_id(), info.attempt(), ""});
    }
  }
}

// --- commit ---------------------------------------------------------------------

void Engine::Commit(Txn& txn) {
  StoreBatch batch;
  batch.namespaces = txn.namespaces;
  for (const auto& [run, event_id] : txn.events) {
    const auto& event = run->history[static_cast<size_t>(event_id - 1)];
    run->state.set_history_size_bytes(run->state.history_size_bytes() +
                                      static_cast<int64_t>(event.ByteSizeLong()));
    batch.events.emplace_back(run->state.run_id(), &event);
  }
  for (Run* run : txn.runs) batch.runs.push_back(&run->state);
  batch.current_runs = txn.current_runs;
  if (auto st = store_.Commit(batch); !st) {
    // Crash-only: the reply was not sent, and a restart reloads the last
    // committed state. Continuing would serve state the disk does not have.
    spdlog::critical("devserver: commit failed, exiting: {}", ipc::Describe(st.error()));
    std::abort();
  }
  for (Run* run : txn.closed) {
    run->history.clear();
    run->history.shrink_to_fit();
  }
  for (Run* run : txn.runs) WakeHistoryWaiters(run->state.run_id());
  for (auto& fn : txn.after_commit) fn();
}

hist::HistoryEvent& Engine::Append(Txn& txn, Run& run, enums::EventType type) {
  auto& event = run.history.emplace_back();
  const int64_t id = run.state.next_event_id() == 0 ? 1 : run.state.next_event_id();
  event.set_event_id(id);
  run.state.set_next_event_id(id + 1);
  *event.mutable_event_time() = MsToTimestamp(now_);
  event.set_event_type(type);
  event.set_task_id(id);
  txn.Touch(&run);
  txn.events.emplace_back(&run, id);
  return event;
}

void Engine::AddEvent(Txn& txn, Run& run, hist::HistoryEvent event) {
  txn.Touch(&run);
  if (!event.has_event_time()) *event.mutable_event_time() = MsToTimestamp(now_);
  if (run.state.workflow_task().state() == v1::WORKFLOW_TASK_STATE_STARTED) {
    *run.state.add_buffered() = std::move(event);
    return;
  }
  auto& appended = Append(txn, run, event.event_type());
  const int64_t id = appended.event_id();
  const auto task_id = appended.task_id();
  appended = std::move(event);
  appended.set_event_id(id);
  appended.set_task_id(task_id);
}

bool Engine::FlushBuffered(Txn& txn, Run& run) {
  if (run.state.buffered_size() == 0) return false;
  std::vector<hist::HistoryEvent> buffered(run.state.buffered().begin(), run.state.buffered().end());
  run.state.clear_buffered();
  txn.Touch(&run);
  // Started ids of activities whose Started event is written in this flush.
  std::map<int64_t, int64_t> activity_started;
  auto append = [&](hist::HistoryEvent& e) {
    auto& out = Append(txn, run, e.event_type());
    const int64_t id = out.event_id();
    const auto event_time = e.event_time();
    out = e;
    out.set_event_id(id);
    out.set_task_id(id);
    *out.mutable_event_time() = event_time;
    switch (out.event_type()) {
      case enums::EVENT_TYPE_ACTIVITY_TASK_STARTED:
        activity_started[out.activity_task_started_event_attributes().scheduled_event_id()] = id;
        break;
      case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
        auto* a = out.mutable_activity_task_completed_event_attributes();
        if (auto it = activity_started.find(a->scheduled_event_id()); it != activity_started.end()) {
          a->set_started_event_id(it->second);
        }
        break;
      }
      case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED: {
        auto* a = out.mutable_activity_task_failed_event_attributes();
        if (auto it = activity_started.find(a->scheduled_event_id()); it != activity_started.end()) {
          a->set_started_event_id(it->second);
        }
        break;
      }
      case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
        auto* a = out.mutable_activity_task_timed_out_event_attributes();
        if (auto it = activity_started.find(a->scheduled_event_id()); it != activity_started.end()) {
          a->set_started_event_id(it->second);
        }
        break;
      }
      case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
        auto* a = out.mutable_activity_task_canceled_event_attributes();
        if (auto it = activity_started.find(a->scheduled_event_id()); it != activity_started.end()) {
          a->set_started_event_id(it->second);
        }
        break;
      }
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
        const auto& a = out.child_workflow_execution_started_event_attributes();
        auto& children = *run.state.mutable_children();
        if (auto it = children.find(a.initiated_event_id()); it != children.end()) {
          it->second.set_started_event_id(id);
        }
        break;
      }
      default:
        break;
    }
    // Child outcomes name the Started event, known only now.
    auto fix_child = [&](auto* attrs) {
      if (attrs->started_event_id() != 0) return;
      for (const auto& h : run.history) {
        if (h.event_type() == enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED &&
            h.child_workflow_execution_started_event_attributes().initiated_event_id() ==
                attrs->initiated_event_id()) {
          attrs->set_started_event_id(h.event_id());
        }
      }
    };
    switch (out.event_type()) {
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
        fix_child(out.mutable_child_workflow_execution_completed_event_attributes());
        break;
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
        fix_child(out.mutable_child_workflow_execution_failed_event_attributes());
        break;
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
        fix_child(out.mutable_child_workflow_execution_canceled_event_attributes());
        break;
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
        fix_child(out.mutable_child_workflow_execution_timed_out_event_attributes());
        break;
      case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED:
        fix_child(out.mutable_child_workflow_execution_terminated_event_attributes());
        break;
      default:
        break;
    }
  };
  for (auto& e : buffered) {
    if (!IsCompletionEvent(e.event_type())) append(e);
  }
  for (auto& e : buffered) {
    if (IsCompletionEvent(e.event_type())) append(e);
  }
  return true;
}

void Engine::ScheduleWorkflowTask(Txn& txn, Run& run, int32_t attempt) {
  auto& wt = *run.state.mutable_workflow_task();
  if (!run.open() || wt.state() != v1::WORKFLOW_TASK_STATE_NONE) return;
  const auto& started = run.state.started();
  auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  auto* a = e.mutable_workflow_task_scheduled_event_attributes();
  a->mutable_task_queue()->set_name(started.task_queue().name());
  a->mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
  *a->mutable_start_to_close_timeout() = started.workflow_task_timeout();
  a->set_attempt(attempt);
  wt.set_state(v1::WORKFLOW_TASK_STATE_SCHEDULED);
  wt.set_scheduled_event_id(e.event_id());
  wt.set_started_event_id(0);
  wt.set_attempt(attempt);
  wt.set_scheduled_time_ms(now_);
  *wt.mutable_start_to_close_timeout() = started.workflow_task_timeout();
  Enqueue(txn, {run.state.namespace_(), started.task_queue().name(), TaskType::kWorkflow},
          {run.state.run_id(), e.event_id(), attempt, ""});
}

void Engine::Enqueue(Txn& txn, const QueueKey& key, QueuedTask task) {
  queues_[key].backlog.push_back(std::move(task));
  txn.after_commit.push_back([this, key] { MatchQueue(key); });
}

void Engine::MatchQueue(const QueueKey& key) {
  auto qit = queues_.find(key);
  if (qit == queues_.end()) return;
  auto& q = qit->second;
  while (!q.waiters.empty() && !q.backlog.empty()) {
    const uint64_t wid = q.waiters.front();
    auto wit = waiters_.find(wid);
    if (wit == waiters_.end()) {
      q.waiters.pop_front();
      continue;
    }
    // A caller whose poll was cancelled, with the cancellation not yet
    // processed here: a task handed to it would be lost until its timeout.
    if (wit->second->gone && wit->second->gone()) {
      q.waiters.pop_front();
      CancelWaiter(wid);
      continue;
    }
    QueuedTask task = std::move(q.backlog.front());
    q.backlog.pop_front();
    bool dispatched;
    if (key.type == TaskType::kActivity) {
      dispatched = TryDispatchActivityTask(*wit->second, task);
    } else if (!task.query_id.empty()) {
      dispatched = TryDispatchQueryTask(*wit->second, task);
    } else {
      dispatched = TryDispatchWorkflowTask(*wit->second, task);
    }
    if (dispatched) {
      // The iterator may be stale: dispatch commits, and commits run hooks.
      waiters_.erase(wid);
      auto& again = queues_[key];
      if (!again.waiters.empty() && again.waiters.front() == wid) again.waiters.pop_front();
      qit = queues_.find(key);
      if (qit == queues_.end()) return;
    }
  }
}

Run* Engine::FindRunById(const std::string& run_id) {
  auto it = runs_.find(run_id);
  return it == runs_.end() ? nullptr : it->second.get();
}

Run* Engine::CurrentRun(const std::string& ns, const std::string& workflow_id) {
  auto it = current_runs_.find({ns, workflow_id});
  return it == current_runs_.end() ? nullptr : FindRunById(it->second);
}

grpc::Status Engine::CheckNamespace(const std::string& ns) const {
  if (ns.empty()) return InvalidArgument("namespace is not set on the request");
  if (!namespaces_.contains(ns)) return NamespaceNotFound(ns);
  return grpc::Status::OK;
}

grpc::Status Engine::ResolveRun(const std::string& ns, const common::WorkflowExecution& execution,
                                Run** out, bool must_be_open) {
  if (auto st = CheckNamespace(ns); !st.ok()) return st;
  if (execution.workflow_id().empty()) return InvalidArgument("workflow_execution.workflow_id is not set");
  Run* run = nullptr;
  if (execution.run_id().empty()) {
    run = CurrentRun(ns, execution.workflow_id());
  } else {
    run = FindRunById(execution.run_id());
    if (run != nullptr &&
        (run->state.namespace_() != ns || run->state.workflow_id() != execution.workflow_id())) {
      run = nullptr;
    }
  }
  if (run == nullptr) {
    return NotFound("workflow execution not found: workflow_id=" + execution.workflow_id() +
                    (execution.run_id().empty() ? "" : " run_id=" + execution.run_id()));
  }
  if (must_be_open && !run->open()) return NotFound("workflow execution already completed");
  *out = run;
  return grpc::Status::OK;
}

// --- namespaces -----------------------------------------------------------------

grpc::Status Engine::RegisterNamespace(const wsv::RegisterNamespaceRequest& req,
                                       wsv::RegisterNamespaceResponse*) {
  now_ = clock_.NowMs();
  if (req.namespace_().empty()) return InvalidArgument("namespace is not set");
  if (req.namespace_().size() > 255) return InvalidArgument("namespace is longer than 255 bytes");
  if (namespaces_.contains(req.namespace_())) return NamespaceAlreadyExists(req.namespace_());
  if (auto e = CheckNonNegative(req.workflow_execution_retention_period(),
                                "workflow_execution_retention_period");
      !e.empty()) {
    return InvalidArgument(e);
  }
  v1::NamespaceRecord rec;
  rec.mutable_info()->set_name(req.namespace_());
  rec.mutable_info()->set_id(NewId());
  rec.mutable_info()->set_state(enums::NAMESPACE_STATE_REGISTERED);
  rec.mutable_info()->set_description(req.description());
  rec.mutable_info()->set_owner_email(req.owner_email());
  *rec.mutable_info()->mutable_data() = req.data();
  *rec.mutable_config()->mutable_workflow_execution_retention_ttl() =
      req.has_workflow_execution_retention_period() ? req.workflow_execution_retention_period()
                                                    : MsToDuration(86400000);
  rec.mutable_replication()->set_active_cluster_name("active");
  Txn txn;
  auto& stored = namespaces_[req.namespace_()] = std::move(rec);
  txn.namespaces.push_back(&stored);
  Commit(txn);
  return grpc::Status::OK;
}

grpc::Status Engine::DescribeNamespace(const wsv::DescribeNamespaceRequest& req,
                                       wsv::DescribeNamespaceResponse* resp) {
  const v1::NamespaceRecord* rec = nullptr;
  if (!req.namespace_().empty()) {
    auto it = namespaces_.find(req.namespace_());
    if (it == namespaces_.end()) return NamespaceNotFound(req.namespace_());
    rec = &it->second;
  } else if (!req.id().empty()) {
    for (const auto& [name, r] : namespaces_) {
      if (r.info().id() == req.id()) rec = &r;
    }
    if (rec == nullptr) return NotFound("namespace id " + req.id() + " not found");
  } else {
    return InvalidArgument("namespace or id must be set");
  }
  *resp->mutable_namespace_info() = rec->info();
  *resp->mutable_config() = rec->config();
  *resp->mutable_replication_config() = rec->replication();
  return grpc::Status::OK;
}

grpc::Status Engine::ListNamespaces(const wsv::ListNamespacesRequest&,
                                    wsv::ListNamespacesResponse* resp) {
  for (const auto& [name, rec] : namespaces_) {
    auto* d = resp->add_namespaces();
    *d->mutable_namespace_info() = rec.info();
    *d->mutable_config() = rec.config();
    *d->mutable_replication_config() = rec.replication();
  }
  return grpc::Status::OK;
}

// --- starting runs ------------------------------------------------------------------

grpc::Status Engine::CheckStartConflict(const StartParams& p, Run* current, bool* use_existing,
                                        Run** to_terminate) {
  *use_existing = false;
  *to_terminate = nullptr;
  if (current == nullptr) return grpc::Status::OK;
  if (current->open()) {
    switch (p.conflict) {
      case enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING:
        *use_existing = true;
        return grpc::Status::OK;
      case enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING:
        *to_terminate = current;
        return grpc::Status::OK;
      default:
        return WorkflowAlreadyStarted("Workflow execution is already running. WorkflowId: " +
                                          p.workflow_id +
                                          ", RunId: " + current->state.run_id() + ".",
                                      current->state.start_request_id(), current->state.run_id());
    }
  }
  const auto status = current->state.status();
  switch (p.reuse) {
    case enums::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE:
      return WorkflowAlreadyStarted("Workflow execution already finished and its id may not be "
                                    "reused (REJECT_DUPLICATE). WorkflowId: " +
                                        p.workflow_id + ", RunId: " + current->state.run_id() + ".",
                                    current->state.start_request_id(), current->state.run_id());
    case enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY:
      if (status == enums::WORKFLOW_EXECUTION_STATUS_COMPLETED ||
          status == enums::WORKFLOW_EXECUTION_STATUS_CONTINUED_AS_NEW) {
        return WorkflowAlreadyStarted(
            "Workflow execution already completed successfully and ALLOW_DUPLICATE_FAILED_ONLY "
            "permits only failed runs to be reused. WorkflowId: " +
                p.workflow_id + ", RunId: " + current->state.run_id() + ".",
            current->state.start_request_id(), current->state.run_id());
      }
      return grpc::Status::OK;
    default:
      return grpc::Status::OK;
  }
}

Run& Engine::CreateRun(Txn& txn, const StartParams& p) {
  auto owned = std::make_unique<Run>();
  Run& run = *owned;
  const std::string run_id = NewId();
  runs_[run_id] = std::move(owned);
  auto& s = run.state;
  s.set_namespace_(p.ns);
  s.set_workflow_id(p.workflow_id);
  s.set_run_id(run_id);
  s.set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  s.set_next_event_id(1);
  s.set_start_time_ms(now_);
  s.set_execution_time_ms(now_ + p.start_delay_ms);
  s.set_start_request_id(p.request_id);
  if (p.memo) *s.mutable_memo() = *p.memo;
  if (p.search_attributes) *s.mutable_search_attributes() = *p.search_attributes;
  if (p.parent) *s.mutable_parent() = *p.parent;
  if (!p.request_id.empty()) (*s.mutable_request_ids())[p.request_id] = 1;

  // Timeouts: the run timeout defaults to (and is capped by) the execution
  // timeout; the task timeout defaults to 10 s, capped at 120 s and the run's.
  const int64_t run_timeout = ClampTimeout(p.run_timeout_ms, p.execution_timeout_ms);
  int64_t task_timeout =
      p.task_timeout_ms > 0 ? p.task_timeout_ms : options_.default_workflow_task_timeout_ms;
  task_timeout = std::min(task_timeout, options_.max_workflow_task_timeout_ms);
  if (run_timeout > 0) task_timeout = std::min(task_timeout, run_timeout);
  int64_t execution_expiration = p.execution_expiration_ms;
  if (execution_expiration == 0 && p.execution_timeout_ms > 0) {
    execution_expiration = now_ + p.start_delay_ms + p.execution_timeout_ms;
  }

  auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  auto* a = e.mutable_workflow_execution_started_event_attributes();
  *a->mutable_workflow_type() = p.type;
  a->mutable_task_queue()->set_name(p.task_queue.name());
  a->mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
  if (p.input) *a->mutable_input() = *p.input;
  if (p.execution_timeout_ms > 0) *a->mutable_workflow_execution_timeout() = MsToDuration(p.execution_timeout_ms);
  if (run_timeout > 0) *a->mutable_workflow_run_timeout() = MsToDuration(run_timeout);
  *a->mutable_workflow_task_timeout() = MsToDuration(task_timeout);
  a->set_identity(p.identity);
  a->set_attempt(p.attempt);
  a->set_workflow_id(p.workflow_id);
  a->set_original_execution_run_id(run_id);
  a->set_first_execution_run_id(p.first_execution_run_id.empty() ? run_id : p.first_execution_run_id);
  if (!p.continued_execution_run_id.empty()) {
    a->set_continued_execution_run_id(p.continued_execution_run_id);
    a->set_initiator(p.initiator);
  }
  if (p.continued_failure) *a->mutable_continued_failure() = *p.continued_failure;
  if (p.last_completion_result) *a->mutable_last_completion_result() = *p.last_completion_result;
  if (p.retry_policy) {
    *a->mutable_retry_policy() = *p.retry_policy;
    NormalizeRetryPolicy(*a->mutable_retry_policy());
  }
  if (execution_expiration > 0) {
    *a->mutable_workflow_execution_expiration_time() = MsToTimestamp(execution_expiration);
  }
  if (p.start_delay_ms > 0) *a->mutable_first_workflow_task_backoff() = MsToDuration(p.start_delay_ms);
  if (p.memo) *a->mutable_memo() = *p.memo;
  if (p.search_attributes) *a->mutable_search_attributes() = *p.search_attributes;
  if (p.header) *a->mutable_header() = *p.header;
  if (p.parent) {
    a->set_parent_workflow_namespace(p.parent->namespace_());
    a->mutable_parent_workflow_execution()->set_workflow_id(p.parent->workflow_id());
    a->mutable_parent_workflow_execution()->set_run_id(p.parent->run_id());
    a->set_parent_initiated_event_id(p.parent->initiated_event_id());
  }
  if (p.root) {
    *a->mutable_root_workflow_execution() = *p.root;
  } else {
    a->mutable_root_workflow_execution()->set_workflow_id(p.workflow_id);
    a->mutable_root_workflow_execution()->set_run_id(run_id);
  }
  *s.mutable_started() = *a;
  s.set_run_expiration_ms(run_timeout > 0 ? now_ + p.start_delay_ms + run_timeout : 0);
  s.set_execution_expiration_ms(execution_expiration);

  if (p.with_signal) {
    auto& sig = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    auto* sa = sig.mutable_workflow_execution_signaled_event_attributes();
    sa->set_signal_name(p.signal_name);
    if (p.signal_input) *sa->mutable_input() = *p.signal_input;
    if (p.signal_header) *sa->mutable_header() = *p.signal_header;
    sa->set_identity(p.identity);
    sa->set_request_id(p.signal_request_id);
  }
  if (p.start_delay_ms > 0) {
    auto& wt = *s.mutable_workflow_task();
    wt.set_state(v1::WORKFLOW_TASK_STATE_BACKOFF);
    wt.set_backoff_until_ms(now_ + p.start_delay_ms);
    timers_.Add(wt.backoff_until_ms(), {TimerKind::kWorkflowTaskBackoff, run_id, 0, 0, ""});
  } else {
    ScheduleWorkflowTask(txn, run);
  }
  if (s.run_expiration_ms() > 0) {
    timers_.Add(s.run_expiration_ms(), {TimerKind::kRunTimeout, run_id, 0, 0, ""});
  }
  if (s.execution_expiration_ms() > 0) {
    timers_.Add(s.execution_expiration_ms(), {TimerKind::kExecutionTimeout, run_id, 0, 0, ""});
  }
  current_runs_[{p.ns, p.workflow_id}] = run_id;
  txn.current_runs.emplace_back(p.ns, p.workflow_id, run_id);
  return run;
}

namespace {

// Shared validation of the fields Start and SignalWithStart have in common.
template <typename Req>
grpc::Status ValidateStartFields(const Req& req) {
  if (req.workflow_id().empty()) return InvalidArgument("workflow_id is not set");
  if (req.workflow_id().size() > kMaxIdLength) return InvalidArgument("workflow_id is too long");
  if (req.workflow_type().name().empty()) return InvalidArgument("workflow_type.name is not set");
  if (req.task_queue().name().empty()) return InvalidArgument("task_queue.name is not set");
  if (req.request_id().size() > kMaxIdLength) return InvalidArgument("request_id is too long");
  for (const auto& [d, name] :
       {std::pair{&req.workflow_execution_timeout(), "workflow_execution_timeout"},
        std::pair{&req.workflow_run_timeout(), "workflow_run_timeout"},
        std::pair{&req.workflow_task_timeout(), "workflow_task_timeout"},
        std::pair{&req.workflow_start_delay(), "workflow_start_delay"}}) {
    if (auto e = CheckNonNegative(*d, name); !e.empty()) return InvalidArgument(e);
  }
  if (!enums::WorkflowIdReusePolicy_IsValid(req.workflow_id_reuse_policy())) {
    return InvalidArgument("workflow_id_reuse_policy has an unknown value " +
                           std::to_string(req.workflow_id_reuse_policy()));
  }
  if (!enums::WorkflowIdConflictPolicy_IsValid(req.workflow_id_conflict_policy())) {
    return InvalidArgument("workflow_id_conflict_policy has an unknown value " +
                           std::to_string(req.workflow_id_conflict_policy()));
  }
  if (req.has_retry_policy()) {
    if (auto e = ValidateRetryPolicy(req.retry_policy())) return InvalidArgument(*e);
  }
  if (!req.cron_schedule().empty()) {
    return InvalidArgument("cron_schedule is not supported by hourglass-devserver");
  }
  if (auto e = CheckPayloads(req.input(), "input"); !e.empty()) return InvalidArgument(e);
  return grpc::Status::OK;
}

}  // namespace

grpc::Status Engine::StartWorkflowExecution(const wsv::StartWorkflowExecutionRequest& req,
                                            wsv::StartWorkflowExecutionResponse* resp) {
  now_ = clock_.NowMs();
  if (auto st = CheckNamespace(req.namespace_()); !st.ok()) return st;
  if (auto st = ValidateStartFields(req); !st.ok()) return st;
  StartParams p;
  p.ns = req.namespace_();
  p.workflow_id = req.workflow_id();
  p.request_id = req.request_id();
  p.identity = req.identity();
  p.type = req.workflow_type();
  p.task_queue = req.task_queue();
  p.input = req.has_input() ? &req.input() : nullptr;
  p.execution_timeout_ms = DurationMs(req.workflow_execution_timeout());
  p.run_timeout_ms = DurationMs(req.workflow_run_timeout());
  p.task_timeout_ms = DurationMs(req.workflow_task_timeout());
  p.start_delay_ms = DurationMs(req.workflow_start_delay());
  p.retry_policy = req.has_retry_policy() ? &req.retry_policy() : nullptr;
  p.memo = req.has_memo() ? &req.memo() : nullptr;
  p.search_attributes = req.has_search_attributes() ? &req.search_attributes() : nullptr;
  p.header = req.has_header() ? &req.header() : nullptr;
  p.reuse = req.workflow_id_reuse_policy();
  p.conflict = req.workflow_id_conflict_policy();
  // The deprecated reuse value TERMINATE_IF_RUNNING means conflict policy
  // TERMINATE_EXISTING plus ALLOW_DUPLICATE.
  if (p.reuse == enums::WORKFLOW_ID_REUSE_POLICY_TERMINATE_IF_RUNNING) {
    p.reuse = enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
    p.conflict = enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING;
  }
  if (p.reuse == enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED) {
    p.reuse = enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
  }
  if (p.conflict == enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED) {
    p.conflict = enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL;
  }
  if (p.conflict == enums::WORKFLOW_ID_CONFLICT_POLICY_TERMINATE_EXISTING &&
      p.reuse == enums::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE) {
    return InvalidArgument(
        "workflow_id_conflict_policy TERMINATE_EXISTING cannot be combined with "
        "workflow_id_reuse_policy REJECT_DUPLICATE");
  }

  Run* current = CurrentRun(p.ns, p.workflow_id);
  // Idempotency first: a retried request gets the run it created.
  if (current != nullptr && !p.request_id.empty() &&
      current->state.start_request_id() == p.request_id) {
    resp->set_run_id(current->state.run_id());
    resp->set_started(true);
    resp->set_status(current->state.status());
    return grpc::Status::OK;
  }
  bool use_existing = false;
  Run* to_terminate = nullptr;
  if (auto st = CheckStartConflict(p, current, &use_existing, &to_terminate); !st.ok()) return st;
  if (use_existing) {
    resp->set_run_id(current->state.run_id());
    resp->set_started(false);
    resp->set_status(current->state.status());
    return grpc::Status::OK;
  }
  Txn txn;
  if (to_terminate != nullptr) {
    TerminateRun(txn, *to_terminate, "terminated by a new start (conflict policy TERMINATE_EXISTING)",
                 nullptr, p.identity);
  }
  Run& run = CreateRun(txn, p);
  Commit(txn);
  resp->set_run_id(run.state.run_id());
  resp->set_started(true);
  resp->set_status(enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  return grpc::Status::OK;
}

// --- signals, cancel, terminate ----------------------------------------------------

grpc::Status Engine::SignalWorkflowExecution(const wsv::SignalWorkflowExecutionRequest& req,
                                             wsv::SignalWorkflowExecutionResponse*) {
  now_ = clock_.NowMs();
  if (req.signal_name().empty()) return InvalidArgument("signal_name is not set");
  if (auto e = CheckPayloads(req.input(), "input"); !e.empty()) return InvalidArgument(e);
  Run* run = nullptr;
  if (auto st = ResolveRun(req.namespace_(), req.workflow_execution(), &run, true); !st.ok()) {
    return st;
  }
  // A client retry of a signal already applied is acknowledged, not repeated.
  if (!req.request_id().empty()) {
    for (const auto& id : run->state.signal_request_ids()) {
      if (id == req.request_id()) return grpc::Status::OK;
    }
  }
  Txn txn;
  hist::HistoryEvent e;
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  auto* a = e.mutable_workflow_execution_signaled_event_attributes();
  a->set_signal_name(req.signal_name());
  *a->mutable_input() = req.input();
  a->set_identity(req.identity());
  *a->mutable_header() = req.header();
  a->set_request_id(req.request_id());
  AddEvent(txn, *run, std::move(e));
  ScheduleWorkflowTask(txn, *run);
  if (!req.request_id().empty()) {
    auto* ids = run->state.mutable_signal_request_ids();
    ids->Add(std::string(req.request_id()));
    if (ids->size() > 1000) ids->DeleteSubrange(0, ids->size() - 1000);
  }
  Commit(txn);
  return grpc::Status::OK;
}

grpc::Status Engine::SignalWithStartWorkflowExecution(
    const wsv::SignalWithStartWorkflowExecutionRequest& req,
    wsv::SignalWithStartWorkflowExecutionResponse* resp) {
  now_ = clock_.NowMs();
  if (auto st = CheckNamespace(req.namespace_()); !st.ok()) return st;
  if (auto st = ValidateStartFields(req); !st.ok()) return st;
  if (req.signal_name().empty()) return InvalidArgument("signal_name is not set");
  if (auto e = CheckPayloads(req.signal_input(), "signal_input"); !e.empty()) return InvalidArgument(e);
  auto conflict = req.workflow_id_conflict_policy();
  if (conflict == enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL) {
    return InvalidArgument("SignalWithStart does not accept workflow_id_conflict_policy FAIL");
  }
  if (conflict == enums::WORKFLOW_ID_CONFLICT_POLICY_UNSPECIFIED) {
    conflict = enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING;
  }
  Run* current = CurrentRun(req.namespace_(), req.workflow_id());
  Txn txn;
  if (current != nullptr && current->open() &&
      conflict == enums::WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING) {
    hist::HistoryEvent e;
    e.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
    auto* a = e.mutable_workflow_execution_signaled_event_attributes();
    a->set_signal_name(req.signal_name());
    *a->mutable_input() = req.signal_input();
    a->set_identity(req.identity());
    *a->mutable_header() = req.header();
    a->set_request_id(req.request_id());
    AddEvent(txn, *current, std::move(e));
    ScheduleWorkflowTask(txn, *current);
    Commit(txn);
    resp->set_run_id(current->state.run_id());
    resp->set_started(false);
    return grpc::Status::OK;
  }
  StartParams p;
  p.ns = req.namespace_();
  p.workflow_id = req.workflow_id();
  p.request_id = req.request_id();
  p.identity = req.identity();
  p.type = req.workflow_type();
  p.task_queue = req.task_queue();
  p.input = req.has_input() ? &req.input() : nullptr;
  p.execution_timeout_ms = DurationMs(req.workflow_execution_timeout());
  p.run_timeout_ms = DurationMs(req.workflow_run_timeout());
  p.task_timeout_ms = DurationMs(req.workflow_task_timeout());
  p.start_delay_ms = DurationMs(req.workflow_start_delay());
  p.retry_policy = req.has_retry_policy() ? &req.retry_policy() : nullptr;
  p.memo = req.has_memo() ? &req.memo() : nullptr;
  p.search_attributes = req.has_search_attributes() ? &req.search_attributes() : nullptr;
  p.header = req.has_header() ? &req.header() : nullptr;
  p.reuse = req.workflow_id_reuse_policy() == enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED
                ? enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE
                : req.workflow_id_reuse_policy();
  p.conflict = conflict;
  p.with_signal = true;
  p.signal_name = req.signal_name();
  p.signal_input = &req.signal_input();
  p.signal_header = &req.header();
  p.signal_request_id = req.request_id();
  bool use_existing = false;
  Run* to_terminate = nullptr;
  if (auto st = CheckStartConflict(p, current, &use_existing, &to_terminate); !st.ok()) return st;
  if (to_terminate != nullptr) {
    TerminateRun(txn, *to_terminate, "terminated by SignalWithStart (TERMINATE_EXISTING)", nullptr,
                 p.identity);
  }
  Run& run = CreateRun(txn, p);
  Commit(txn);
  resp->set_run_id(run.state.run_id());
  resp->set_started(true);
  return grpc::Status::OK;
}

void Engine::RequestCancelRun(Txn& txn, Run& run, const std::string& reason,
                              const std::string& identity, const common::WorkflowExecution* external,
                              int64_t external_initiated_id) {
  if (!run.open() || run.state.cancel_requested()) return;
  run.state.set_cancel_requested(true);
  hist::HistoryEvent e;
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED);
  auto* a = e.mutable_workflow_execution_cancel_requested_event_attributes();
  a->set_cause(reason);
  a->set_identity(identity);
  if (external != nullptr) {
    *a->mutable_external_workflow_execution() = *external;
    a->set_external_initiated_event_id(external_initiated_id);
  }
  AddEvent(txn, run, std::move(e));
  ScheduleWorkflowTask(txn, run);
}

grpc::Status Engine::RequestCancelWorkflowExecution(
    const wsv::RequestCancelWorkflowExecutionRequest& req,
    wsv::RequestCancelWorkflowExecutionResponse*) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  if (auto st = ResolveRun(req.namespace_(), req.workflow_execution(), &run, false); !st.ok()) {
    return st;
  }
  if (!req.first_execution_run_id().empty() &&
      run->state.started().first_execution_run_id() != req.first_execution_run_id()) {
    return NotFound("no run of this workflow id belongs to first_execution_run_id " +
                    req.first_execution_run_id());
  }
  if (!run->open() || run->state.cancel_requested()) return grpc::Status::OK;  // idempotent
  Txn txn;
  RequestCancelRun(txn, *run, req.reason(), req.identity(), nullptr, 0);
  Commit(txn);
  return grpc::Status::OK;
}

void Engine::TerminateRun(Txn& txn, Run& run, const std::string& reason,
                          const common::Payloads* details, const std::string& identity) {
  if (!run.open()) return;
  auto& e = Append(txn, run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
  auto* a = e.mutable_workflow_execution_terminated_event_attributes();
  a->set_reason(reason);
  if (details) *a->mutable_details() = *details;
  a->set_identity(identity);
  const hist::HistoryEvent close = e;
  CloseRun(txn, run, enums::WORKFLOW_EXECUTION_STATUS_TERMINATED);
  NotifyParent(txn, run, close);
}

grpc::Status Engine::TerminateWorkflowExecution(const wsv::TerminateWorkflowExecutionRequest& req,
                                                wsv::TerminateWorkflowExecutionResponse*) {
  now_ = clock_.NowMs();
  if (auto e = CheckPayloads(req.details(), "details"); !e.empty()) return InvalidArgument(e);
  Run* run = nullptr;
  if (auto st = ResolveRun(req.namespace_(), req.workflow_execution(), &run, true); !st.ok()) {
    return st;
  }
  if (!req.first_execution_run_id().empty() &&
      run->state.started().first_execution_run_id() != req.first_execution_run_id()) {
    return NotFound("no run of this workflow id belongs to first_execution_run_id " +
                    req.first_execution_run_id());
  }
  Txn txn;
  TerminateRun(txn, *run, req.reason(), req.has_details() ? &req.details() : nullptr, req.identity());
  Commit(txn);
  return grpc::Status::OK;
}

// --- closing runs ---------------------------------------------------------------

void Engine::CloseRun(Txn& txn, Run& run, enums::WorkflowExecutionStatus status) {
  auto& s = run.state;
  s.set_status(status);
  s.set_close_time_ms(now_);
  s.set_close_event_id(s.next_event_id() - 1);
  s.clear_workflow_task();
  s.clear_activities();
  s.clear_timers();
  // Nothing may follow a close event: buffered events are dropped.
  s.clear_buffered();
  txn.Touch(&run);
  txn.closed.push_back(&run);
  ApplyParentClosePolicy(txn, run);
  // Queries waiting for this run's next workflow task get a direct task now.
  RequeueQueriesFor(run);
}

void Engine::ApplyParentClosePolicy(Txn& txn, Run& parent) {
  auto children = parent.state.children();
  parent.state.clear_children();
  for (const auto& [initiated, child] : children) {
    Run* run = CurrentRun(child.namespace_(), child.workflow_id());
    if (run == nullptr || !run->open()) continue;
    switch (child.parent_close_policy()) {
      case enums::PARENT_CLOSE_POLICY_ABANDON:
        break;
      case enums::PARENT_CLOSE_POLICY_REQUEST_CANCEL:
        RequestCancelRun(txn, *run, "by parent close policy", "hourglass-devserver", nullptr, 0);
        break;
      default:
        TerminateRun(txn, *run, "by parent close policy", nullptr, "hourglass-devserver");
        break;
    }
  }
}

void Engine::NotifyParent(Txn& txn, Run& child, const hist::HistoryEvent& close_event) {
  if (!child.state.has_parent() || child.state.parent().run_id().empty()) return;
  Run* parent = FindRunById(child.state.parent().run_id());
  if (parent == nullptr || !parent->open()) return;
  const int64_t initiated = child.state.parent().initiated_event_id();
  auto& children = *parent->state.mutable_children();
  auto it = children.find(initiated);
  if (it == children.end()) return;
  const v1::ChildInfo info = it->second;
  children.erase(it);
  hist::HistoryEvent e;
  common::WorkflowExecution exec;
  exec.set_workflow_id(info.workflow_id());
  exec.set_run_id(info.run_id());
  common::WorkflowType type;
  type.set_name(info.workflow_type());
  auto fill = [&](auto* a) {
    a->set_namespace_(info.namespace_());
    *a->mutable_workflow_execution() = exec;
    *a->mutable_workflow_type() = type;
    a->set_initiated_event_id(initiated);
    a->set_started_event_id(info.started_event_id());
  };
  switch (close_event.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: {
      e.set_event_type(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED);
      auto* a = e.mutable_child_workflow_execution_completed_event_attributes();
      fill(a);
      *a->mutable_result() = close_event.workflow_execution_completed_event_attributes().result();
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: {
      e.set_event_type(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED);
      auto* a = e.mutable_child_workflow_execution_failed_event_attributes();
      fill(a);
      *a->mutable_failure() = close_event.workflow_execution_failed_event_attributes().failure();
      a->set_retry_state(close_event.workflow_execution_failed_event_attributes().retry_state());
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: {
      e.set_event_type(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED);
      auto* a = e.mutable_child_workflow_execution_canceled_event_attributes();
      fill(a);
      *a->mutable_details() = close_event.workflow_execution_canceled_event_attributes().details();
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT: {
      e.set_event_type(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT);
      auto* a = e.mutable_child_workflow_execution_timed_out_event_attributes();
      fill(a);
      a->set_retry_state(close_event.workflow_execution_timed_out_event_attributes().retry_state());
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
      e.set_event_type(enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED);
      fill(e.mutable_child_workflow_execution_terminated_event_attributes());
      break;
    }
    default:
      return;  // continue-as-new: the chain goes on
  }
  AddEvent(txn, *parent, std::move(e));
  ScheduleWorkflowTask(txn, *parent);
}

std::string Engine::MaybeRetryRun(Txn& txn, Run& run, const Failure* failure,
                                  enums::RetryState* retry_state) {
  const auto& started = run.state.started();
  if (!started.has_retry_policy()) {
    *retry_state = enums::RETRY_STATE_RETRY_POLICY_NOT_SET;
    return "";
  }
  const RetryDecision d = DecideRetry(started.retry_policy(), started.attempt(), failure, false,
                                      now_, run.state.execution_expiration_ms());
  *retry_state = d.state;
  if (d.state != enums::RETRY_STATE_IN_PROGRESS) return "";
  StartParams p;
  p.ns = run.state.namespace_();
  p.workflow_id = run.state.workflow_id();
  p.identity = started.identity();
  p.type = started.workflow_type();
  p.task_queue = started.task_queue();
  p.input = started.has_input() ? &started.input() : nullptr;
  p.execution_timeout_ms = DurationMs(started.workflow_execution_timeout());
  p.run_timeout_ms = DurationMs(started.workflow_run_timeout());
  p.task_timeout_ms = DurationMs(started.workflow_task_timeout());
  p.retry_policy = &started.retry_policy();
  p.memo = &run.state.memo();
  p.search_attributes = &run.state.search_attributes();
  p.header = started.has_header() ? &started.header() : nullptr;
  p.start_delay_ms = d.backoff_ms;
  p.continued_execution_run_id = run.state.run_id();
  p.first_execution_run_id = started.first_execution_run_id();
  p.initiator = enums::CONTINUE_AS_NEW_INITIATOR_RETRY;
  p.attempt = started.attempt() + 1;
  p.continued_failure = failure;
  p.execution_expiration_ms = run.state.execution_expiration_ms();
  p.parent = run.state.has_parent() ? &run.state.parent() : nullptr;
  p.root = started.has_root_workflow_execution() ? &started.root_workflow_execution() : nullptr;
  Run& next = CreateRun(txn, p);
  return next.state.run_id();
}

// --- timers -----------------------------------------------------------------------

void Engine::FireDueTimers() {
  now_ = clock_.NowMs();
  for (const TimerKey& key : timers_.PopDue(now_)) {
    now_ = clock_.NowMs();
    switch (key.kind) {
      case TimerKind::kWorkflowTaskStartToClose:
        OnWorkflowTaskTimeout(key);
        break;
      case TimerKind::kWorkflowTaskBackoff:
        OnWorkflowTaskBackoff(key);
        break;
      case TimerKind::kUserTimer:
        OnUserTimer(key);
        break;
      case TimerKind::kActivityScheduleToStart:
      case TimerKind::kActivityStartToClose:
      case TimerKind::kActivityHeartbeat:
      case TimerKind::kActivityScheduleToClose:
      case TimerKind::kActivityRetry:
        OnActivityTimer(key);
        break;
      case TimerKind::kRunTimeout:
      case TimerKind::kExecutionTimeout:
        OnRunTimeout(key);
        break;
      case TimerKind::kPollExpiry:
        OnPollExpiry(static_cast<uint64_t>(key.ref));
        break;
      case TimerKind::kHistoryWaitExpiry:
        OnHistoryWaitExpiry(static_cast<uint64_t>(key.ref));
        break;
      case TimerKind::kQueryExpiry:
        OnQueryExpiry(key.name);
        break;
    }
  }
}

void Engine::OnWorkflowTaskBackoff(const TimerKey& key) {
  Run* run = FindRunById(key.run_id);
  if (run == nullptr || !run->open()) return;
  auto& wt = *run->state.mutable_workflow_task();
  if (wt.state() != v1::WORKFLOW_TASK_STATE_BACKOFF || wt.backoff_until_ms() > now_) return;
  Txn txn;
  wt.set_state(v1::WORKFLOW_TASK_STATE_NONE);
  ScheduleWorkflowTask(txn, *run);
  Commit(txn);
}

void Engine::OnUserTimer(const TimerKey& key) {
  Run* run = FindRunById(key.run_id);
  if (run == nullptr || !run->open()) return;
  auto& timers = *run->state.mutable_timers();
  auto it = timers.find(key.name);
  if (it == timers.end() || it->second.started_event_id() != key.ref) return;
  timers.erase(it);
  Txn txn;
  hist::HistoryEvent e;
  e.set_event_type(enums::EVENT_TYPE_TIMER_FIRED);
  e.mutable_timer_fired_event_attributes()->set_timer_id(key.name);
  e.mutable_timer_fired_event_attributes()->set_started_event_id(key.ref);
  AddEvent(txn, *run, std::move(e));
  ScheduleWorkflowTask(txn, *run);
  Commit(txn);
}

void Engine::OnRunTimeout(const TimerKey& key) {
  Run* run = FindRunById(key.run_id);
  if (run == nullptr || !run->open()) return;
  const int64_t due = key.kind == TimerKind::kRunTimeout ? run->state.run_expiration_ms()
                                                         : run->state.execution_expiration_ms();
  if (due == 0 || due > now_) return;
  Txn txn;
  enums::RetryState retry_state = enums::RETRY_STATE_TIMEOUT;
  std::string next;
  if (key.kind == TimerKind::kRunTimeout) {
    Failure timeout;
    timeout.set_message("workflow run timed out");
    timeout.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
    next = MaybeRetryRun(txn, *run, &timeout, &retry_state);
    if (retry_state == enums::RETRY_STATE_RETRY_POLICY_NOT_SET) retry_state = enums::RETRY_STATE_TIMEOUT;
  }
  auto& e = Append(txn, *run, enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT);
  auto* a = e.mutable_workflow_execution_timed_out_event_attributes();
  a->set_retry_state(retry_state);
  a->set_new_execution_run_id(next);
  run->state.set_new_execution_run_id(next);
  const hist::HistoryEvent close = e;
  CloseRun(txn, *run, enums::WORKFLOW_EXECUTION_STATUS_TIMED_OUT);
  if (next.empty()) NotifyParent(txn, *run, close);
  Commit(txn);
}

// --- describe, history, list --------------------------------------------------------

void Engine::FillExecutionInfo(const Run& run, temporal::api::workflow::v1::WorkflowExecutionInfo* info) {
  const auto& s = run.state;
  *info->mutable_execution() = Execution(run);
  *info->mutable_type() = s.started().workflow_type();
  *info->mutable_start_time() = MsToTimestamp(s.start_time_ms());
  *info->mutable_execution_time() = MsToTimestamp(s.execution_time_ms());
  if (!run.open()) *info->mutable_close_time() = MsToTimestamp(s.close_time_ms());
  info->set_status(s.status());
  info->set_history_length(s.next_event_id() - 1);
  info->set_history_size_bytes(s.history_size_bytes());
  info->set_task_queue(s.started().task_queue().name());
  *info->mutable_memo() = s.memo();
  *info->mutable_search_attributes() = s.search_attributes();
  if (s.has_parent()) {
    info->set_parent_namespace_id(s.parent().namespace_());
    info->mutable_parent_execution()->set_workflow_id(s.parent().workflow_id());
    info->mutable_parent_execution()->set_run_id(s.parent().run_id());
  }
  if (s.started().has_root_workflow_execution()) {
    *info->mutable_root_execution() = s.started().root_workflow_execution();
  }
  info->set_first_run_id(s.started().first_execution_run_id());
}

grpc::Status Engine::DescribeWorkflowExecution(const wsv::DescribeWorkflowExecutionRequest& req,
                                               wsv::DescribeWorkflowExecutionResponse* resp) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  if (auto st = ResolveRun(req.namespace_(), req.execution(), &run, false); !st.ok()) return st;
  const auto& s = run->state;
  FillExecutionInfo(*run, resp->mutable_workflow_execution_info());
  auto* cfg = resp->mutable_execution_config();
  *cfg->mutable_task_queue() = s.started().task_queue();
  *cfg->mutable_workflow_execution_timeout() = s.started().workflow_execution_timeout();
  *cfg->mutable_workflow_run_timeout() = s.started().workflow_run_timeout();
  *cfg->mutable_default_workflow_task_timeout() = s.started().workflow_task_timeout();
  for (const auto& [id, ai] : s.activities()) {
    auto* p = resp->add_pending_activities();
    p->set_activity_id(ai.attributes().activity_id());
    *p->mutable_activity_type() = ai.attributes().activity_type();
    p->set_state(ai.cancel_requested() ? enums::PENDING_ACTIVITY_STATE_CANCEL_REQUESTED
                 : ai.state() == v1::ACTIVITY_STATE_STARTED
                     ? enums::PENDING_ACTIVITY_STATE_STARTED
                     : enums::PENDING_ACTIVITY_STATE_SCHEDULED);
    if (ai.has_heartbeat_details()) *p->mutable_heartbeat_details() = ai.heartbeat_details();
    if (ai.last_heartbeat_time_ms() > 0) {
      *p->mutable_last_heartbeat_time() = MsToTimestamp(ai.last_heartbeat_time_ms());
    }
    if (ai.started_time_ms() > 0) *p->mutable_last_started_time() = MsToTimestamp(ai.started_time_ms());
    p->set_attempt(ai.attempt());
    p->set_maximum_attempts(ai.attributes().retry_policy().maximum_attempts());
    *p->mutable_scheduled_time() = MsToTimestamp(ai.attempt_scheduled_time_ms());
    if (ai.has_last_failure()) *p->mutable_last_failure() = ai.last_failure();
    p->set_last_worker_identity(ai.started_identity());
  }
  for (const auto& [initiated, child] : s.children()) {
    auto* c = resp->add_pending_children();
    c->set_workflow_id(child.workflow_id());
    c->set_run_id(child.run_id());
    c->set_workflow_type_name(child.workflow_type());
    c->set_initiated_id(initiated);
    c->set_parent_close_policy(child.parent_close_policy());
  }
  const auto& wt = s.workflow_task();
  if (wt.state() == v1::WORKFLOW_TASK_STATE_SCHEDULED || wt.state() == v1::WORKFLOW_TASK_STATE_STARTED) {
    auto* p = resp->mutable_pending_workflow_task();
    p->set_state(wt.state() == v1::WORKFLOW_TASK_STATE_STARTED
                     ? enums::PENDING_WORKFLOW_TASK_STATE_STARTED
                     : enums::PENDING_WORKFLOW_TASK_STATE_SCHEDULED);
    *p->mutable_scheduled_time() = MsToTimestamp(wt.scheduled_time_ms());
    *p->mutable_original_scheduled_time() = MsToTimestamp(wt.scheduled_time_ms());
    if (wt.started_time_ms() > 0) *p->mutable_started_time() = MsToTimestamp(wt.started_time_ms());
    p->set_attempt(wt.attempt());
  }
  return grpc::Status::OK;
}

void Engine::GetWorkflowExecutionHistory(const wsv::GetWorkflowExecutionHistoryRequest& req,
                                         int64_t deadline_ms,
                                         Done<wsv::GetWorkflowExecutionHistoryResponse> done) {
  now_ = clock_.NowMs();
  Run* run = nullptr;
  if (auto st = ResolveRun(req.namespace_(), req.execution(), &run, false); !st.ok()) {
    done(st, {});
    return;
  }
  if (req.maximum_page_size() < 0) {
    done(InvalidArgument("maximum_page_size must not be negative"), {});
    return;
  }
  if (!enums::HistoryEventFilterType_IsValid(req.history_event_filter_type())) {
    done(InvalidArgument("history_event_filter_type has an unknown value"), {});
    return;
  }
  auto waiter = std::make_unique<HistoryWaiter>();
  waiter->run_id = run->state.run_id();
  waiter->request = req;
  waiter->close_only =
      req.history_event_filter_type() == enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT;
  waiter->done = std::move(done);
  if (!req.next_page_token().empty()) {
    v1::HistoryPageToken token;
    if (!token.ParseFromString(req.next_page_token()) || token.run_id() != run->state.run_id()) {
      waiter->done(InvalidArgument("next_page_token does not belong to this workflow run"), {});
      return;
    }
    waiter->next_event_id = token.next_event_id();
  }
  if (TryAnswerHistoryWaiter(*waiter, /*timed_out=*/!req.wait_new_event() || shutting_down_)) return;
  // Park: answered when the run changes, or empty (with a token) after the
  // long-poll interval, or a second before the caller's deadline.
  int64_t expiry = now_ + options_.history_wait_ms;
  if (deadline_ms > 0) expiry = std::min(expiry, deadline_ms - 1000);
  waiter->id = next_waiter_id_++;
  const uint64_t id = waiter->id;
  history_waiters_[id] = std::move(waiter);
  timers_.Add(std::max(expiry, now_), {TimerKind::kHistoryWaitExpiry, "", static_cast<int64_t>(id), 0, ""});
}

bool Engine::TryAnswerHistoryWaiter(HistoryWaiter& w, bool timed_out) {
  Run* run = FindRunById(w.run_id);
  if (run == nullptr) {
    w.done(NotFound("workflow execution not found"), {});
    return true;
  }
  wsv::GetWorkflowExecutionHistoryResponse resp;
  resp.mutable_history();
  auto token_at = [&](int64_t next) {
    v1::HistoryPageToken token;
    token.set_run_id(w.run_id);
    token.set_next_event_id(next);
    resp.set_next_page_token(token.SerializeAsString());
  };
  const int64_t last = run->state.next_event_id() - 1;
  if (w.close_only) {
    if (!run->open()) {
      auto events = ReadHistory(*run, run->state.close_event_id(), 1);
      if (!events) {
        w.done(grpc::Status(grpc::StatusCode::INTERNAL, events.error().message()), {});
        return true;
      }
      for (auto& e : *events) *resp.mutable_history()->add_events() = std::move(e);
      w.done(grpc::Status::OK, std::move(resp));
      return true;
    }
    if (!timed_out) return false;
    if (w.request.wait_new_event()) token_at(last + 1);
    w.done(grpc::Status::OK, std::move(resp));
    return true;
  }
  const int64_t page = w.request.maximum_page_size() > 0
                           ? std::min<int64_t>(w.request.maximum_page_size(), 10000)
                           : options_.history_page_size;
  if (w.next_event_id <= last) {
    auto events = ReadHistory(*run, w.next_event_id, page);
    if (!events) {
      w.done(grpc::Status(grpc::StatusCode::INTERNAL, events.error().message()), {});
      return true;
    }
    const int64_t next = w.next_event_id + static_cast<int64_t>(events->size());
    for (auto& e : *events) *resp.mutable_history()->add_events() = std::move(e);
    if (next <= last || (run->open() && w.request.wait_new_event())) token_at(next);
    w.done(grpc::Status::OK, std::move(resp));
    return true;
  }
  if (!run->open()) {
    w.done(grpc::Status::OK, std::move(resp));
    return true;
  }
  if (!timed_out) return false;
  if (w.request.wait_new_event()) token_at(w.next_event_id);
  w.done(grpc::Status::OK, std::move(resp));
  return true;
}

void Engine::WakeHistoryWaiters(const std::string& run_id) {
  if (history_waiters_.empty()) return;
  std::vector<uint64_t> answered;
  for (auto& [id, w] : history_waiters_) {
    if (w->run_id == run_id && TryAnswerHistoryWaiter(*w, false)) answered.push_back(id);
  }
  for (uint64_t id : answered) history_waiters_.erase(id);
}

void Engine::OnHistoryWaitExpiry(uint64_t waiter_id) {
  auto it = history_waiters_.find(waiter_id);
  if (it == history_waiters_.end()) return;
  auto w = std::move(it->second);
  history_waiters_.erase(it);
  TryAnswerHistoryWaiter(*w, true);
}

grpc::Status Engine::ListWorkflowExecutions(const wsv::ListWorkflowExecutionsRequest& req,
                                            wsv::ListWorkflowExecutionsResponse* resp) {
  if (auto st = CheckNamespace(req.namespace_()); !st.ok()) return st;
  if (req.page_size() < 0) return InvalidArgument("page_size must not be negative");
  auto query = ParseVisibilityQuery(req.query());
  if (!query) return InvalidArgument(query.error().message());
  int64_t offset = 0;
  if (!req.next_page_token().empty()) {
    v1::ListPageToken token;
    if (!token.ParseFromString(req.next_page_token()) || token.offset() < 0) {
      return InvalidArgument("next_page_token is not valid");
    }
    offset = token.offset();
  }
  std::vector<const Run*> matched;
  for (const auto& [id, run] : runs_) {
    if (run->state.namespace_() == req.namespace_() && Matches(*query, run->state)) {
      matched.push_back(run.get());
    }
  }
  std::sort(matched.begin(), matched.end(), [](const Run* a, const Run* b) {
    if (a->state.start_time_ms() != b->state.start_time_ms()) {
      return a->state.start_time_ms() > b->state.start_time_ms();
    }
    return a->state.run_id() > b->state.run_id();
  });
  const int64_t page = req.page_size() > 0 ? req.page_size() : 1000;
  int64_t i = offset;
  for (; i < static_cast<int64_t>(matched.size()) && i < offset + page; ++i) {
    FillExecutionInfo(*matched[static_cast<size_t>(i)], resp->add_executions());
  }
  if (i < static_cast<int64_t>(matched.size())) {
    v1::ListPageToken token;
    token.set_offset(i);
    resp->set_next_page_token(token.SerializeAsString());
  }
  return grpc::Status::OK;
}

grpc::Status Engine::CountWorkflowExecutions(const wsv::CountWorkflowExecutionsRequest& req,
                                             wsv::CountWorkflowExecutionsResponse* resp) {
  if (auto st = CheckNamespace(req.namespace_()); !st.ok()) return st;
  auto query = ParseVisibilityQuery(req.query());
  if (!query) return InvalidArgument(query.error().message());
  int64_t count = 0;
  for (const auto& [id, run] : runs_) {
    if (run->state.namespace_() == req.namespace_() && Matches(*query, run->state)) ++count;
  }
  resp->set_count(count);
  return grpc::Status::OK;
}

// --- workers ------------------------------------------------------------------------

grpc::Status Engine::ShutdownWorker(const wsv::ShutdownWorkerRequest& req,
                                    wsv::ShutdownWorkerResponse*) {
  if (auto st = CheckNamespace(req.namespace_()); !st.ok()) return st;
  // No sticky queues here, so nothing to unstick. Parked sticky polls of that
  // worker are answered empty at once.
  if (!req.sticky_task_queue().empty()) {
    QueueKey key{req.namespace_(), req.sticky_task_queue(), TaskType::kWorkflow};
    auto it = queues_.find(key);
    if (it != queues_.end()) {
      for (uint64_t id : it->second.waiters) {
        auto wit = waiters_.find(id);
        if (wit == waiters_.end()) continue;
        auto done = std::move(wit->second->workflow_done);
        waiters_.erase(wit);
        if (done) done(grpc::Status::OK, {});
      }
      it->second.waiters.clear();
    }
  }
  return grpc::Status::OK;
}

grpc::Status Engine::ResetStickyTaskQueue(const wsv::ResetStickyTaskQueueRequest& req,
                                          wsv::ResetStickyTaskQueueResponse*) {
  Run* run = nullptr;
  return ResolveRun(req.namespace_(), req.execution(), &run, false);
}

void Engine::CancelWaiter(uint64_t waiter_id) {
  auto it = waiters_.find(waiter_id);
  if (it == waiters_.end()) return;
  auto w = std::move(it->second);
  waiters_.erase(it);
  const grpc::Status cancelled(grpc::StatusCode::CANCELLED, "poll cancelled by the caller");
  if (w->workflow_done) w->workflow_done(cancelled, {});
  if (w->activity_done) w->activity_done(cancelled, {});
}

void Engine::OnPollExpiry(uint64_t waiter_id) {
  auto it = waiters_.find(waiter_id);
  if (it == waiters_.end()) return;
  auto w = std::move(it->second);
  waiters_.erase(it);
  AnswerEmpty(*w);
}

void Engine::AnswerEmpty(Waiter& w) {
  // An empty response (no task token) is a poll timeout to the worker.
  if (w.workflow_done) w.workflow_done(grpc::Status::OK, {});
  if (w.activity_done) w.activity_done(grpc::Status::OK, {});
}

void Engine::BeginShutdown() {
  shutting_down_ = true;
  ReleaseAllWaiters();
}

void Engine::ReleaseAllWaiters() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  for (auto& [id, w] : waiters) AnswerEmpty(*w);
  auto history = std::move(history_waiters_);
  history_waiters_.clear();
  for (auto& [id, w] : history) TryAnswerHistoryWaiter(*w, true);
  auto queries = std::move(queries_);
  queries_.clear();
  for (auto& [id, q] : queries) {
    q->done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down"), {});
  }
}

}  // namespace hourglass::devserver
