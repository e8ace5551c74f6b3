#pragma once

// Writing activities.
//
//   std::string ComposeGreeting(hourglass::ActivityContext& ctx, std::string name) {
//     return "Hello, " + name + "!";
//   }
//   HOURGLASS_ACTIVITY("ComposeGreeting", ComposeGreeting);
//
// An activity is an ordinary function (the ActivityContext& first parameter is
// optional), or a coroutine returning hourglass::Task<R> that awaits other
// Tasks, registered under its Temporal type name. It runs on an executor
// thread of the worker, or, with process isolation, in a process of its own.
// Anything it throws fails the attempt (ApplicationError sets the type,
// details and non-retryable flag); the server retries per the retry policy.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "hourglass/failure.h"
#include "hourglass/payload.h"
#include "hourglass/workflow.h"

namespace hourglass {

struct ActivityInfo {
  std::string namespace_name{};
  std::string task_queue{};
  std::string workflow_id{};
  std::string workflow_run_id{};
  std::string workflow_type{};
  std::string activity_id{};
  std::string activity_type{};
  std::string task_token{};  // opaque bytes, for completing asynchronously
  uint32_t attempt = 1;
  std::chrono::system_clock::time_point scheduled_time{};
  std::chrono::system_clock::time_point current_attempt_scheduled_time{};
  std::chrono::system_clock::time_point started_time{};
  Duration schedule_to_close_timeout{0};
  Duration start_to_close_timeout{0};
  Duration heartbeat_timeout{0};
  // What the previous attempt last heartbeated, so a retry can resume.
  Payloads heartbeat_details{};
};

enum class ActivityCancelReason { kNone, kNotFound, kCancelled, kTimedOut, kWorkerShutdown, kPaused, kReset };

namespace detail {
// What an ActivityContext asks of its executor.
class ActivityRuntime {
 public:
  virtual ~ActivityRuntime() = default;
  virtual void Heartbeat(Payloads details) = 0;
  virtual ActivityCancelReason cancel_reason() const = 0;
  // Blocks up to `timeout`; returns true once cancellation was requested.
  virtual bool WaitForCancel(Duration timeout) = 0;
};
}  // namespace detail

// Thrown by ActivityContext::CompleteAsync; the executor reports the attempt
// as "will complete asynchronously". Do not catch it.
struct AsyncCompletionRequest {};

class ActivityContext {
 public:
  ActivityContext(ActivityInfo info, detail::ActivityRuntime& runtime) : info_(std::move(info)), rt_(&runtime) {}

  const ActivityInfo& info() const { return info_; }

  // Records progress, and is how cancellation reaches the activity: the
  // server's answer to a heartbeat carries the cancel request. Sent
  // throttled (a fraction of the heartbeat timeout), never blocks.
  template <typename... Args>
  void Heartbeat(const Args&... details) {
    rt_->Heartbeat(ToPayloads(details...));
  }
  // The previous attempt's last heartbeat details, decoded (first one).
  template <typename T>
  std::optional<T> LastHeartbeatDetails() const {
    if (info_.heartbeat_details.empty()) return std::nullopt;
    return FromPayload<T>(info_.heartbeat_details.front());
  }

  bool is_cancelled() const { return rt_->cancel_reason() != ActivityCancelReason::kNone; }
  ActivityCancelReason cancel_reason() const { return rt_->cancel_reason(); }
  // Throws CancelledError when cancellation was requested.
  void ThrowIfCancelled() const {
    if (is_cancelled()) throw CancelledError("activity cancelled");
  }
  // Sleeps up to `duration`, waking early on cancellation (then throws
  // CancelledError).
  void SleepFor(Duration duration) {
    if (rt_->WaitForCancel(duration)) throw CancelledError("activity cancelled");
  }

  // Ends this function without a result: someone else completes the
  // activity later with its task token (info().task_token), through the
  // bridge host's CompleteActivityAsync request or any Temporal client.
  [[noreturn]] void CompleteAsync() { throw AsyncCompletionRequest{}; }

 private:
  ActivityInfo info_;
  detail::ActivityRuntime* rt_;
};

using ActivityFunction = std::function<Payload(ActivityContext&, const Payloads&)>;

namespace detail {
template <typename T>
struct IsTask : std::false_type {};
template <typename T>
struct IsTask<Task<T>> : std::true_type {};

// Activity coroutines run to completion on their executor thread: they may
// co_await other Tasks (helpers), which resume inline, but nothing that
// waits on the outside world (Futures belong to workflows).
template <typename V>
V RunActivityCoroutine(Task<V> task) {
  task.handle().resume();
  if (!task.done()) {
    throw std::logic_error("an activity coroutine suspended on something other than a Task; activity "
                           "coroutines run to completion on their executor thread");
  }
  return task.TakeResult();
}

template <typename Tuple, typename T>
struct FirstIs : std::false_type {};
template <typename First, typename... Rest, typename T>
struct FirstIs<std::tuple<First, Rest...>, T> : std::is_same<First, T> {};
}  // namespace detail

enum class Isolation { kDefault, kThread, kProcess };

struct ActivityRegistrationOptions {
  // kProcess: every attempt runs in its own process (crash isolation);
  // kDefault: whatever the worker is configured with.
  Isolation isolation = Isolation::kDefault;
};

void RegisterActivityFunction(const std::string& name, ActivityFunction fn, ActivityRegistrationOptions options);

template <typename F>
ActivityFunction MakeActivityFunction(F fn) {
  using Traits = detail::CallableTraits<F>;
  using AllArgs = typename Traits::Args;
  using R = typename Traits::Result;
  return [fn](ActivityContext& ctx, const Payloads& input) -> Payload {
    auto call = [&]() -> decltype(auto) {
      if constexpr (detail::FirstIs<AllArgs, ActivityContext>::value) {
        using Args = typename detail::DropFirst<AllArgs>::type;
        return std::apply([&](auto&&... a) -> R { return fn(ctx, std::move(a)...); }, FromPayloads<Args>(input));
      } else {
        return std::apply([&](auto&&... a) -> R { return fn(std::move(a)...); }, FromPayloads<AllArgs>(input));
      }
    };
    if constexpr (detail::IsTask<R>::value) {
      using V = typename detail::TaskValue<R>::type;
      if constexpr (std::is_void_v<V>) {
        detail::RunActivityCoroutine(call());
        return NullPayload();
      } else {
        return ToPayload(detail::RunActivityCoroutine(call()));
      }
    } else if constexpr (std::is_void_v<R>) {
      call();
      return NullPayload();
    } else {
      return ToPayload(call());
    }
  };
}

struct ActivityRegistration {
  template <typename F>
  ActivityRegistration(const std::string& name, F fn, ActivityRegistrationOptions options = {}) {
    RegisterActivityFunction(name, MakeActivityFunction(fn), options);
  }
};

}  // namespace hourglass

// Registers `fn` as activity type `name` when the program starts; an optional
// third argument gives ActivityRegistrationOptions.
#define HOURGLASS_ACTIVITY(name, ...) \
  static const ::hourglass::ActivityRegistration HOURGLASS_CONCAT(hourglass_activity_, __COUNTER__)(name, __VA_ARGS__)
