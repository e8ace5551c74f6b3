#include "bridgehost/workflow_worker.h"

#include <spdlog/spdlog.h>

#include "bridgehost/core/history_chunker.h"
#include "bridgehost/grpc_errors.h"
#include "bridgehost/late_tasks.h"
#include "ipc/failpoint.h"

namespace hourglass::bridgehost {

namespace v1 = ::hourglass::ipc::v1;
namespace act = ::coresdk::workflow_activation;
namespace wcomp = ::coresdk::workflow_completion;
namespace enums = ::temporal::api::enums::v1;
namespace hist = ::temporal::api::history::v1;
using Async = wsv::WorkflowService::StubInterface::async_interface;
using temporal::api::failure::v1::Failure;

namespace {
constexpr const char* kLegacyQueryId = "legacy_query";
constexpr uint32_t kDefaultMaxCachedWorkflows = 1000;

act::QueryWorkflow ToQueryJob(const std::string& id, const temporal::api::query::v1::WorkflowQuery& query) {
  act::QueryWorkflow q;
  q.set_query_id(id);
  q.set_query_type(query.query_type());
  for (const auto& p : query.query_args().payloads()) *q.add_arguments() = p;
  for (const auto& [k, v] : query.header().fields()) (*q.mutable_headers())[k] = v;
  return q;
}
}  // namespace

struct WorkflowWorker::RunState {
  std::string run_id;
  std::string workflow_id;
  std::unique_ptr<core::WorkflowMachines> machines;
  std::vector<hist::HistoryEvent> events;  // the full history of the task in progress
  // The task being processed (history moved into `events`), if any.
  std::optional<wsv::PollWorkflowTaskQueueResponse> task;
  std::vector<std::pair<size_t, size_t>> sequences;
  size_t next_sequence = 0;
  bool queries_issued = false;
  google::protobuf::Map<std::string, temporal::api::query::v1::WorkflowQueryResult> query_results;
  // Tasks that arrived while this run was busy: one real task (newest wins)
  // and any number of legacy query tasks.
  std::optional<wsv::PollWorkflowTaskQueueResponse> buffered;
  std::deque<wsv::PollWorkflowTaskQueueResponse> buffered_queries;
  bool outstanding = false;  // an activation is with the language side
  bool evicting = false;
  // The eviction, when it had to wait for an outstanding activation's answer.
  std::optional<act::WorkflowActivation> pending_eviction;
  bool eviction_issued = false;
  bool busy() const { return task.has_value() || outstanding || evicting; }
};

WorkflowWorker::WorkflowWorker(Runtime& runtime, std::string ns, std::string task_queue,
                               const v1::WorkerOptions& options, LateWorkflowTaskSink late_tasks)
    : runtime_(runtime),
      namespace_(std::move(ns)),
      task_queue_(std::move(task_queue)),
      options_(options),
      late_tasks_(std::move(late_tasks)) {}

std::string WorkflowWorker::Identity() const {
  return options_.identity().empty() ? runtime_.identity() : options_.identity();
}

uint32_t WorkflowWorker::CacheCapacity() const {
  if (!options_.has_max_cached_workflows()) return kDefaultMaxCachedWorkflows;
  // 0 still needs room for the run being worked on; it is evicted after each task.
  return std::max<uint32_t>(1, options_.max_cached_workflows());
}

WorkflowWorker::~WorkflowWorker() {
  *alive_ = false;
  Shutdown();
}

// --- polling --------------------------------------------------------------------

void WorkflowWorker::Poll(ipc::Responder responder) {
  if (shutting_down_) {
    responder.ReplyError(
        ipc::MakeError(v1::ERROR_KIND_SHUTDOWN, "workflow worker for " + task_queue_ + " is shutting down"));
    return;
  }
  parked_.Park(std::move(responder));
  Deliver();
  MaybePollServer();
}

void WorkflowWorker::CancelPoll(ipc::ConnectionId connection, uint64_t request_id) {
  parked_.Cancel(connection, request_id);
}

bool WorkflowWorker::AwaitsCompletion(const std::string& run_id, ipc::ConnectionId from) const {
  auto it = runs_.find(run_id);
  if (it == runs_.end() || !it->second->outstanding) return false;
  auto holder = holders_.find(run_id);
  return holder != holders_.end() && holder->second == from;
}

bool WorkflowWorker::Drained() const {
  if (responses_in_flight_ > 0) return false;
  for (const auto& [id, run] : runs_) {
    if (run->outstanding) return false;
  }
  return true;
}

void WorkflowWorker::Deliver() {
  while (!ready_.empty() && !parked_.empty()) {
    // Fault point: the activation is taken from Core, not yet sent. "error"
    // answers the parked polls INTERNAL; the activation waits for the next.
    if (HOURGLASS_FAILPOINT("bridgehost.poll_workflow_activation.before_send")) {
      parked_.AnswerAll(ipc::MakeError(
          v1::ERROR_KIND_INTERNAL,
          failpoint::ErrorMessage("bridgehost.poll_workflow_activation.before_send")));
      return;
    }
    v1::Response out;
    *out.mutable_poll_workflow_activation()->mutable_activation() = ready_.front();
    // A poller that died since it parked: the activation goes to the next one.
    auto holder = parked_.Offer(out);
    if (!holder) return;
    holders_[ready_.front().run_id()] = *holder;
    ready_.pop_front();
  }
}

void WorkflowWorker::MaybePollServer() {
  parked_.DropDead();
  const int max_polls = options_.max_concurrent_workflow_task_polls() > 0
                            ? static_cast<int>(options_.max_concurrent_workflow_task_polls())
                            : 2;
  size_t in_progress = waiting_.size();
  for (const auto& [id, run] : runs_) in_progress += run->task.has_value() ? 1 : 0;
  const size_t max_tasks =
      options_.max_outstanding_workflow_tasks() > 0 ? options_.max_outstanding_workflow_tasks() : 100;
  while (!shutting_down_ && ready_.empty() && server_polls_ < max_polls &&
         static_cast<size_t>(server_polls_) < parked_.size() &&
         in_progress + static_cast<size_t>(server_polls_) < max_tasks) {
    ++server_polls_;
    wsv::PollWorkflowTaskQueueRequest req;
    req.set_namespace_(namespace_);
    req.mutable_task_queue()->set_name(task_queue_);
    req.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    req.set_identity(Identity());
    CallOptions opts;
    opts.long_poll = true;
    opts.timeout = std::chrono::milliseconds(70000);
    opts.max_attempts = 1 << 20;
    AsyncMethod<wsv::PollWorkflowTaskQueueRequest, wsv::PollWorkflowTaskQueueResponse> m =
        &Async::PollWorkflowTaskQueue;
    auto alive = alive_;
    runtime_.Call(
        m, std::move(req), opts,
        [this, alive, late = late_tasks_](grpc::Status st, wsv::PollWorkflowTaskQueueResponse r) {
          if (!*alive) {
            // This worker is gone (late_tasks.h).
            if (st.ok() && !r.task_token().empty()) late(std::move(r));
            return;
          }
          --server_polls_;
          if (!st.ok()) {
            if (!shutting_down_) {
              spdlog::warn("bridgehost: workflow poll on {} failed: {}", task_queue_,
                           st.error_message());
              retry_timer_ = runtime_.loop().AddTimer(std::chrono::milliseconds(1000),
                                                      [this] { MaybePollServer(); });
            }
            return;
          }
          // An empty response is a poll timeout; a task
          // must carry what Core requires (reference §6).
          if (!r.task_token().empty() && r.has_workflow_execution() && r.has_history()) {
            OnTask(std::move(r));
          }
          MaybePollServer();
        });
  }
}

// --- tasks -----------------------------------------------------------------------

void WorkflowWorker::OnTask(wsv::PollWorkflowTaskQueueResponse task) {
  if (shutting_down_) {
    late_tasks_(std::move(task));  // late_tasks.h
    return;
  }
  if (!task.next_page_token().empty()) {
    auto shared = std::make_shared<wsv::PollWorkflowTaskQueueResponse>(std::move(task));
    const std::string token = shared->next_page_token();
    FetchRestAndStart(shared, token);
    return;
  }
  const std::string run_id = task.workflow_execution().run_id();
  auto it = runs_.find(run_id);
  if (it != runs_.end()) {
    RunState& run = *it->second;
    if (run.busy()) {
      if (task.has_query()) {
        run.buffered_queries.push_back(std::move(task));
      } else {
        run.buffered = std::move(task);  // newest wins
      }
      return;
    }
    run.task = std::move(task);
    lru_.remove(run_id);
    lru_.push_back(run_id);
    StartTask(run);
    return;
  }
  const uint32_t capacity = CacheCapacity();
  if (runs_.size() >= capacity) {
    waiting_.push_back(std::move(task));
    MakeRoom();
    return;
  }
  auto run = std::make_unique<RunState>();
  run->run_id = run_id;
  run->workflow_id = task.workflow_execution().workflow_id();
  run->machines = std::make_unique<core::WorkflowMachines>(namespace_, run->workflow_id, run_id,
                                                           task.workflow_execution_task_queue().name().empty()
                                                               ? task_queue_
                                                               : task.workflow_execution_task_queue().name());
  run->task = std::move(task);
  RunState& ref = *run;
  runs_[run_id] = std::move(run);
  lru_.push_back(run_id);
  StartTask(ref);
}

void WorkflowWorker::FetchRestAndStart(std::shared_ptr<wsv::PollWorkflowTaskQueueResponse> task,
                                       std::string next_page_token) {
  wsv::GetWorkflowExecutionHistoryRequest req;
  req.set_namespace_(namespace_);
  *req.mutable_execution() = task->workflow_execution();
  req.set_next_page_token(next_page_token);
  AsyncMethod<wsv::GetWorkflowExecutionHistoryRequest, wsv::GetWorkflowExecutionHistoryResponse> m =
      &Async::GetWorkflowExecutionHistory;
  auto alive = alive_;
  runtime_.Call(m, std::move(req), CallOptions{},
                [this, alive, task](grpc::Status st, wsv::GetWorkflowExecutionHistoryResponse r) {
                  if (!*alive) return;
                  if (!st.ok()) {
                    // Without the whole history the task cannot run: let it
                    // time out on the server and be retried.
                    spdlog::warn("bridgehost: fetching history of {} failed: {}",
                                 task->workflow_execution().run_id(), st.error_message());
                    return;
                  }
                  for (auto& e : *r.mutable_history()->mutable_events()) {
                    if (e.event_id() > task->started_event_id()) break;
                    *task->mutable_history()->add_events() = std::move(e);
                  }
                  if (!r.next_page_token().empty() &&
                      task->history().events_size() > 0 &&
                      task->history().events(task->history().events_size() - 1).event_id() <
                          task->started_event_id()) {
                    FetchRestAndStart(task, r.next_page_token());
                    return;
                  }
                  task->clear_next_page_token();
                  OnTask(std::move(*task));
                });
}

void WorkflowWorker::StartTask(RunState& run) {
  auto& task = *run.task;
  run.events.assign(std::make_move_iterator(task.mutable_history()->mutable_events()->begin()),
                    std::make_move_iterator(task.mutable_history()->mutable_events()->end()));
  task.mutable_history()->clear_events();
  run.sequences.clear();
  run.next_sequence = 0;
  run.queries_issued = false;
  run.query_results.clear();
  const int64_t processed = run.machines->last_processed_event_id();
  if (run.events.empty() || run.events.front().event_id() != 1 ||
      static_cast<int64_t>(run.events.size()) < processed) {
    // Not a full history from the start, or shorter than what the run already
    // applied: this run cannot continue from it.
    Failure f;
    f.set_message("workflow task history does not continue the cached run");
    FailTask(run, enums::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE, f,
             act::RemoveFromCache::FATAL);
    return;
  }
  std::span<const hist::HistoryEvent> all(run.events.data(), run.events.size());
  for (const auto& seq : core::SplitIntoWorkflowTasks(all, static_cast<size_t>(processed), true)) {
    run.sequences.emplace_back(seq.begin, seq.end);
  }
  Drive(run);
}

void WorkflowWorker::Drive(RunState& run) {
  auto& task = *run.task;
  while (run.next_sequence < run.sequences.size()) {
    const auto [begin, end] = run.sequences[run.next_sequence];
    std::span<const hist::HistoryEvent> seq(run.events.data() + begin, end - begin);
    std::span<const hist::HistoryEvent> lookahead;
    if (run.next_sequence + 1 < run.sequences.size()) {
      const auto [nb, ne] = run.sequences[run.next_sequence + 1];
      lookahead = std::span<const hist::HistoryEvent>(run.events.data() + nb, ne - nb);
    }
    ++run.next_sequence;
    // Tasks a previous worker completed replay; the newest one is new work.
    const bool replaying = run.events[end - 1].event_id() <= task.previous_started_event_id() || task.has_query();
    if (auto err = run.machines->ApplySequence(seq, replaying, lookahead)) {
      Failure f;
      f.set_message(err->message);
      f.mutable_application_failure_info()->set_type(
          err->kind == core::MachinesError::Kind::kNondeterminism ? "NondeterminismError" : "CoreError");
      const bool nde = err->kind == core::MachinesError::Kind::kNondeterminism;
      FailTask(run,
               nde ? enums::WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
                   : enums::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
               f, nde ? act::RemoveFromCache::NONDETERMINISM : act::RemoveFromCache::FATAL);
      return;
    }
    if (run.machines->HasPendingJobs()) {
      Issue(run, run.machines->TakeActivation());
      return;
    }
  }
  // Caught up. Queries ride last, alone in their activation.
  if (task.has_query() && !run.queries_issued) {
    run.queries_issued = true;
    run.machines->AddQuery(ToQueryJob(kLegacyQueryId, task.query()));
    Issue(run, run.machines->TakeActivation());
    return;
  }
  if (!task.queries().empty() && !run.queries_issued) {
    run.queries_issued = true;
    for (const auto& [id, query] : task.queries()) run.machines->AddQuery(ToQueryJob(id, query));
    Issue(run, run.machines->TakeActivation());
    return;
  }
  Respond(run);
}

void WorkflowWorker::Issue(RunState& run, act::WorkflowActivation activation) {
  if (shutting_down_) {
    // Nobody polls a worker that shut down: the run is dropped instead (its
    // next task replays elsewhere). Removed on the next loop turn, since the
    // caller still holds a reference.
    const std::string run_id = run.run_id;
    auto alive = alive_;
    runtime_.loop().Post([this, alive, run_id] {
      if (!*alive) return;
      runs_.erase(run_id);
      lru_.remove(run_id);
    });
    return;
  }
  run.outstanding = true;
  ready_.push_back(std::move(activation));
  Deliver();
}

// --- completions ------------------------------------------------------------------

void WorkflowWorker::Complete(const wcomp::WorkflowActivationCompletion& completion, ipc::Responder responder) {
  auto it = runs_.find(completion.run_id());
  if (it == runs_.end() || !it->second->outstanding) {
    responder.ReplyError(ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                                        "no activation of run \"" + completion.run_id() +
                                            "\" is waiting for a completion on " + task_queue_));
    return;
  }
  RunState& run = *it->second;
  run.outstanding = false;
  holders_.erase(run.run_id);
  v1::Response ok;
  ok.mutable_complete_workflow_activation();
  if (run.evicting) {
    responder.Reply(std::move(ok));
    if (run.eviction_issued) {
      Remove(run.run_id);
    } else {
      // The answer to an activation that an eviction overtook: the eviction
      // goes out now, and the answer's commands are moot.
      if (run.pending_eviction) {
        run.eviction_issued = true;
        Issue(run, std::move(*run.pending_eviction));
        run.pending_eviction.reset();
      }
    }
    return;
  }
  if (completion.status_case() == wcomp::WorkflowActivationCompletion::STATUS_NOT_SET) {
    responder.ReplyError(ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                                        "completion of run " + run.run_id + " has neither successful nor failed"));
    Evict(run, act::RemoveFromCache::FATAL, "malformed completion");
    return;
  }
  responder.Reply(std::move(ok));
  auto& task = *run.task;
  if (completion.has_failed()) {
    if (task.has_query() && run.queries_issued) {
      // A failed legacy query: reported as a failed query, the run lives on.
      wsv::RespondQueryTaskCompletedRequest req;
      req.set_namespace_(namespace_);
      req.set_task_token(task.task_token());
      req.set_completed_type(enums::QUERY_RESULT_TYPE_FAILED);
      req.set_error_message(completion.failed().failure().message());
      *req.mutable_failure() = completion.failed().failure();
      AsyncMethod<wsv::RespondQueryTaskCompletedRequest, wsv::RespondQueryTaskCompletedResponse> m =
          &Async::RespondQueryTaskCompleted;
      runtime_.Call(m, std::move(req), CallOptions{}, [](grpc::Status, wsv::RespondQueryTaskCompletedResponse) {});
      run.task.reset();
      ProcessNext(run);
      return;
    }
    const auto cause = completion.failed().force_cause() != enums::WORKFLOW_TASK_FAILED_CAUSE_UNSPECIFIED
                           ? completion.failed().force_cause()
                           : enums::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE;
    FailTask(run, cause, completion.failed().failure(), act::RemoveFromCache::LANG_FAIL);
    return;
  }
  if (auto err = run.machines->ApplyCompletion(completion.successful())) {
    Failure f;
    f.set_message(err->message);
    const bool nde = err->kind == core::MachinesError::Kind::kNondeterminism;
    FailTask(run,
             nde ? enums::WORKFLOW_TASK_FAILED_CAUSE_NON_DETERMINISTIC_ERROR
                 : enums::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE,
             f, nde ? act::RemoveFromCache::NONDETERMINISM : act::RemoveFromCache::FATAL);
    return;
  }
  for (auto& answer : run.machines->TakeQueryResults()) {
    if (answer.query_id() == kLegacyQueryId) {
      wsv::RespondQueryTaskCompletedRequest req;
      req.set_namespace_(namespace_);
      req.set_task_token(task.task_token());
      if (answer.has_succeeded()) {
        req.set_completed_type(enums::QUERY_RESULT_TYPE_ANSWERED);
        if (answer.succeeded().has_response()) *req.mutable_query_result()->add_payloads() = answer.succeeded().response();
      } else {
        req.set_completed_type(enums::QUERY_RESULT_TYPE_FAILED);
        req.set_error_message(answer.failed().message());
        *req.mutable_failure() = answer.failed();
      }
      AsyncMethod<wsv::RespondQueryTaskCompletedRequest, wsv::RespondQueryTaskCompletedResponse> m =
          &Async::RespondQueryTaskCompleted;
      runtime_.Call(m, std::move(req), CallOptions{}, [](grpc::Status st, wsv::RespondQueryTaskCompletedResponse) {
        if (!st.ok()) spdlog::warn("bridgehost: RespondQueryTaskCompleted: {}", st.error_message());
      });
      run.task.reset();
      ProcessNext(run);
      return;
    }
    auto& r = run.query_results[answer.query_id()];
    if (answer.has_succeeded()) {
      r.set_result_type(enums::QUERY_RESULT_TYPE_ANSWERED);
      if (answer.succeeded().has_response()) *r.mutable_answer()->add_payloads() = answer.succeeded().response();
    } else {
      r.set_result_type(enums::QUERY_RESULT_TYPE_FAILED);
      r.set_error_message(answer.failed().message());
      *r.mutable_failure() = answer.failed();
    }
  }
  if (run.machines->HasPendingJobs()) {
    Issue(run, run.machines->TakeActivation());
    return;
  }
  Drive(run);
}

