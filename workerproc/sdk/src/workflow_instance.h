#pragma once

// One workflow run's language side, sans-IO: an activation from Core goes in,
// the activation's completion (commands, or a workflow-task failure) comes
// out. No threads, no clock, no sockets: the worker around it does those, and
// tests drive it with hand-made activations.
//
// Per activation: every job is applied in the order Core gave (Core already
// puts patches first, then signals, then the rest), which resolves Futures
// and queues the coroutines waiting on them; then the ready queue is drained
// in FIFO order and the conditions re-checked, until nothing moves. Commands
// are collected in the order the code issued them.

#include <coroutine>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "hourglass/workflow.h"
#include "temporal/sdk/core/workflow_activation/workflow_activation.pb.h"
#include "temporal/sdk/core/workflow_commands/workflow_commands.pb.h"
#include "temporal/sdk/core/workflow_completion/workflow_completion.pb.h"

namespace hourglass::detail {

// Cancellation scopes (public handle: CancellationScope).
class ScopeState : public std::enable_shared_from_this<ScopeState> {
 public:
  explicit ScopeState(bool detached) : detached_(detached) {}
  bool cancelled() const { return cancelled_; }
  void Cancel();
  uint64_t AddHook(std::function<void()> hook);
  void RemoveHook(uint64_t id) { hooks_.erase(id); }
  void AddChild(const std::shared_ptr<ScopeState>& child) { children_.push_back(child); }
  bool detached() const { return detached_; }

 private:
  bool detached_;
  bool cancelled_ = false;
  uint64_t next_hook_ = 1;
  std::map<uint64_t, std::function<void()>> hooks_;
  std::vector<std::weak_ptr<ScopeState>> children_;
};

}  // namespace hourglass::detail

namespace hourglass::sdk {

namespace act = ::coresdk::workflow_activation;
namespace wfc = ::coresdk::workflow_commands;
namespace cmp = ::coresdk::workflow_completion;

struct InstanceOptions {
  std::string namespace_name;
  std::string task_queue;
};

class WorkflowInstance final : public detail::WorkflowRuntime, private detail::Scheduler {
 public:
  WorkflowInstance(WorkflowFunction fn, std::string run_id, InstanceOptions options);
  ~WorkflowInstance() override;
  WorkflowInstance(const WorkflowInstance&) = delete;
  WorkflowInstance& operator=(const WorkflowInstance&) = delete;

  // Applies one activation for this run. Never throws: user exceptions become
  // a failed workflow, a failed task, or a failed query, as documented in
  // hourglass/failure.h.
  cmp::WorkflowActivationCompletion Activate(const act::WorkflowActivation& activation);

  // The run issued its terminal command (complete / fail / cancel / continue
  // as new); later activations only answer queries.
  bool finished() const { return finished_; }

  // detail::WorkflowRuntime
  const WorkflowInfo& info() const override { return info_; }
  std::chrono::system_clock::time_point now() const override { return now_; }
  bool is_replaying() const override { return replaying_; }
  uint64_t NextRandom() override { return rng_(); }
  bool cancel_requested() const override { return cancel_requested_; }
  bool continue_as_new_suggested() const override { return continue_as_new_suggested_; }
  uint32_t history_length() const override { return history_length_; }
  CancellationScope RootScope() override { return CancellationScope(root_scope_); }
  CancellationScope NewScope(const CancellationScope& parent, bool detached) override;
  Future<void> Sleep(Duration duration, const CancellationScope& scope) override;
  Future<bool> Condition(std::function<bool()> predicate, std::optional<Duration> timeout,
                         const CancellationScope& scope) override;
  Future<Payload> ScheduleActivity(const std::string& type, const ActivityOptions& options,
                                   Payloads arguments) override;
  Future<ChildWorkflowHandle> StartChild(const std::string& type, const ChildWorkflowOptions& options,
                                         Payloads arguments) override;
  Future<void> SignalExternal(const std::string& workflow_id, const std::string& run_id, const std::string& signal,
                              Payloads arguments, bool to_child, const CancellationScope& scope) override;
  Future<void> CancelExternal(const std::string& workflow_id, const std::string& run_id) override;
  void SetSignalHandler(const std::string& name, std::function<void(const Payloads&)> handler) override;
  void SetQueryHandler(const std::string& name, std::function<Payload(const Payloads&)> handler) override;
  bool Patched(const std::string& patch_id, bool deprecated) override;
  void UpsertSearchAttributes(std::map<std::string, Payload> attributes) override;
  void UpsertMemo(std::map<std::string, Payload> memo) override;
  void Spawn(Task<void> task) override;

