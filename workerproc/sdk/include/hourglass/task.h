#pragma once

// The coroutine types workflow code is written with.
//
// Task<T>: a lazily started coroutine. Awaiting it runs it and hands back its
// value (or rethrows its exception). Workflow functions and their helpers
// return Task<T>.
//
// Future<T>: the eventual result of something the workflow asked the server
// for (a timer, an activity, a child, a signal to another workflow) or of a
// condition. Operations start when called, not when awaited, so two activities
// started back to back run in parallel; awaiting a Future waits for its result.
//
// Everything here runs on the one thread evaluating the workflow's activation.
// A Future is resumed by the workflow's scheduler, never inline by whoever
// resolves it, so the order in which coroutines run is decided by the order of
// the server's events alone: that is what makes replay deterministic.

#include <any>
#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "hourglass/payload.h"

namespace hourglass {

template <typename T = void>
class Task;

namespace detail {

struct TaskPromiseBase {
  std::coroutine_handle<> continuation;
  std::exception_ptr error;

  std::suspend_always initial_suspend() noexcept { return {}; }
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      auto next = h.promise().continuation;
      return next ? next : std::noop_coroutine();
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }
  void unhandled_exception() noexcept { error = std::current_exception(); }
};

template <typename T>
struct TaskPromise : TaskPromiseBase {
  std::optional<T> value;
  Task<T> get_return_object() noexcept;
  template <typename V>
  void return_value(V&& v) {
    value.emplace(std::forward<V>(v));
  }
  T Take() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }
};

template <>
struct TaskPromise<void> : TaskPromiseBase {
  Task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void Take() {
    if (error) std::rethrow_exception(error);
  }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] Task {
 public:
  using promise_type = detail::TaskPromise<T>;
  using value_type = T;

  Task() = default;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}
  Task(Task&& other) noexcept : h_(std::exchange(other.h_, {})) {}
  Task& operator=(Task&& other) noexcept {
    if (this != &other) {
      if (h_) h_.destroy();
      h_ = std::exchange(other.h_, {});
    }
    return *this;
  }
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;
  ~Task() {
    if (h_) h_.destroy();
  }

  bool valid() const noexcept { return static_cast<bool>(h_); }
  bool done() const noexcept { return h_ && h_.done(); }

  // Awaiting: start the task and resume the awaiting coroutine when it ends.
  bool await_ready() const noexcept { return !h_ || h_.done(); }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
    h_.promise().continuation = awaiting;
    return h_;
  }
  T await_resume() { return h_.promise().Take(); }

  // For schedulers that run a task as a root (no awaiting coroutine).
  std::coroutine_handle<promise_type> handle() const noexcept { return h_; }
  T TakeResult() { return h_.promise().Take(); }

 private:
  std::coroutine_handle<promise_type> h_;
};

namespace detail {
template <typename T>
Task<T> TaskPromise<T>::get_return_object() noexcept {
  return Task<T>(std::coroutine_handle<TaskPromise<T>>::from_promise(*this));
}
inline Task<void> TaskPromise<void>::get_return_object() noexcept {
  return Task<void>(std::coroutine_handle<TaskPromise<void>>::from_promise(*this));
}

// Who resumes coroutines whose Future resolved: the workflow's scheduler.
class Scheduler {
 public:
  virtual ~Scheduler() = default;
  virtual void Schedule(std::coroutine_handle<> h) = 0;
};

// The shared state behind a Future. The value is either the T itself or a
// Payload that Future<T> decodes when awaited.
class FutureState {
 public:
  explicit FutureState(Scheduler* scheduler) : scheduler_(scheduler) {}

  bool resolved() const { return resolved_; }
  void Resolve(std::any value) {
    if (resolved_) return;
    resolved_ = true;
    value_ = std::move(value);
    Wake();
  }
  void Reject(std::exception_ptr error) {
    if (resolved_) return;
    resolved_ = true;
    error_ = std::move(error);
    Wake();
  }
  void AddWaiter(std::coroutine_handle<> h) { waiters_.push_back(h); }
  // Runs `fn` once the state resolves (at once if it already has).
  void OnResolved(std::function<void()> fn) {
    if (resolved_) {
      fn();
    } else {
      callbacks_.push_back(std::move(fn));
    }
  }
  const std::any& value() const { return value_; }
  const std::exception_ptr& error() const { return error_; }
  Scheduler* scheduler() const { return scheduler_; }

 private:
  void Wake() {
    for (auto h : std::exchange(waiters_, {})) scheduler_->Schedule(h);
    for (auto& fn : std::exchange(callbacks_, {})) fn();
  }

  Scheduler* scheduler_;
  bool resolved_ = false;
  std::any value_;
  std::exception_ptr error_;
  std::vector<std::coroutine_handle<>> waiters_;
  std::vector<std::function<void()>> callbacks_;
};

template <typename T>
T ExtractValue(const std::any& value) {
  if constexpr (std::is_void_v<T>) {
    return;
  } else {
    if (const T* direct = std::any_cast<T>(&value)) return *direct;
    if constexpr (PayloadDecodable<T>) {
      if (const Payload* payload = std::any_cast<Payload>(&value)) return FromPayload<T>(*payload);
    }
    throw PayloadError("internal: future holds neither the requested type nor a payload");
  }
}

}  // namespace detail

template <typename T = void>
class [[nodiscard]] Future {
 public:
  using value_type = T;
  Future() = default;
  explicit Future(std::shared_ptr<detail::FutureState> state) : state_(std::move(state)) {}

  bool valid() const { return static_cast<bool>(state_); }
  bool ready() const { return state_ && state_->resolved(); }

  bool await_ready() const noexcept { return state_->resolved(); }
  void await_suspend(std::coroutine_handle<> h) { state_->AddWaiter(h); }
  T await_resume() const {
    if (state_->error()) std::rethrow_exception(state_->error());
    return detail::ExtractValue<T>(state_->value());
  }

  // The same result, seen as another type (for example a Payload as a struct).
  template <typename U>
  Future<U> As() const {
    return Future<U>(state_);
  }
  const std::shared_ptr<detail::FutureState>& state() const { return state_; }

 private:
  std::shared_ptr<detail::FutureState> state_;
};

// Resolves with the index of the first of `futures` to resolve (result or
// error: await that future to see which).
template <typename... Fs>
Future<size_t> WhenAny(const Fs&... futures) {
  static_assert(sizeof...(Fs) > 0);
  detail::Scheduler* scheduler = std::get<0>(std::tie(futures...)).state()->scheduler();
  auto any = std::make_shared<detail::FutureState>(scheduler);
  size_t index = 0;
  (futures.state()->OnResolved([any, i = index++] { any->Resolve(std::any(i)); }), ...);
  return Future<size_t>(any);
}

// Resolves when every one of `futures` has resolved (results or errors).
template <typename... Fs>
Future<void> WhenAll(const Fs&... futures) {
  static_assert(sizeof...(Fs) > 0);
  detail::Scheduler* scheduler = std::get<0>(std::tie(futures...)).state()->scheduler();
  auto all = std::make_shared<detail::FutureState>(scheduler);
  auto left = std::make_shared<size_t>(sizeof...(Fs));
  (futures.state()->OnResolved([all, left] {
     if (--*left == 0) all->Resolve(std::any());
   }),
   ...);
  return Future<void>(all);
}

}  // namespace hourglass