void WorkflowWorker::Respond(RunState& run) {
  auto& task = *run.task;
  wsv::RespondWorkflowTaskCompletedRequest req;
  req.set_namespace_(namespace_);
  req.set_task_token(task.task_token());
  req.set_identity(Identity());
  for (auto& c : run.machines->CommandsToSend()) *req.add_commands() = std::move(c);
  *req.mutable_query_results() = run.query_results;
  if (runtime_.system_info().capabilities().sdk_metadata()) {
    auto* md = req.mutable_sdk_metadata();
    for (uint32_t f : run.machines->NewCoreFlags()) md->add_core_used_flags(f);
    for (uint32_t f : run.machines->NewLangFlags()) md->add_lang_used_flags(f);
    md->set_sdk_name("hourglass");
    md->set_sdk_version("0.1.0");
  }
  AsyncMethod<wsv::RespondWorkflowTaskCompletedRequest, wsv::RespondWorkflowTaskCompletedResponse> m =
      &Async::RespondWorkflowTaskCompleted;
  auto alive = alive_;
  const std::string run_id = run.run_id;
  ++responses_in_flight_;
  runtime_.Call(m, std::move(req), CallOptions{},
                [this, alive, run_id](grpc::Status st, wsv::RespondWorkflowTaskCompletedResponse) {
                  if (!*alive) return;
                  --responses_in_flight_;
                  auto it = runs_.find(run_id);
                  if (it == runs_.end()) return;
                  RunState& r = *it->second;
                  r.task.reset();
                  // Fault point: the server accepted the task's answer (its
                  // IPC reply went out before the call); the bridge host has
                  // not acted on it yet. "error" is handled like a refusal.
                  if (st.ok() &&
                      HOURGLASS_FAILPOINT("bridgehost.respond_workflow_task.after_accepted")) {
                    st = grpc::Status(
                        grpc::StatusCode::INTERNAL,
                        failpoint::ErrorMessage("bridgehost.respond_workflow_task.after_accepted"));
                  }
                  if (!st.ok()) {
                    // The server refused the task's answer: replay from the
                    // next task's full history (reference §4.2).
                    const bool unhandled = st.error_code() == grpc::StatusCode::INVALID_ARGUMENT &&
                                           st.error_message() == "UnhandledCommand";
                    Evict(r,
                          unhandled ? act::RemoveFromCache::UNHANDLED_COMMAND
                          : st.error_code() == grpc::StatusCode::NOT_FOUND ? act::RemoveFromCache::TASK_NOT_FOUND
                                                                          : act::RemoveFromCache::FATAL,
                          st.error_message());
                    return;
                  }
                  r.machines->MarkFlagsRecorded();
                  if (r.machines->terminal_command_issued()) {
                    Evict(r, act::RemoveFromCache::WORKFLOW_EXECUTION_ENDING, "workflow execution ending");
                    return;
                  }
                  if (options_.has_max_cached_workflows() && options_.max_cached_workflows() == 0) {
                    Evict(r, act::RemoveFromCache::CACHE_FULL, "no workflow cache (max_cached_workflows 0)");
                    return;
                  }
                  ProcessNext(r);
                  MaybePollServer();
                });
}

