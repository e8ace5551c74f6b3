#pragma once

// A real ipc::Server on its own loop thread, with a scripted handler, for the
// socket tests and the benchmark. Assertions wait on events, never on sleeps.

#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ipc/event_loop.h"
#include "ipc/server.h"
#include "tests/testing/temp_dir.h"

namespace hourglass::ipc::testing {

using ::hourglass::testing::TempDir;

// Handler script:
//   ping "park"     -> parked until a ping "release" arrives
//   ping "release"  -> answers the parked pings (in order), then itself
//   ping "drop"     -> the Responder is dropped unanswered
//   ping other      -> echoed at once
//   poll_workflow_activation -> parked until cancelled or disconnected
//   anything else   -> INVALID_ARGUMENT
class ScriptedHandler : public RequestHandler {
 public:
  void OnRequest(Connection& connection, v1::Request request, Responder responder) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++requests_;
    if (request.has_ping()) {
      const std::string& payload = request.ping().payload();
      if (payload == "park") {
        parked_.push_back(std::move(responder));
      } else if (payload == "drop") {
        // Destroyed at scope end: the Responder answers INTERNAL itself.
      } else {
        if (payload == "release") {
          for (auto& r : parked_) {
            v1::Response resp;
            resp.mutable_ping()->set_payload("parked");
            r.Reply(std::move(resp));
          }
          parked_.clear();
        }
        v1::Response resp;
        resp.mutable_ping()->set_payload(payload);
        responder.Reply(std::move(resp));
      }
    } else if (request.has_poll_workflow_activation()) {
      polls_.emplace(responder.request_id(), std::move(responder));
    } else {
      responder.ReplyError(MakeError(v1::ERROR_KIND_INVALID_ARGUMENT, "not scripted"));
    }
    cv_.notify_all();
  }

  void OnCancel(Connection& connection, uint64_t request_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    cancelled_.push_back(request_id);
    auto it = polls_.find(request_id);
    if (it != polls_.end()) {
      late_reply_delivered_.push_back(it->second.Reply(v1::Response()));
      polls_.erase(it);
    }
    cv_.notify_all();
  }

  void OnDisconnected(Connection& connection) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++disconnects_;
    // A parked poll whose caller died: the reply must report non-delivery.
    for (auto& [id, r] : polls_) late_reply_delivered_.push_back(r.Reply(v1::Response()));
    polls_.clear();
    cv_.notify_all();
  }

  // Waits until `pred` holds (checked under the lock) or 10 s pass.
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), pred);
  }

  std::mutex mu_;
  std::condition_variable cv_;
  int requests_ = 0;
  int disconnects_ = 0;
  std::vector<uint64_t> cancelled_;
  std::vector<bool> late_reply_delivered_;
  std::vector<Responder> parked_;
  std::map<uint64_t, Responder> polls_;
};

// Starts the server on the calling thread (so Start() errors are visible at
// once), then runs its loop on a background thread.
class ServerThread {
 public:
  explicit ServerThread(ServerOptions options, RequestHandler& handler)
      : server_(loop_, std::move(options), handler) {}

  Status Start() {
    auto st = server_.Start();
    if (st.ok()) thread_ = std::thread([this] { loop_.RunForever(); });
    return st;
  }

  ~ServerThread() { Stop(); }

  void Stop() {
    if (!thread_.joinable()) return;
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    loop_.Post([&] {
      server_.Stop();
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      cv.notify_all();
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return done; });
    }
    loop_.Stop();
    thread_.join();
  }

  EventLoop& loop() { return loop_; }
  Server& server() { return server_; }

 private:
  EventLoop loop_;
  Server server_;
  std::thread thread_;
};

}  // namespace hourglass::ipc::testing
