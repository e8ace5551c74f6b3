#pragma once

// The dev server's state machine: namespaces, runs and their histories, task
// matching, durable timers. Single-threaded by contract: every method runs on
// the engine's one thread (the gRPC layer posts to it), so no state here is
// locked. Every operation ends in exactly one SQLite transaction, committed
// before any reply or wake-up leaves the engine.
//
// Time comes from a Clock and timers fire through FireDueTimers(), so tests
// drive it with a fake clock; the shell (engine_host) arms one libevent timer
// at NextTimerDueMs().

#include <grpcpp/support/status.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "devserver/devserver_state.pb.h"
#include "devserver/engine/timer_queue.h"
#include "devserver/store/sqlite_store.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace hourglass::devserver {

namespace wsv = ::temporal::api::workflowservice::v1;
namespace hist = ::temporal::api::history::v1;
namespace enums = ::temporal::api::enums::v1;
namespace common = ::temporal::api::common::v1;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;  // wall clock: event times and deadlines persist
};

class SystemClock : public Clock {
 public:
  int64_t NowMs() const override;
};

template <typename Response>
using Done = std::function<void(grpc::Status, Response)>;
// Whether a long poll's caller has gone (its call was cancelled). Called on
// the engine thread just before a task would be handed to it; may be empty.
using PollerGone = std::function<bool()>;

struct EngineOptions {
  std::vector<std::string> namespaces;  // created at boot if missing ("default" always)
  int64_t max_poll_wait_ms = 60000;     // long-poll cap (the real server's)
  int64_t history_wait_ms = 20000;      // history long-poll interval
  int history_page_size = 256;
  int64_t default_workflow_task_timeout_ms = 10000;
  int64_t max_workflow_task_timeout_ms = 120000;
};

// One workflow run: its persisted state and, while open, its history.
struct Run {
  v1::RunState state;
  std::vector<hist::HistoryEvent> history;  // events 1..n; loaded while the run is open
  bool open() const { return state.status() == enums::WORKFLOW_EXECUTION_STATUS_RUNNING; }
};