void WorkflowWorker::FailTask(RunState& run, enums::WorkflowTaskFailedCause cause, const Failure& failure,
                              act::RemoveFromCache::EvictionReason reason) {
  spdlog::info("bridgehost: workflow task of run {} failed: {}", run.run_id, failure.message());
  // Only the first attempt is reported: later ones time out quietly, so a
  // broken workflow does not spin (reference §3.5).
  if (!run.task || run.task->attempt() > 1 || run.task->has_query()) {
    Evict(run, reason, failure.message());
    return;
  }
  wsv::RespondWorkflowTaskFailedRequest req;
  req.set_namespace_(namespace_);
  req.set_task_token(run.task->task_token());
  req.set_cause(cause);
  *req.mutable_failure() = failure;
  req.set_identity(Identity());
  // The run takes no new work from now on; its eviction goes out once the
  // server has the failure, so the two are seen in that order.
  run.task.reset();
  run.evicting = true;
  AsyncMethod<wsv::RespondWorkflowTaskFailedRequest, wsv::RespondWorkflowTaskFailedResponse> m =
      &Async::RespondWorkflowTaskFailed;
  auto alive = alive_;
  const std::string run_id = run.run_id;
  const std::string message = failure.message();
  runtime_.Call(m, std::move(req), CallOptions{},
                [this, alive, run_id, reason, message](grpc::Status st, wsv::RespondWorkflowTaskFailedResponse) {
                  if (!*alive) return;
                  if (!st.ok()) spdlog::warn("bridgehost: RespondWorkflowTaskFailed: {}", st.error_message());
                  auto it = runs_.find(run_id);
                  if (it != runs_.end()) IssueEviction(*it->second, reason, message);
                });
}

