#pragma once

// Writing workflows.
//
//   hourglass::Task<std::string> Hello(hourglass::WorkflowContext& ctx, std::string name) {
//     co_return co_await ctx.ExecuteActivity<std::string>(
//         "ComposeGreeting", hourglass::ActivityOptions().StartToCloseTimeout(std::chrono::seconds(10)), name);
//   }
//   HOURGLASS_WORKFLOW("Hello", Hello);
//
// A workflow is a coroutine taking a WorkflowContext& and its arguments, and
// registered under its Temporal type name at static-initialisation time.
// Everything that must be deterministic goes through the context: time,
// randomness, sleeping, activities, children, signals, cancellation. Do not
// read the clock, sleep the thread, do I/O or use threads in workflow code:
// it is replayed from history whenever its worker does not have it cached.
// See docs/user-guide.md.
//
// Compiler note: GCC 12 (Debian 12's g++) destroys some temporaries twice when
// they are created inside a co_await expression: lambdas that capture by
// value, and brace-initialised aggregates. Declare such a value in its own
// statement, then co_await (GCC 13+ and clang are not affected):
//
//   auto ready = [state] { return state->ready; };   // not inside co_await
//   co_await ctx.WaitCondition(ready);

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "hourglass/failure.h"
#include "hourglass/payload.h"
#include "hourglass/task.h"

namespace hourglass {

using Duration = std::chrono::milliseconds;

// Option types are classes with chainable setters, not aggregates: GCC 12
// (Debian 12's compiler) destroys a brace-initialised aggregate temporary twice
// when it appears inside a co_await expression, so `co_await
// ctx.ExecuteActivity("A", {.start_to_close_timeout = 1s})` would corrupt the
// heap. `ActivityOptions().StartToCloseTimeout(1s)` is safe, and the unsafe
// form does not compile.

struct RetryPolicy {
  RetryPolicy() = default;
  RetryPolicy& InitialInterval(Duration d) { initial_interval = d; return *this; }
  RetryPolicy& BackoffCoefficient(double c) { backoff_coefficient = c; return *this; }
  RetryPolicy& MaximumInterval(Duration d) { maximum_interval = d; return *this; }
  RetryPolicy& MaximumAttempts(int32_t n) { maximum_attempts = n; return *this; }
  RetryPolicy& NonRetryableErrorTypes(std::vector<std::string> types) {
    non_retryable_error_types = std::move(types);
    return *this;
  }

  Duration initial_interval{0};    // 0: the server's default (1 s)
  double backoff_coefficient = 0;  // 0: the server's default (2.0)
  Duration maximum_interval{0};    // 0: the server's default (100 × initial)
  int32_t maximum_attempts = 0;    // 0: unlimited
  std::vector<std::string> non_retryable_error_types{};
};

class CancellationScope;

namespace detail {
class ScopeState;
class WorkflowRuntime;
}  // namespace detail

// A node in the workflow's tree of cancellation scopes. Operations started in
// a scope are cancelled when it (or any ancestor, unless it is detached) is
// cancelled; the root scope is cancelled when the workflow is. A
// default-constructed scope means "the root scope".
class CancellationScope {
 public:
  CancellationScope() = default;
  void Cancel();
  bool cancelled() const;
  explicit operator bool() const { return static_cast<bool>(state_); }
  const std::shared_ptr<detail::ScopeState>& state() const { return state_; }
  explicit CancellationScope(std::shared_ptr<detail::ScopeState> state) : state_(std::move(state)) {}

 private:
  std::shared_ptr<detail::ScopeState> state_;
};

enum class ActivityCancellationType {
  kTryCancel,                  // ask the activity to stop; resolve as cancelled at once
  kWaitCancellationCompleted,  // ask, then wait for the activity to acknowledge
  kAbandon,                    // do not even ask; resolve as cancelled at once
};

struct ActivityOptions {
  ActivityOptions() = default;
  ActivityOptions& ScheduleToCloseTimeout(Duration d) { schedule_to_close_timeout = d; return *this; }
  ActivityOptions& ScheduleToStartTimeout(Duration d) { schedule_to_start_timeout = d; return *this; }
  ActivityOptions& StartToCloseTimeout(Duration d) { start_to_close_timeout = d; return *this; }
  ActivityOptions& HeartbeatTimeout(Duration d) { heartbeat_timeout = d; return *this; }
  ActivityOptions& Retry(RetryPolicy policy) { retry_policy = std::move(policy); return *this; }
  ActivityOptions& Cancellation(ActivityCancellationType type) { cancellation_type = type; return *this; }
  ActivityOptions& ActivityId(std::string id) { activity_id = std::move(id); return *this; }
  ActivityOptions& TaskQueue(std::string queue) { task_queue = std::move(queue); return *this; }
  ActivityOptions& Scope(CancellationScope s) { scope = std::move(s); return *this; }

