#pragma once

// Executors: each activity attempt runs on a thread of its own (thread
// isolation) or in a process of its own (process isolation, see
// process_executor.h), at most `max_concurrent` at a time (the activity poll
// loop takes a slot before it polls). Cancellation reaches the attempt;
// heartbeats and the completion go to the bridge host through the shared link
// (threads) or the executor process's own connection (processes).

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "hourglass/activity.h"
#include "temporal/sdk/core/activity_task/activity_task.pb.h"
#include "workerproc/sdk/src/bridge_link.h"
#include "workerproc/sdk/src/process_executor.h"
#include "workerproc/sdk/src/slots.h"

namespace hourglass::sdk {

class ActivityExecutor {
 public:
  // `default_isolation` applies to activity types registered with
  // Isolation::kDefault.
  ActivityExecutor(BridgeLink& link, ExecutorConfig config, uint32_t max_concurrent,
                   Isolation default_isolation);
  ~ActivityExecutor();

  Slots& slots() { return slots_; }
  // Runs a Start task on a new thread; the slot taken for its poll is
  // released when the attempt has been reported.
  void Start(coresdk::activity_task::ActivityTask task);
  // A Cancel task from Core: tells the attempt, if it is still running.
  void Cancel(const coresdk::activity_task::ActivityTask& task);
  uint32_t in_flight() const { return slots_.in_use(); }
  // Called on the attempt's thread right after an executor process was
  // spawned (the worker reports it to the supervisor, which adopts it). Set
  // before the first Start.
  using ProcessStarted =
      std::function<void(pid_t pid, const coresdk::activity_task::ActivityTask& task)>;
  void set_on_process_started(ProcessStarted fn) { on_process_started_ = std::move(fn); }

 private:
  class Attempt;
  using CancelFn = std::function<void(const coresdk::activity_task::ActivityTask&)>;
  void RunInThread(coresdk::activity_task::ActivityTask task);
  void RunInProcess(coresdk::activity_task::ActivityTask task);
  void Report(const std::string& token, coresdk::activity_result::ActivityExecutionResult result,
              const std::string& what);
  void Finish(const std::string& token);

  BridgeLink& link_;
  ExecutorConfig config_;
  Isolation default_isolation_;
  Slots slots_;
  std::mutex mu_;
  std::unordered_map<std::string, CancelFn> running_;
  ProcessStarted on_process_started_;
};

}  // namespace hourglass::sdk
