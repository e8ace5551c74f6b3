#pragma once

// Running one activity attempt, independent of where it runs (an executor
// thread, or an executor process under process isolation): the task's Start
// and a context in, Core's ActivityExecutionResult out.

#include <condition_variable>
#include <mutex>
#include <string>

#include "hourglass/activity.h"
#include "temporal/sdk/core/activity_result/activity_result.pb.h"
#include "temporal/sdk/core/activity_task/activity_task.pb.h"

namespace hourglass::sdk {

namespace activity_pb = ::coresdk::activity_task;
namespace result_pb = ::coresdk::activity_result;

// The cancellation of one running attempt: requested by the executor when Core
// delivers a Cancel task, read and waited on by the activity through its
// context. Shared by thread and process executors.
class CancelSignal {
 public:
  void Request(const activity_pb::ActivityTask& cancel_task);
  ActivityCancelReason reason() const;
  // Blocks up to `timeout`; true once cancellation was requested.
  bool WaitFor(Duration timeout);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ActivityCancelReason reason_ = ActivityCancelReason::kNone;
};

ActivityInfo MakeActivityInfo(const std::string& task_token, const activity_pb::Start& start,
                              const std::string& task_queue);

// Calls the registered function for info.activity_type. Never throws:
//  - a value: completed
//  - AsyncCompletionRequest: will complete async
//  - CancelledError (or any cancellation) after cancellation was requested:
//    cancelled
//  - anything else: failed (ApplicationError keeps type, details,
//    non-retryable; other exceptions are typed by their C++ type name)
//  - an unregistered type: failed, type "NotFoundError", naming the
//    registered ones
result_pb::ActivityExecutionResult RunActivity(ActivityContext& ctx, const Payloads& input);

// A retryable failed attempt, "failpoint <name>" (type "FailpointError"): what
// an activity fault point armed with "error" reports instead of the result.
result_pb::ActivityExecutionResult FailpointResult(const std::string& point);

}  // namespace hourglass::sdk
