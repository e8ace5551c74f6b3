#pragma once

// Thread executors: each activity attempt runs on a thread of its own,
// at most `max_concurrent` at a time (the activity poll loop takes a slot
// before it polls). Cancellation reaches the attempt's context; heartbeats
// and the completion go to the bridge host through the shared link.

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "hourglass/activity.h"
#include "temporal/sdk/core/activity_task/activity_task.pb.h"
#include "workerproc/sdk/src/bridge_link.h"
#include "workerproc/sdk/src/slots.h"

namespace hourglass::sdk {

class ActivityExecutor {
 public:
  ActivityExecutor(BridgeLink& link, std::string task_queue, uint32_t max_concurrent);
  ~ActivityExecutor();

  Slots& slots() { return slots_; }
  // Runs a Start task on a new thread; the slot taken for its poll is
  // released when the attempt has been reported.
  void Start(coresdk::activity_task::ActivityTask task);
  // A Cancel task from Core: tells the attempt, if it is still running.
  void Cancel(const coresdk::activity_task::ActivityTask& task);
  uint32_t in_flight() const { return slots_.in_use(); }

 private:
  class Attempt;
  void Finish(const std::string& token);

  BridgeLink& link_;
  std::string task_queue_;
  Slots slots_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Attempt>> running_;
};

}  // namespace hourglass::sdk