 private:
  // An operation waiting for a job from Core, cancellable through its scope.
  struct Pending {
    std::shared_ptr<detail::FutureState> state;
    std::shared_ptr<detail::ScopeState> scope;
    uint64_t hook = 0;
    bool cancel_sent = false;
  };
  struct PendingChild {
    Pending start;
    std::shared_ptr<detail::FutureState> result;
    std::string workflow_id;
  };
  struct PendingCondition {
    uint64_t id;
    std::function<bool()> predicate;
    Pending pending;
    std::optional<uint32_t> timer_seq;
  };

  void Schedule(std::coroutine_handle<> h) override { ready_.push_back(h); }

  void ApplyJob(const act::WorkflowActivationJob& job);
  void Initialize(const act::InitializeWorkflow& init);
  void DeliverSignal(const std::string& name, const Payloads& input);
  wfc::WorkflowCommand RespondToQuery(const act::QueryWorkflow& query);
  void RunUntilBlocked();
  bool CheckConditions();
  void CheckRoots();
  void Conclude();
  void RecordError(std::exception_ptr error);

  std::shared_ptr<detail::FutureState> NewState() {
    return std::make_shared<detail::FutureState>(static_cast<detail::Scheduler*>(this));
  }
  std::shared_ptr<detail::ScopeState> ScopeOf(const CancellationScope& scope) const;
  template <typename T>
  Future<T> Rejected(std::exception_ptr error);
  // Registers `on_cancel` with `scope` and returns the pending record.
  Pending Track(std::shared_ptr<detail::FutureState> state, std::shared_ptr<detail::ScopeState> scope,
                std::function<void()> on_cancel);
  static void Untrack(Pending& p);
  wfc::WorkflowCommand& AddCommand();
  uint32_t StartTimerCommand(Duration duration);
  void CancelTimerCommand(uint32_t seq);
  void ResolveTimer(uint32_t seq);

  WorkflowFunction fn_;
  WorkflowInfo info_;
  std::unique_ptr<WorkflowContext> context_;
  std::chrono::system_clock::time_point now_;
  bool replaying_ = false;
  bool cancel_requested_ = false;
  bool continue_as_new_suggested_ = false;
  uint32_t history_length_ = 0;
  std::mt19937_64 rng_;

  std::shared_ptr<detail::ScopeState> root_scope_;
  std::deque<std::coroutine_handle<>> ready_;
  Task<Payload> main_;
  bool main_started_ = false;
  std::vector<Task<void>> spawned_;
  std::exception_ptr workflow_error_;  // first Failure / continue-as-new from a spawned task or handler
  std::exception_ptr task_error_;      // first non-Failure exception: fails the workflow task

  uint32_t timer_seq_ = 0;
  uint32_t activity_seq_ = 0;
  uint32_t child_seq_ = 0;
  uint32_t signal_seq_ = 0;
  uint32_t cancel_external_seq_ = 0;
  uint64_t condition_id_ = 0;
  std::map<uint32_t, Pending> timers_;
  std::map<uint32_t, uint64_t> condition_timers_;  // timer seq -> condition id
  std::map<uint32_t, Pending> activities_;
  std::map<uint32_t, PendingChild> children_;
  std::map<uint32_t, Pending> signals_;
  std::map<uint32_t, Pending> cancels_;
  std::vector<PendingCondition> conditions_;

  std::map<std::string, std::function<void(const Payloads&)>> signal_handlers_;
  std::vector<std::pair<std::string, Payloads>> buffered_signals_;
  std::map<std::string, std::function<Payload(const Payloads&)>> query_handlers_;
  std::set<std::string> notified_patches_;
  std::map<std::string, bool> patch_memo_;

  std::vector<wfc::WorkflowCommand> commands_;
  bool finished_ = false;
};

// Every run a worker holds, keyed by run id: creates a run at
// InitializeWorkflow, routes activations, drops the run on eviction.
// Thread-safe for different runs at once (Core sends at most one activation
// per run at a time); the map is locked only to find the run, never while
// workflow code runs.
class WorkflowRuns {
 public:
  explicit WorkflowRuns(InstanceOptions options) : options_(std::move(options)) {}
  cmp::WorkflowActivationCompletion Activate(const act::WorkflowActivation& activation);
  size_t size() const {
    std::lock_guard lock(mu_);
    return runs_.size();
  }
  // Forgets a run (its evaluation may still be running elsewhere: it keeps
  // the instance alive until it returns).
  void Evict(const std::string& run_id) {
    std::lock_guard lock(mu_);
    runs_.erase(run_id);
  }

 private:
  InstanceOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<WorkflowInstance>> runs_;
};

// A completion failing the workflow task, with the cause Core reports.
cmp::WorkflowActivationCompletion FailedCompletion(const std::string& run_id, const std::string& message,
                                                   const std::string& type = "");

}  // namespace hourglass::sdk