// --- eviction and the cache -------------------------------------------------------

void WorkflowWorker::Evict(RunState& run, act::RemoveFromCache::EvictionReason reason, const std::string& message) {
  if (run.evicting) return;
  run.evicting = true;
  run.task.reset();
  IssueEviction(run, reason, message);
}

void WorkflowWorker::IssueEviction(RunState& run, act::RemoveFromCache::EvictionReason reason,
                                   const std::string& message) {
  act::WorkflowActivation a;
  a.set_run_id(run.run_id);
  auto* r = a.add_jobs()->mutable_remove_from_cache();
  r->set_reason(reason);
  r->set_message(message);
  if (run.outstanding) {
    // The code holds an activation of this run; the eviction follows its answer.
    run.pending_eviction = std::move(a);
    return;
  }
  run.eviction_issued = true;
  Issue(run, std::move(a));
}

void WorkflowWorker::AcceptLateTask(wsv::PollWorkflowTaskQueueResponse task) {
  if (task.task_token().empty() || !task.has_workflow_execution() || !task.has_history()) return;
  OnTask(std::move(task));
}

void WorkflowWorker::RequestEviction(const std::string& run_id, const std::string& reason) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  Evict(*it->second, act::RemoveFromCache::LANG_REQUESTED, reason.empty() ? "eviction requested" : reason);
}

