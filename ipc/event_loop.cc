#include "ipc/event_loop.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>

#include <cstdlib>
#include <mutex>

namespace hourglass::ipc {

struct EventHandle::Callback : std::enable_shared_from_this<EventHandle::Callback> {
  std::function<void(short)> fn;
};

namespace {

void Trampoline(evutil_socket_t, short what, void* arg) {
  // Keep the callback alive while it runs: it may destroy its own handle.
  auto keep = static_cast<EventHandle::Callback*>(arg)->shared_from_this();
  keep->fn(what);
}

void InitLibeventOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    // Post() crosses threads; libevent needs its locks for event_active().
    if (evthread_use_pthreads() != 0) std::abort();
    // A write to a closed peer must be an EPIPE, never a process-killing signal.
    ::signal(SIGPIPE, SIG_IGN);
  });
}

timeval ToTimeval(std::chrono::milliseconds d) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(d.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((d.count() % 1000) * 1000);
  return tv;
}

}  // namespace

EventHandle::EventHandle(struct event* ev, std::shared_ptr<Callback> cb)
    : ev_(ev), cb_(std::move(cb)) {}

EventHandle::~EventHandle() { Reset(); }

EventHandle::EventHandle(EventHandle&& other) noexcept
    : ev_(std::exchange(other.ev_, nullptr)), cb_(std::move(other.cb_)) {}

EventHandle& EventHandle::operator=(EventHandle&& other) noexcept {
  if (this != &other) {
    Reset();
    ev_ = std::exchange(other.ev_, nullptr);
    cb_ = std::move(other.cb_);
  }
  return *this;
}

void EventHandle::Reset() {
  if (ev_ != nullptr) {
    event_free(ev_);  // also removes it from the loop
    ev_ = nullptr;
  }
  cb_.reset();
}

EventLoop::EventLoop() {
  InitLibeventOnce();
  base_ = event_base_new();
  if (base_ == nullptr) std::abort();
  loop_thread_ = std::this_thread::get_id();
  auto cb = std::make_shared<EventHandle::Callback>();
  cb->fn = [this](short) { DrainPosted(); };
  struct event* ev = event_new(base_, -1, EV_PERSIST, Trampoline, cb.get());
  post_event_ = EventHandle(ev, std::move(cb));
}

EventLoop::~EventLoop() {
  post_event_.Reset();
  event_base_free(base_);
}

void EventLoop::Run() {
  loop_thread_ = std::this_thread::get_id();
  event_base_loop(base_, 0);
}

void EventLoop::RunForever() {
  loop_thread_ = std::this_thread::get_id();
  event_base_loop(base_, EVLOOP_NO_EXIT_ON_EMPTY);
}

void EventLoop::RunOnce() {
  loop_thread_ = std::this_thread::get_id();
  event_base_loop(base_, EVLOOP_NONBLOCK);
}

void EventLoop::Stop() {
  Post([this] { event_base_loopbreak(base_); });
}

void EventLoop::Post(Closure fn) {
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    posted_.push_back(std::move(fn));
  }
  event_active(post_event_.ev_, EV_READ, 0);
}

void EventLoop::DrainPosted() {
  std::vector<Closure> batch;
  {
    std::lock_guard<std::mutex> lock(post_mu_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

EventHandle EventLoop::AddTimer(std::chrono::milliseconds delay, Closure fn) {
  auto cb = std::make_shared<EventHandle::Callback>();
  cb->fn = [fn = std::move(fn)](short) { fn(); };
  struct event* ev = event_new(base_, -1, 0, Trampoline, cb.get());
  timeval tv = ToTimeval(delay);
  event_add(ev, &tv);
  return EventHandle(ev, std::move(cb));
}

EventHandle EventLoop::AddPeriodicTimer(std::chrono::milliseconds period, Closure fn) {
  auto cb = std::make_shared<EventHandle::Callback>();
  cb->fn = [fn = std::move(fn)](short) { fn(); };
  struct event* ev = event_new(base_, -1, EV_PERSIST, Trampoline, cb.get());
  timeval tv = ToTimeval(period);
  event_add(ev, &tv);
  return EventHandle(ev, std::move(cb));
}

EventHandle EventLoop::WatchFd(int fd, short events, std::function<void(short)> fn) {
  auto cb = std::make_shared<EventHandle::Callback>();
  cb->fn = std::move(fn);
  struct event* ev = event_new(base_, fd, static_cast<short>(events | EV_PERSIST), Trampoline,
                               cb.get());
  event_add(ev, nullptr);
  return EventHandle(ev, std::move(cb));
}

EventHandle EventLoop::WatchSignal(int signo, Closure fn) {
  auto cb = std::make_shared<EventHandle::Callback>();
  cb->fn = [fn = std::move(fn)](short) { fn(); };
  struct event* ev = evsignal_new(base_, signo, Trampoline, cb.get());
  event_add(ev, nullptr);
  // evsignal_new sets EV_PERSIST itself.
  return EventHandle(ev, std::move(cb));
}

bool EventLoop::IsLoopThread() const { return std::this_thread::get_id() == loop_thread_; }

}  // namespace hourglass::ipc
