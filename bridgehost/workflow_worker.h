#pragma once

// The workflow half of a Core worker, for one task queue (reference §1, §4):
// polls workflow tasks on demand, keeps a bounded cache of runs (each a
// core::WorkflowMachines), turns each task into activations — one logical
// workflow task at a time, replaying from the full history when the run is
// not cached — hands them to language-side pollers, applies their completions
// in FIFO order, and answers the server (RespondWorkflowTaskCompleted / Failed,
// RespondQueryTaskCompleted). Every activation gets an answer or an eviction.
//
// No sticky queue: tasks always carry the full history, and events already
// applied to a cached run are skipped.
//
// Runs on the bridge host's loop thread.

#include <deque>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "bridgehost/core/workflow_machines.h"
#include "bridgehost/late_tasks.h"
#include "bridgehost/parked_polls.h"
#include "bridgehost/runtime.h"
#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/server.h"

namespace hourglass::bridgehost {

class WorkflowWorker {
 public:
  WorkflowWorker(Runtime& runtime, std::string ns, std::string task_queue,
                 const ipc::v1::WorkerOptions& options, LateWorkflowTaskSink late_tasks);
  ~WorkflowWorker();

  void Poll(ipc::Responder responder);
  void CancelPoll(ipc::ConnectionId connection, uint64_t request_id);
  void Complete(const coresdk::workflow_completion::WorkflowActivationCompletion& completion,
                ipc::Responder responder);
  void RequestEviction(const std::string& run_id, const std::string& reason);
  // A task another (shut down) worker of this queue polled (late_tasks.h).
  void AcceptLateTask(wsv::PollWorkflowTaskQueueResponse task);
  // A connection closed: activations it held will never be answered, so
  // their runs are evicted (the next workflow task replays them).
  void OnConnectionClosed(ipc::ConnectionId connection);
  // Stops polling; parked polls are answered SHUTDOWN. Server polls in
  // flight run out; what they bring goes to the late-task sink.
  void Shutdown();

  size_t parked_polls() const { return parked_.size(); }
  // Whether a completion for `run_id` is awaited from `from` (it holds the
  // run's outstanding activation).
  bool AwaitsCompletion(const std::string& run_id, ipc::ConnectionId from) const;
  // Nothing outstanding: no activation out, no answer to the server in flight.
  bool Drained() const;
  size_t cached_runs() const { return runs_.size(); }

 private:
  struct RunState;

  void MaybePollServer();
  void OnTask(wsv::PollWorkflowTaskQueueResponse task);
  void FetchRestAndStart(std::shared_ptr<wsv::PollWorkflowTaskQueueResponse> task,
                         std::string next_page_token);
  void StartTask(RunState& run);
  // Applies sequences until one yields jobs (an activation) or the task is caught up.
  void Drive(RunState& run);
  void Respond(RunState& run);
  void FailTask(RunState& run, temporal::api::enums::v1::WorkflowTaskFailedCause cause,
                const temporal::api::failure::v1::Failure& failure,
                coresdk::workflow_activation::RemoveFromCache::EvictionReason reason);
  void Evict(RunState& run, coresdk::workflow_activation::RemoveFromCache::EvictionReason reason,
             const std::string& message);
  // Builds the RemoveFromCache activation and issues it, or holds it until
  // the run's outstanding activation is answered.
  void IssueEviction(RunState& run, coresdk::workflow_activation::RemoveFromCache::EvictionReason reason,
                     const std::string& message);
  void Issue(RunState& run, coresdk::workflow_activation::WorkflowActivation activation);
  void Deliver();
  void Remove(const std::string& run_id);
  void MakeRoom();
  void ProcessNext(RunState& run);
  uint32_t CacheCapacity() const;
  // The identity the server sees on this worker's calls.
  std::string Identity() const;

  Runtime& runtime_;
  std::string namespace_;
  std::string task_queue_;
  ipc::v1::WorkerOptions options_;
  LateWorkflowTaskSink late_tasks_;
  bool shutting_down_ = false;
  int server_polls_ = 0;
  int responses_in_flight_ = 0;
  ipc::EventHandle retry_timer_;
  ParkedPolls parked_;
  // Activations ready for a poller, in order.
  std::deque<coresdk::workflow_activation::WorkflowActivation> ready_;
  // Which connection holds each run's outstanding activation.
  std::map<std::string, ipc::ConnectionId> holders_;
  std::map<std::string, std::unique_ptr<RunState>> runs_;
  std::list<std::string> lru_;  // most recently used at the back
  // Tasks for runs not yet admitted (cache full).
  std::deque<wsv::PollWorkflowTaskQueueResponse> waiting_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hourglass::bridgehost