void WorkflowWorker::OnConnectionClosed(ipc::ConnectionId connection) {
  std::vector<std::string> orphaned;
  for (const auto& [run_id, holder] : holders_) {
    if (holder == connection) orphaned.push_back(run_id);
  }
  for (const auto& run_id : orphaned) {
    holders_.erase(run_id);
    auto it = runs_.find(run_id);
    if (it == runs_.end() || !it->second->outstanding) continue;
    RunState& run = *it->second;
    run.outstanding = false;
    spdlog::info("bridgehost: the consumer of run {}'s activation went away; evicting it", run_id);
    if (run.evicting && run.eviction_issued) {
      Remove(run_id);  // it was the eviction itself: done
      continue;
    }
    run.evicting = false;  // re-issue through Evict, now that nothing is outstanding
    run.pending_eviction.reset();
    // The task is failed rather than left to its timeout, so the server
    // hands the retry to a live worker at once (a first attempt only:
    // FailTask lets later ones time out, so code that kills its worker every
    // time does not spin).
    Failure failure;
    failure.set_message("the process holding this workflow task's activation went away");
    failure.set_source("hourglass-bridgehost");
    FailTask(run, enums::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE, failure,
             act::RemoveFromCache::FATAL);
  }
}

void WorkflowWorker::Remove(const std::string& run_id) {
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return;
  auto run = std::move(it->second);
  runs_.erase(it);
  lru_.remove(run_id);
  // Work that waited for this run now starts on a fresh one (full replay).
  for (auto& q : run->buffered_queries) OnTask(std::move(q));
  if (run->buffered) OnTask(std::move(*run->buffered));
  while (!waiting_.empty() && runs_.size() < CacheCapacity()) {
    auto next = std::move(waiting_.front());
    waiting_.pop_front();
    OnTask(std::move(next));
  }
  MaybePollServer();
}

