#pragma once

// The worker's one connection to the bridge host, shared by every thread.
//
// The AsyncClient lives on the worker's event loop (the main thread). Other
// threads (poll loops, evaluators, executors) reach it only by posting to that
// loop: Call() posts the request and blocks the calling thread on the answer;
// Send() posts it and forgets. One connection means one owner: the bridge host
// binds the worker's registration to it, and unregisters the queue itself if
// this process dies.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "ipc/client.h"
#include "ipc/event_loop.h"
#include "ipc/result.h"

namespace hourglass::sdk {

class BridgeLink {
 public:
  BridgeLink(ipc::EventLoop& loop, ipc::ClientOptions options);
  ~BridgeLink();

  // On the loop thread: connect and handshake.
  void Connect(std::chrono::milliseconds timeout, ipc::AsyncClient::WelcomeCallback done);
  // On the loop thread: runs once if the connection closes after Connect.
  void set_disconnect_callback(std::function<void()> cb) { on_disconnect_ = std::move(cb); }

  // From any thread but the loop's: sends `request` stamped with the bridge
  // epoch and waits for the answer (UNAVAILABLE if the loop or connection is
  // gone first).
  ipc::Result<ipc::v1::Response> Call(ipc::v1::Request request, std::chrono::milliseconds timeout);
  // From any thread: sends and logs a failure instead of returning it.
  void Send(ipc::v1::Request request, std::chrono::milliseconds timeout, const char* what);
  // From the loop thread: sends, `done` runs on the loop thread.
  void CallOnLoop(ipc::v1::Request request, std::chrono::milliseconds timeout, ipc::AsyncClient::Callback done);

  uint64_t epoch() const { return epoch_.load(std::memory_order_relaxed); }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  void Close();

 private:
  ipc::EventLoop& loop_;
  ipc::AsyncClient client_;
  std::atomic<uint64_t> epoch_{0};
  std::atomic<bool> connected_{false};
  std::function<void()> on_disconnect_;
};

}  // namespace hourglass::sdk