  // At least one of schedule_to_close and start_to_close is required.
  Duration schedule_to_close_timeout{0};
  Duration schedule_to_start_timeout{0};
  Duration start_to_close_timeout{0};
  Duration heartbeat_timeout{0};
  std::optional<RetryPolicy> retry_policy{};
  ActivityCancellationType cancellation_type = ActivityCancellationType::kTryCancel;
  std::string activity_id{};  // default: the sequence number
  std::string task_queue{};   // default: the workflow's
  CancellationScope scope{};  // default: the root scope
};

enum class ParentClosePolicy { kUnspecified, kTerminate, kAbandon, kRequestCancel };

enum class ChildWorkflowCancellationType {
  kAbandon,
  kTryCancel,
  kWaitCancellationCompleted,
  kWaitCancellationRequested,
};

struct ChildWorkflowOptions {
  ChildWorkflowOptions() = default;
  ChildWorkflowOptions& WorkflowId(std::string id) { workflow_id = std::move(id); return *this; }
  ChildWorkflowOptions& TaskQueue(std::string queue) { task_queue = std::move(queue); return *this; }
  ChildWorkflowOptions& Namespace(std::string ns) { namespace_name = std::move(ns); return *this; }
  ChildWorkflowOptions& ExecutionTimeout(Duration d) { execution_timeout = d; return *this; }
  ChildWorkflowOptions& RunTimeout(Duration d) { run_timeout = d; return *this; }
  ChildWorkflowOptions& TaskTimeout(Duration d) { task_timeout = d; return *this; }
  ChildWorkflowOptions& Retry(RetryPolicy policy) { retry_policy = std::move(policy); return *this; }
  ChildWorkflowOptions& ParentClose(ParentClosePolicy policy) { parent_close_policy = policy; return *this; }
  ChildWorkflowOptions& Cancellation(ChildWorkflowCancellationType type) { cancellation_type = type; return *this; }
  ChildWorkflowOptions& Memo(std::map<std::string, nlohmann::json> m) { memo = std::move(m); return *this; }
  ChildWorkflowOptions& SearchAttributes(std::map<std::string, nlohmann::json> a) {
    search_attributes = std::move(a);
    return *this;
  }
  ChildWorkflowOptions& Scope(CancellationScope s) { scope = std::move(s); return *this; }

  std::string workflow_id{};  // default: a UUID drawn from the workflow's randomness
  std::string task_queue{};   // default: the parent's
  std::string namespace_name{};
  Duration execution_timeout{0};
  Duration run_timeout{0};
  Duration task_timeout{0};
  std::optional<RetryPolicy> retry_policy{};
  ParentClosePolicy parent_close_policy = ParentClosePolicy::kTerminate;
  ChildWorkflowCancellationType cancellation_type = ChildWorkflowCancellationType::kWaitCancellationCompleted;
  std::map<std::string, nlohmann::json> memo{};
  std::map<std::string, nlohmann::json> search_attributes{};
  CancellationScope scope{};
};

struct ContinueAsNewOptions {
  ContinueAsNewOptions() = default;
  ContinueAsNewOptions& WorkflowType(std::string type) { workflow_type = std::move(type); return *this; }
  ContinueAsNewOptions& TaskQueue(std::string queue) { task_queue = std::move(queue); return *this; }
  ContinueAsNewOptions& RunTimeout(Duration d) { run_timeout = d; return *this; }
  ContinueAsNewOptions& TaskTimeout(Duration d) { task_timeout = d; return *this; }
  ContinueAsNewOptions& Memo(std::map<std::string, nlohmann::json> m) { memo = std::move(m); return *this; }
  ContinueAsNewOptions& SearchAttributes(std::map<std::string, nlohmann::json> a) {
    search_attributes = std::move(a);
    return *this;
  }
  ContinueAsNewOptions& Retry(RetryPolicy policy) { retry_policy = std::move(policy); return *this; }

