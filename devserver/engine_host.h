#pragma once

// Runs the Engine on its own thread with its own event loop. Everything that
// touches the engine is posted here; after each posted task the one timer is
// re-armed at the engine's next due time.

#include <functional>
#include <memory>
#include <thread>

#include "devserver/engine/engine.h"
#include "ipc/event_loop.h"

namespace hourglass::devserver {

class EngineHost {
 public:
  EngineHost(SqliteStore& store, EngineOptions options);
  ~EngineHost();

  // Boots the engine on its thread; returns once boot finished.
  Status Start();
  // Answers every parked poll and makes new ones return at once; the engine
  // keeps serving. Returns once that is done.
  void BeginShutdown();
  // Answers every parked poll, then stops the thread. Call after the gRPC
  // server has shut down: a call posted after this never runs.
  void Stop();

  // Runs `fn(engine)` on the engine thread.
  void Post(std::function<void(Engine&)> fn);

 private:
  void Rearm();

  SystemClock clock_;
  Engine engine_;
  ipc::EventLoop loop_;
  ipc::EventHandle timer_;
  std::thread thread_;
};

}  // namespace hourglass::devserver