void WorkflowWorker::MakeRoom() {
  for (const auto& id : lru_) {
    auto it = runs_.find(id);
    if (it != runs_.end() && !it->second->busy() && !it->second->buffered) {
      Evict(*it->second, act::RemoveFromCache::CACHE_FULL, "cache full");
      return;
    }
  }
}

void WorkflowWorker::ProcessNext(RunState& run) {
  if (run.busy()) return;
  if (!run.buffered_queries.empty()) {
    run.task = std::move(run.buffered_queries.front());
    run.buffered_queries.pop_front();
    StartTask(run);
    return;
  }
  if (run.buffered) {
    run.task = std::move(run.buffered);
    run.buffered.reset();
    StartTask(run);
  }
}

void WorkflowWorker::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  // Server polls are not cancelled (late_tasks.h): they run out.
  retry_timer_.Reset();
  parked_.AnswerAll(ipc::MakeError(v1::ERROR_KIND_SHUTDOWN, "workflow worker for " + task_queue_ + " shut down"));
  if (!*alive_) return;  // being destroyed: no new calls
  // Tell the server this worker is gone (no retries, as Core does).
  wsv::ShutdownWorkerRequest req;
  req.set_namespace_(namespace_);
  req.set_identity(Identity());
  req.set_reason("graceful shutdown");
  CallOptions opts;
  opts.max_attempts = 1;
  opts.timeout = std::chrono::milliseconds(5000);
  AsyncMethod<wsv::ShutdownWorkerRequest, wsv::ShutdownWorkerResponse> m = &Async::ShutdownWorker;
  runtime_.Call(m, std::move(req), opts, [](grpc::Status, wsv::ShutdownWorkerResponse) {});
}

}  // namespace hourglass::bridgehost