  std::string workflow_type{};  // default: this workflow's
  std::string task_queue{};     // default: this workflow's
  Duration run_timeout{0};
  Duration task_timeout{0};
  std::map<std::string, nlohmann::json> memo{};
  std::map<std::string, nlohmann::json> search_attributes{};
  std::optional<RetryPolicy> retry_policy{};
};

struct WorkflowInfo {
  std::string namespace_name{};
  std::string task_queue{};
  std::string workflow_type{};
  std::string workflow_id{};
  std::string run_id{};
  std::string first_execution_run_id{};
  std::string continued_from_run_id{};
  int32_t attempt = 1;
  std::optional<std::string> parent_workflow_id{};
  std::optional<std::string> parent_run_id{};
  std::chrono::system_clock::time_point start_time{};
  Duration execution_timeout{0};
  Duration run_timeout{0};
  Duration task_timeout{0};
  std::map<std::string, Payload> memo{};
  std::map<std::string, Payload> search_attributes{};
  // The previous run's failure when this run is a retry, as its message.
  std::optional<std::string> continued_failure_message{};
};

// Thrown by WorkflowContext::ContinueAsNew; the worker turns it into the
// continue-as-new command. Do not catch it.
struct ContinueAsNewRequest {
  ContinueAsNewOptions options{};
  Payloads arguments{};
};

class ChildWorkflowHandle {
 public:
  ChildWorkflowHandle() = default;
  ChildWorkflowHandle(std::string workflow_id, std::string run_id, Future<Payload> result)
      : workflow_id_(std::move(workflow_id)), run_id_(std::move(run_id)), result_(std::move(result)) {}
  const std::string& workflow_id() const { return workflow_id_; }
  const std::string& run_id() const { return run_id_; }
  // The child's result; a ChildWorkflowError if it failed.
  template <typename R = Payload>
  Future<R> Result() const {
    return result_.As<R>();
  }

 private:
  std::string workflow_id_;
  std::string run_id_;
  Future<Payload> result_;
};

namespace detail {

// What a WorkflowContext asks of the worker's workflow machinery. Implemented
// inside the SDK library; the templates below only encode and decode.
class WorkflowRuntime {
 public:
  virtual ~WorkflowRuntime() = default;
  virtual const WorkflowInfo& info() const = 0;
  virtual std::chrono::system_clock::time_point now() const = 0;
  virtual bool is_replaying() const = 0;
  virtual uint64_t NextRandom() = 0;
  virtual bool cancel_requested() const = 0;
  virtual bool continue_as_new_suggested() const = 0;
  virtual uint32_t history_length() const = 0;

  virtual CancellationScope RootScope() = 0;
  virtual CancellationScope NewScope(const CancellationScope& parent, bool detached) = 0;
  virtual Future<void> Sleep(Duration duration, const CancellationScope& scope) = 0;
  virtual Future<bool> Condition(std::function<bool()> predicate, std::optional<Duration> timeout,
                                 const CancellationScope& scope) = 0;
  virtual Future<Payload> ScheduleActivity(const std::string& type, const ActivityOptions& options,
                                           Payloads arguments) = 0;
  virtual Future<ChildWorkflowHandle> StartChild(const std::string& type, const ChildWorkflowOptions& options,
                                                 Payloads arguments) = 0;
  virtual Future<void> SignalExternal(const std::string& workflow_id, const std::string& run_id,
                                      const std::string& signal, Payloads arguments, bool to_child,
                                      const CancellationScope& scope) = 0;
  virtual Future<void> CancelExternal(const std::string& workflow_id, const std::string& run_id) = 0;
  virtual void SetSignalHandler(const std::string& name, std::function<void(const Payloads&)> handler) = 0;
  virtual void SetQueryHandler(const std::string& name, std::function<Payload(const Payloads&)> handler) = 0;
  virtual bool Patched(const std::string& patch_id, bool deprecated) = 0;
  virtual void UpsertSearchAttributes(std::map<std::string, Payload> attributes) = 0;
  virtual void UpsertMemo(std::map<std::string, Payload> memo) = 0;
  virtual void Spawn(Task<void> task) = 0;
};

template <typename F>
struct CallableTraits : CallableTraits<decltype(&F::operator())> {};
template <typename R, typename... A>
struct CallableTraits<R (*)(A...)> {
  using Result = R;
  using Args = std::tuple<std::remove_cvref_t<A>...>;
  static constexpr size_t kArity = sizeof...(A);
};
template <typename R, typename... A>
struct CallableTraits<R(A...)> : CallableTraits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct CallableTraits<R (C::*)(A...) const> : CallableTraits<R (*)(A...)> {};
template <typename C, typename R, typename... A>
struct CallableTraits<R (C::*)(A...)> : CallableTraits<R (*)(A...)> {};

template <typename Tuple>
struct DropFirst;
template <typename First, typename... Rest>
struct DropFirst<std::tuple<First, Rest...>> {
  using type = std::tuple<Rest...>;
};

template <typename T>
struct TaskValue;
template <typename T>
struct TaskValue<Task<T>> {
  using type = T;
};

}  // namespace detail

class WorkflowContext {
 public:
  explicit WorkflowContext(detail::WorkflowRuntime& runtime) : rt_(&runtime) {}

