#include "devserver/engine_host.h"

#include <future>

namespace hourglass::devserver {

EngineHost::EngineHost(SqliteStore& store, EngineOptions options)
    : engine_(store, clock_, std::move(options)) {}

EngineHost::~EngineHost() { Stop(); }

Status EngineHost::Start() {
  std::promise<Status> booted;
  auto result = booted.get_future();
  thread_ = std::thread([this, &booted] {
    auto st = engine_.Boot();
    const bool ok = st.ok();
    booted.set_value(std::move(st));
    if (!ok) return;
    Rearm();
    loop_.RunForever();
  });
  auto st = result.get();
  if (!st.ok()) thread_.join();
  return st;
}

void EngineHost::BeginShutdown() {
  if (!thread_.joinable()) return;
  std::promise<void> done;
  loop_.Post([this, &done] {
    engine_.BeginShutdown();
    done.set_value();
  });
  done.get_future().wait();
}

void EngineHost::Stop() {
  if (!thread_.joinable()) return;
  std::promise<void> released;
  loop_.Post([this, &released] {
    engine_.ReleaseAllWaiters();
    timer_.Reset();
    released.set_value();
  });
  released.get_future().wait();
  loop_.Stop();
  thread_.join();
}

void EngineHost::Post(std::function<void(Engine&)> fn) {
  loop_.Post([this, fn = std::move(fn)] {
    fn(engine_);
    Rearm();
  });
}

void EngineHost::Rearm() {
  const int64_t due = engine_.NextTimerDueMs();
  if (due < 0) {
    timer_.Reset();
    return;
  }
  const int64_t delay = std::max<int64_t>(0, due - clock_.NowMs());
  timer_ = loop_.AddTimer(std::chrono::milliseconds(delay), [this] {
    engine_.FireDueTimers();
    Rearm();
  });
}

}  // namespace hourglass::devserver