class Engine {
 public:
  Engine(SqliteStore& store, const Clock& clock, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads everything, creates missing namespaces, re-arms every durable timer
  // and re-queues every scheduled task.
  Status Boot();

  // -1 when no timer is armed.
  int64_t NextTimerDueMs() const { return timers_.NextDueMs(); }
  void FireDueTimers();

  // Namespaces
  grpc::Status RegisterNamespace(const wsv::RegisterNamespaceRequest& req,
                                 wsv::RegisterNamespaceResponse* resp);
  grpc::Status DescribeNamespace(const wsv::DescribeNamespaceRequest& req,
                                 wsv::DescribeNamespaceResponse* resp);
  grpc::Status ListNamespaces(const wsv::ListNamespacesRequest& req,
                              wsv::ListNamespacesResponse* resp);

  // Workflow lifecycle
  grpc::Status StartWorkflowExecution(const wsv::StartWorkflowExecutionRequest& req,
                                      wsv::StartWorkflowExecutionResponse* resp);
  grpc::Status SignalWorkflowExecution(const wsv::SignalWorkflowExecutionRequest& req,
                                       wsv::SignalWorkflowExecutionResponse* resp);
  grpc::Status SignalWithStartWorkflowExecution(
      const wsv::SignalWithStartWorkflowExecutionRequest& req,
      wsv::SignalWithStartWorkflowExecutionResponse* resp);
  grpc::Status RequestCancelWorkflowExecution(const wsv::RequestCancelWorkflowExecutionRequest& req,
                                              wsv::RequestCancelWorkflowExecutionResponse* resp);
  grpc::Status TerminateWorkflowExecution(const wsv::TerminateWorkflowExecutionRequest& req,
                                          wsv::TerminateWorkflowExecutionResponse* resp);

  // Visibility
  grpc::Status DescribeWorkflowExecution(const wsv::DescribeWorkflowExecutionRequest& req,
                                         wsv::DescribeWorkflowExecutionResponse* resp);
  grpc::Status ListWorkflowExecutions(const wsv::ListWorkflowExecutionsRequest& req,
                                      wsv::ListWorkflowExecutionsResponse* resp);
  grpc::Status CountWorkflowExecutions(const wsv::CountWorkflowExecutionsRequest& req,
                                       wsv::CountWorkflowExecutionsResponse* resp);
  // Long poll when wait_new_event; `deadline_ms` is the caller's (0: none).
  void GetWorkflowExecutionHistory(const wsv::GetWorkflowExecutionHistoryRequest& req,
                                   int64_t deadline_ms,
                                   Done<wsv::GetWorkflowExecutionHistoryResponse> done);

  // Workflow tasks. Polls return a waiter id for CancelWaiter().
  uint64_t PollWorkflowTaskQueue(const wsv::PollWorkflowTaskQueueRequest& req, int64_t deadline_ms,
                                 Done<wsv::PollWorkflowTaskQueueResponse> done,
                                 PollerGone gone = {});
  grpc::Status RespondWorkflowTaskCompleted(const wsv::RespondWorkflowTaskCompletedRequest& req,
                                            wsv::RespondWorkflowTaskCompletedResponse* resp);
  grpc::Status RespondWorkflowTaskFailed(const wsv::RespondWorkflowTaskFailedRequest& req,
                                         wsv::RespondWorkflowTaskFailedResponse* resp);

  // Activity tasks
  uint64_t PollActivityTaskQueue(const wsv::PollActivityTaskQueueRequest& req, int64_t deadline_ms,
                                 Done<wsv::PollActivityTaskQueueResponse> done,
                                 PollerGone gone = {});
  grpc::Status RecordActivityTaskHeartbeat(const wsv::RecordActivityTaskHeartbeatRequest& req,
                                           wsv::RecordActivityTaskHeartbeatResponse* resp);
  grpc::Status RecordActivityTaskHeartbeatById(
      const wsv::RecordActivityTaskHeartbeatByIdRequest& req,
      wsv::RecordActivityTaskHeartbeatByIdResponse* resp);
  grpc::Status RespondActivityTaskCompleted(const wsv::RespondActivityTaskCompletedRequest& req,
                                            wsv::RespondActivityTaskCompletedResponse* resp);
  grpc::Status RespondActivityTaskCompletedById(
      const wsv::RespondActivityTaskCompletedByIdRequest& req,
      wsv::RespondActivityTaskCompletedByIdResponse* resp);
  grpc::Status RespondActivityTaskFailed(const wsv::RespondActivityTaskFailedRequest& req,
                                         wsv::RespondActivityTaskFailedResponse* resp);
  grpc::Status RespondActivityTaskFailedById(const wsv::RespondActivityTaskFailedByIdRequest& req,
                                             wsv::RespondActivityTaskFailedByIdResponse* resp);
  grpc::Status RespondActivityTaskCanceled(const wsv::RespondActivityTaskCanceledRequest& req,
                                           wsv::RespondActivityTaskCanceledResponse* resp);
  grpc::Status RespondActivityTaskCanceledById(
      const wsv::RespondActivityTaskCanceledByIdRequest& req,
      wsv::RespondActivityTaskCanceledByIdResponse* resp);

  // Queries
  void QueryWorkflow(const wsv::QueryWorkflowRequest& req, int64_t deadline_ms,
                     Done<wsv::QueryWorkflowResponse> done);
  grpc::Status RespondQueryTaskCompleted(const wsv::RespondQueryTaskCompletedRequest& req,
                                         wsv::RespondQueryTaskCompletedResponse* resp);

  // Workers
  grpc::Status ShutdownWorker(const wsv::ShutdownWorkerRequest& req,
                              wsv::ShutdownWorkerResponse* resp);
  grpc::Status ResetStickyTaskQueue(const wsv::ResetStickyTaskQueueRequest& req,
                                    wsv::ResetStickyTaskQueueResponse* resp);

  // A poller went away: its waiter is answered CANCELLED and dropped.
  void CancelWaiter(uint64_t waiter_id);
  // Answers every waiter (empty poll responses) before shutdown.
  void ReleaseAllWaiters();
  // ReleaseAllWaiters, and from now on nothing parks: polls, history waits
  // and queries are answered at once. The engine keeps serving until gRPC
  // has finished every call, so no call is left without an answer (gRPC's
  // shutdown waits for each one).
  void BeginShutdown();

  size_t open_runs() const;
  size_t parked_waiters() const { return waiters_.size(); }

 private:
  struct Txn;
  struct Waiter;
  struct HistoryWaiter;
  struct PendingQuery;
  enum class TaskType { kWorkflow, kActivity };
  struct QueueKey {
    std::string ns;
    std::string name;
    TaskType type;
    auto operator<=>(const QueueKey&) const = default;
  };
  struct QueuedTask {
    std::string run_id;
    int64_t ref = 0;  // scheduled event id
    int32_t attempt = 0;
    std::string query_id;  // set for a direct query task
  };
  struct TaskQueueState {
    std::deque<QueuedTask> backlog;
    std::deque<uint64_t> waiters;
  };
  struct StartParams;
  struct CommandContext;

  // --- plumbing -------------------------------------------------------------
  void Commit(Txn& txn);
  hist::HistoryEvent& Append(Txn& txn, Run& run, enums::EventType type);
  // A non-command event: buffered while a workflow task is started, else
  // appended. The caller schedules the workflow task after adding all events.
  void AddEvent(Txn& txn, Run& run, hist::HistoryEvent event);
  void ScheduleWorkflowTask(Txn& txn, Run& run, int32_t attempt = 1);
  // Appends buffered events (non-completion first), fixing started ids.
  bool FlushBuffered(Txn& txn, Run& run);
  void Enqueue(Txn& txn, const QueueKey& key, QueuedTask task);
  void MatchQueue(const QueueKey& key);
  void WakeHistoryWaiters(const std::string& run_id);
  std::string NewId();

  Run* FindRunById(const std::string& run_id);
  Run* CurrentRun(const std::string& ns, const std::string& workflow_id);
  grpc::Status ResolveRun(const std::string& ns, const common::WorkflowExecution& execution,
                          Run** out, bool must_be_open);
  grpc::Status CheckNamespace(const std::string& ns) const;
  Status LoadHistoryIfNeeded(Run& run);
  Result<std::vector<hist::HistoryEvent>> ReadHistory(Run& run, int64_t from_event_id,
                                                      int64_t max_events);

  // --- runs -----------------------------------------------------------------
  grpc::Status CheckStartConflict(const StartParams& params, Run* current, bool* use_existing,
                                  Run** to_terminate);
  Run& CreateRun(Txn& txn, const StartParams& params);
  void CloseRun(Txn& txn, Run& run, enums::WorkflowExecutionStatus status);
  void TerminateRun(Txn& txn, Run& run, const std::string& reason, const common::Payloads* details,
                    const std::string& identity);
  void RequestCancelRun(Txn& txn, Run& run, const std::string& reason, const std::string& identity,
                        const common::WorkflowExecution* external, int64_t external_initiated_id);
  void NotifyParent(Txn& txn, Run& child, const hist::HistoryEvent& close_event);
  void ApplyParentClosePolicy(Txn& txn, Run& parent);
  // Retry or continue a closing run; returns the new run id or "".
  std::string MaybeRetryRun(Txn& txn, Run& run, const temporal::api::failure::v1::Failure* failure,
                            enums::RetryState* retry_state);
  void FillExecutionInfo(const Run& run, temporal::api::workflow::v1::WorkflowExecutionInfo* info);
  void ArmTimers(const Run& run);
  void RequeueTasks(Run& run);

  // --- polls and workflow tasks ------------------------------------------
  grpc::Status CheckPoll(const std::string& ns, const std::string& task_queue) const;
  // Registers a poller, matches it at once if a task waits, else arms its expiry.
  uint64_t Park(std::unique_ptr<Waiter> waiter, int64_t deadline_ms);
  bool TryDispatchWorkflowTask(Waiter& waiter, const QueuedTask& task);
  bool TryDispatchQueryTask(Waiter& waiter, const QueuedTask& task);
  grpc::Status ApplyCommands(Txn& txn, Run& run, const wsv::RespondWorkflowTaskCompletedRequest& req,
                             int64_t completed_event_id, CommandContext& ctx);
  void FailWorkflowTask(Txn& txn, Run& run, enums::WorkflowTaskFailedCause cause,
                        const std::string& message, const std::string& identity,
                        const temporal::api::failure::v1::Failure* failure);
  void OnWorkflowTaskTimeout(const TimerKey& key);
  void OnWorkflowTaskBackoff(const TimerKey& key);
  grpc::Status ParseTaskToken(const std::string& bytes, v1::TokenKind kind, v1::TaskToken* token);
  void AnswerQueriesFor(Run& run, const wsv::RespondWorkflowTaskCompletedRequest& req);
  void RequeueQueriesFor(Run& run);

  // --- activities -----------------------------------------------------------
  bool TryDispatchActivityTask(Waiter& waiter, const QueuedTask& task);
  grpc::Status FindActivity(const v1::TaskToken& token, Run** run, v1::ActivityInfo** info);
  grpc::Status FindActivityById(const std::string& ns, const std::string& workflow_id,
                                const std::string& run_id, const std::string& activity_id,
                                Run** run, v1::ActivityInfo** info);
  grpc::Status FindActivityByToken(const std::string& task_token, Run** run, v1::ActivityInfo** info);
  grpc::Status FindActivityToResolveById(const std::string& ns, const std::string& workflow_id,
                                         const std::string& run_id, const std::string& activity_id,
                                         Run** run, v1::ActivityInfo** info);
  // The Respond*/Respond*ById pairs differ only in how they name the activity (task token
  // or workflow id + activity id); these resolve either form and apply one outcome.
  template <typename Request, typename Outcome>
  grpc::Status ResolveRespondedActivity(const Request& req, Outcome outcome);
  template <typename Request>
  grpc::Status CompleteRespondedActivity(const Request& req);
  template <typename Request>
  grpc::Status FailRespondedActivity(const Request& req);
  template <typename Request>
  grpc::Status CancelRespondedActivity(const Request& req);
  void CloseActivity(Txn& txn, Run& run, v1::ActivityInfo& info, hist::HistoryEvent outcome,
                     bool started);
  void HandleActivityFailure(Txn& txn, Run& run, v1::ActivityInfo& info,
                             const temporal::api::failure::v1::Failure& failure,
                             const common::Payloads* last_heartbeat_details,
                             const std::string& identity, enums::TimeoutType timeout);
  grpc::Status CompleteActivity(Run& run, v1::ActivityInfo& info, const common::Payloads* result,
                                const std::string& identity);
  grpc::Status FailActivity(Run& run, v1::ActivityInfo& info,
                            const temporal::api::failure::v1::Failure& failure,
                            const common::Payloads* last_heartbeat_details,
                            const std::string& identity);
  grpc::Status CancelActivity(Run& run, v1::ActivityInfo& info, const common::Payloads* details,
                              const std::string& identity);
  grpc::Status HeartbeatActivity(Run& run, v1::ActivityInfo& info, const common::Payloads* details,
                                 bool* cancel_requested);
  void OnActivityTimer(const TimerKey& key);
  void ArmActivityAttemptTimers(const Run& run, const v1::ActivityInfo& info);

  // --- misc timers ------------------------------------------------------------
  void OnUserTimer(const TimerKey& key);
  void OnRunTimeout(const TimerKey& key);
  void OnPollExpiry(uint64_t waiter_id);
  void AnswerEmpty(Waiter& waiter);
  void OnHistoryWaitExpiry(uint64_t waiter_id);
  void OnQueryExpiry(const std::string& query_id);
  bool TryAnswerHistoryWaiter(HistoryWaiter& waiter, bool timed_out);

  SqliteStore& store_;
  const Clock& clock_;
  EngineOptions options_;
  int64_t now_ = 0;  // the current operation's time

  std::map<std::string, v1::NamespaceRecord> namespaces_;
  std::unordered_map<std::string, std::unique_ptr<Run>> runs_;
  std::map<std::pair<std::string, std::string>, std::string> current_runs_;

  TimerQueue timers_;
  std::map<QueueKey, TaskQueueState> queues_;
  std::unordered_map<uint64_t, std::unique_ptr<Waiter>> waiters_;
  std::unordered_map<uint64_t, std::unique_ptr<HistoryWaiter>> history_waiters_;
  std::unordered_map<std::string, std::unique_ptr<PendingQuery>> queries_;
  uint64_t next_waiter_id_ = 1;
  bool shutting_down_ = false;
  int64_t next_queue_seq_ = 1;
  std::mt19937_64 rng_;
};

}  // namespace hourglass::devserver