  const WorkflowInfo& info() const { return rt_->info(); }
  // Workflow time: the time of the workflow task being processed. The same
  // on every replay.
  std::chrono::system_clock::time_point Now() const { return rt_->now(); }
  bool is_replaying() const { return rt_->is_replaying(); }
  // Deterministic randomness, seeded by the server-side seed Core hands out.
  uint64_t Random() { return rt_->NextRandom(); }
  // Uniform in [0, 1).
  double RandomDouble() { return static_cast<double>(Random() >> 11) * 0x1.0p-53; }
  // A version 4 UUID drawn from Random().
  std::string NewUuid();
  // The workflow has been asked to cancel.
  bool cancel_requested() const { return rt_->cancel_requested(); }
  // The server suggests continuing as new (history is getting long).
  bool continue_as_new_suggested() const { return rt_->continue_as_new_suggested(); }
  uint32_t history_length() const { return rt_->history_length(); }

  // --- Cancellation scopes
  CancellationScope RootScope() { return rt_->RootScope(); }
  // A child scope of `parent` (default: root). A detached scope is not
  // cancelled with its parent: use it for cleanup after cancellation.
  CancellationScope NewScope(const CancellationScope& parent = {}) { return rt_->NewScope(parent, false); }
  CancellationScope NewDetachedScope() { return rt_->NewScope({}, true); }

  // --- Time
  Future<void> Sleep(Duration duration, const CancellationScope& scope = {}) { return rt_->Sleep(duration, scope); }
  // Resolves once `predicate` is true; it is re-checked after every change.
  Future<void> WaitCondition(std::function<bool()> predicate, const CancellationScope& scope = {}) {
    return Future<void>(rt_->Condition(std::move(predicate), std::nullopt, scope).state());
  }
  // Resolves true once `predicate` holds, false if `timeout` passes first.
  Future<bool> WaitCondition(std::function<bool()> predicate, Duration timeout, const CancellationScope& scope = {}) {
    return rt_->Condition(std::move(predicate), timeout, scope);
  }

  // --- Activities
  template <typename R = Payload, typename... Args>
  Future<R> ExecuteActivity(const std::string& type, const ActivityOptions& options, const Args&... args) {
    return rt_->ScheduleActivity(type, options, ToPayloads(args...)).template As<R>();
  }

  // --- Child workflows
  template <typename... Args>
  Future<ChildWorkflowHandle> StartChildWorkflow(const std::string& type, const ChildWorkflowOptions& options,
                                                 const Args&... args) {
    return rt_->StartChild(type, options, ToPayloads(args...));
  }
  template <typename R = Payload, typename... Args>
  Task<R> ExecuteChildWorkflow(std::string type, ChildWorkflowOptions options, Args... args) {
    ChildWorkflowHandle child = co_await StartChildWorkflow(type, options, args...);
    if constexpr (std::is_void_v<R>) {
      co_await child.Result<void>();
    } else {
      co_return co_await child.Result<R>();
    }
  }
  template <typename... Args>
  Future<void> SignalChildWorkflow(const ChildWorkflowHandle& child, const std::string& signal, const Args&... args) {
    return rt_->SignalExternal(child.workflow_id(), "", signal, ToPayloads(args...), true, {});
  }

  // --- Other workflows
  template <typename... Args>
  Future<void> SignalExternalWorkflow(const std::string& workflow_id, const std::string& run_id,
                                      const std::string& signal, const Args&... args) {
    return rt_->SignalExternal(workflow_id, run_id, signal, ToPayloads(args...), false, {});
  }
  Future<void> CancelExternalWorkflow(const std::string& workflow_id, const std::string& run_id = "") {
    return rt_->CancelExternal(workflow_id, run_id);
  }

