#pragma once

// The activity half of a Core worker, for one task queue: polls
// PollActivityTaskQueue on demand (only while a language-side poller waits, so
// no task sits taken-but-unclaimed with its start-to-close clock running),
// hands each task to exactly one IPC poller, sends completions, throttles
// heartbeats the way sdk-core does, and turns server-side cancellation (a
// heartbeat's cancel_requested, NOT_FOUND, a local start-to-close timeout) into
// Cancel tasks delivered through the poll.
//
// Runs on the bridge host's loop thread.

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "bridgehost/late_tasks.h"
#include "bridgehost/parked_polls.h"
#include "bridgehost/runtime.h"
#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/server.h"
#include "temporal/sdk/core/activity_task/activity_task.pb.h"
#include "temporal/sdk/core/core_interface.pb.h"

namespace hourglass::bridgehost {

class ActivityWorker {
 public:
  ActivityWorker(Runtime& runtime, std::string ns, std::string task_queue,
                 const ipc::v1::WorkerOptions& options, LateActivityTaskSink late_tasks);
  ~ActivityWorker();

  // Parks until a task (start or cancel) is ready, or the worker shuts down.
  void Poll(ipc::Responder responder);
  // The caller of a parked poll gave up.
  void CancelPoll(ipc::ConnectionId connection, uint64_t request_id);
  void Complete(const coresdk::ActivityTaskCompletion& completion, ipc::Responder responder);
  void Heartbeat(const coresdk::ActivityHeartbeat& heartbeat, ipc::Responder responder);
  // Stops polling the server and answers parked polls SHUTDOWN. Server polls
  // in flight run out; what they bring goes to the late-task sink.
  void Shutdown();
  // A task another (shut down) worker of this queue polled (late_tasks.h).
  void AcceptLateTask(wsv::PollActivityTaskQueueResponse task);

  size_t parked_polls() const { return parked_.size(); }
  size_t outstanding() const { return outstanding_.size(); }

 private:
  struct Outstanding {
    std::chrono::milliseconds heartbeat_timeout{0};
    std::chrono::milliseconds throttle{0};
    std::chrono::steady_clock::time_point last_sent{};
    bool heartbeat_in_flight = false;
    bool has_pending_details = false;
    temporal::api::common::v1::Payloads pending_details;
    temporal::api::common::v1::Payloads last_details;
    bool cancel_issued = false;
    coresdk::activity_task::ActivityCancelReason cancel_reason = coresdk::activity_task::NOT_FOUND;
    ipc::EventHandle throttle_timer;
    ipc::EventHandle timeout_timer;
  };

  void MaybePollServer();
  void OnServerTask(wsv::PollActivityTaskQueueResponse response);
  void Deliver(coresdk::activity_task::ActivityTask task);
  void IssueCancel(const std::string& token, coresdk::activity_task::ActivityCancelReason reason);
  void SendHeartbeat(const std::string& token);
  std::chrono::milliseconds ThrottleFor(std::chrono::milliseconds heartbeat_timeout) const;

  Runtime& runtime_;
  std::string namespace_;
  std::string task_queue_;
  ipc::v1::WorkerOptions options_;
  LateActivityTaskSink late_tasks_;
  bool shutting_down_ = false;
  int server_polls_ = 0;
  ipc::EventHandle retry_timer_;
  ParkedPolls parked_;
  std::deque<coresdk::activity_task::ActivityTask> ready_;
  std::map<std::string, Outstanding> outstanding_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hourglass::bridgehost
