#pragma once

// A thin owner of one libevent event_base: one loop per thread, and the only
// way in from another thread is Post(). Timers and fd watches are handed out as
// owned handles; destroying a handle cancels it.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

struct event_base;
struct event;

namespace hourglass::ipc {

class EventLoop;

// An armed libevent event. Destroying it removes and frees the event.
class EventHandle {
 public:
  EventHandle() = default;
  ~EventHandle();
  EventHandle(EventHandle&& other) noexcept;
  EventHandle& operator=(EventHandle&& other) noexcept;
  EventHandle(const EventHandle&) = delete;
  EventHandle& operator=(const EventHandle&) = delete;

  explicit operator bool() const { return ev_ != nullptr; }
  void Reset();

  struct Callback;  // defined in event_loop.cc

 private:
  friend class EventLoop;
  EventHandle(struct event* ev, std::shared_ptr<Callback> cb);

  struct event* ev_ = nullptr;
  std::shared_ptr<Callback> cb_;
};

enum FdEvents : short {
  kReadable = 0x02,  // EV_READ
  kWritable = 0x04,  // EV_WRITE
};

class EventLoop {
 public:
  using Closure = std::function<void()>;

  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs until Stop() or until nothing is left to wait for.
  void Run();
  // Runs until Stop(), even with nothing armed.
  void RunForever();
  // One non-blocking pass over ready events.
  void RunOnce();
  // Safe from any thread.
  void Stop();

  // Safe from any thread; `fn` runs on the loop thread, in post order.
  void Post(Closure fn);

  // Runs `fn` once after `delay`.
  [[nodiscard]] EventHandle AddTimer(std::chrono::milliseconds delay, Closure fn);
  // Runs `fn` every `period`.
  [[nodiscard]] EventHandle AddPeriodicTimer(std::chrono::milliseconds period, Closure fn);
  // Runs `fn(events)` whenever `fd` is ready for any of `events` (FdEvents).
  [[nodiscard]] EventHandle WatchFd(int fd, short events, std::function<void(short)> fn);
  // Runs `fn` on the loop thread whenever `signo` arrives (no logic in the
  // signal handler itself).
  [[nodiscard]] EventHandle WatchSignal(int signo, Closure fn);

  bool IsLoopThread() const;
  event_base* base() const { return base_; }

 private:
  void DrainPosted();

  event_base* base_ = nullptr;
  std::thread::id loop_thread_;
  std::mutex post_mu_;
  std::vector<Closure> posted_;
  EventHandle post_event_;
};

}  // namespace hourglass::ipc