  // --- Signals and queries
  // Signals that arrived before their handler was set are delivered, in
  // order, as soon as it is.
  void SetSignalHandler(const std::string& name, std::function<void(const Payloads&)> handler) {
    rt_->SetSignalHandler(name, std::move(handler));
  }
  // Typed form: the handler's parameters are decoded from the signal's
  // arguments, e.g. [&](std::string item, int count) { ... }.
  template <typename F>
    requires(!std::is_convertible_v<F, std::function<void(const Payloads&)>>)
  void SetSignalHandler(const std::string& name, F handler) {
    using Args = typename detail::CallableTraits<F>::Args;
    rt_->SetSignalHandler(name, [handler = std::move(handler)](const Payloads& p) mutable {
      std::apply(handler, FromPayloads<Args>(p));
    });
  }
  // Query handlers must not change workflow state or issue commands. They
  // may run after the workflow coroutine returned (a query on a closed run
  // replays it to the end first), when its locals are gone: capture what they
  // read by value, e.g. a std::shared_ptr to the state — never coroutine
  // locals by reference.
  template <typename F>
  void SetQueryHandler(const std::string& name, F handler) {
    using Traits = detail::CallableTraits<F>;
    rt_->SetQueryHandler(name, [handler = std::move(handler)](const Payloads& p) -> Payload {
      if constexpr (std::is_void_v<typename Traits::Result>) {
        std::apply(handler, FromPayloads<typename Traits::Args>(p));
        return NullPayload();
      } else {
        return ToPayload(std::apply(handler, FromPayloads<typename Traits::Args>(p)));
      }
    });
  }

  // --- Versioning
  // True when this code path is new relative to the history being replayed:
  // wrap changed code in `if (ctx.Patched("my-change")) { new } else { old }`.
  bool Patched(const std::string& patch_id) { return rt_->Patched(patch_id, false); }
  // Once no run needs the old path, keep only the new code and call this.
  void DeprecatePatch(const std::string& patch_id) { rt_->Patched(patch_id, true); }

  // --- Visibility
  void UpsertSearchAttributes(const std::map<std::string, nlohmann::json>& attributes);
  void UpsertMemo(const std::map<std::string, nlohmann::json>& memo);

  // --- Ending the run
  // Ends this run and starts a new one with `args` (never returns).
  template <typename... Args>
  [[noreturn]] void ContinueAsNew(const ContinueAsNewOptions& options, const Args&... args) {
    throw ContinueAsNewRequest{options, ToPayloads(args...)};
  }

  // Runs `task` concurrently with the workflow (for example a signal loop).
  // It is destroyed with the run; an exception it throws fails the workflow
  // the same way the main coroutine's would.
  void Spawn(Task<void> task) { rt_->Spawn(std::move(task)); }

 private:
  detail::WorkflowRuntime* rt_;
};

// --- Registration ------------------------------------------------------------

// A workflow type-erased to what the worker needs: arguments in, result out.
using WorkflowFunction = std::function<Task<Payload>(WorkflowContext&, Payloads)>;

// Adds a workflow type to the process-wide registry. Names are unique: a
// second registration of the same name aborts at start-up with a message.
void RegisterWorkflowFunction(const std::string& name, WorkflowFunction fn);

template <typename F>
WorkflowFunction MakeWorkflowFunction(F fn) {
  using Traits = detail::CallableTraits<F>;
  using Args = typename detail::DropFirst<typename Traits::Args>::type;
  using R = typename detail::TaskValue<typename Traits::Result>::type;
  // `input` is taken by value: the coroutine starts later, when first resumed.
  return [fn](WorkflowContext& ctx, Payloads input) -> Task<Payload> {
    // Decode before entering the user's coroutine, so a bad argument is
    // reported as a decode error.
    Args args = FromPayloads<Args>(input);
    auto task = std::apply([&](auto&&... a) { return fn(ctx, std::move(a)...); }, std::move(args));
    if constexpr (std::is_void_v<R>) {
      co_await std::move(task);
      co_return NullPayload();
    } else {
      co_return ToPayload(co_await std::move(task));
    }
  };
}

struct WorkflowRegistration {
  template <typename F>
  WorkflowRegistration(const std::string& name, F fn) {
    RegisterWorkflowFunction(name, MakeWorkflowFunction(fn));
  }
};

}  // namespace hourglass

#define HOURGLASS_CONCAT_INNER(a, b) a##b
#define HOURGLASS_CONCAT(a, b) HOURGLASS_CONCAT_INNER(a, b)
// Registers `fn` as workflow type `name` when the program starts.
#define HOURGLASS_WORKFLOW(name, fn) \
  static const ::hourglass::WorkflowRegistration HOURGLASS_CONCAT(hourglass_workflow_, __COUNTER__)(name, fn)
