#pragma once

// The bridge host's Runtime (the Elixir Hourglass.Runtime): one gRPC channel
// to the Temporal frontend, the identity and headers every call carries, the
// server's capabilities, and this process's bridge epoch.
//
// Calls are asynchronous (gRPC's callback API); their completions are posted
// to the owner's event loop, so everything above runs on one thread.

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>

#include "ipc/event_loop.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace hourglass::bridgehost {

namespace wsv = ::temporal::api::workflowservice::v1;

struct RuntimeOptions {
  std::string target = "127.0.0.1:7233";
  std::string namespace_name = "default";
  std::string identity;  // default: "<pid>@<hostname>"
  // TLS: off unless `tls` or any path is set.
  bool tls = false;
  std::string tls_ca_path;
  std::string tls_cert_path;
  std::string tls_key_path;
  std::string tls_server_name;
  std::string api_key;  // sent as "authorization: Bearer <key>"
};

// How one call is retried: bounded attempts on UNAVAILABLE (and the other
// codes Temporal clients treat as transient), with exponential backoff, never
// past the caller's deadline.
struct CallOptions {
  std::chrono::milliseconds timeout{10000};  // the whole call, retries included
  int max_attempts = 10;
  std::chrono::milliseconds initial_backoff{100};
  double backoff_coefficient = 1.7;
  std::chrono::milliseconds max_backoff{5000};
  // Long polls: also retry DEADLINE_EXCEEDED / CANCELLED from the server.
  bool long_poll = false;
};

template <typename Req, typename Resp>
using AsyncMethod = void (wsv::WorkflowService::StubInterface::async_interface::*)(
    grpc::ClientContext*, const Req*, Resp*, std::function<void(grpc::Status)>);

class Runtime {
 public:
  Runtime(ipc::EventLoop& loop, RuntimeOptions options);
  ~Runtime();

  // Fresh at every bridge-host start: stamps every handle this process issues.
  uint64_t epoch() const { return epoch_; }
  const RuntimeOptions& options() const { return options_; }
  const std::string& identity() const { return options_.identity; }
  bool connected() const { return connected_; }
  const wsv::GetSystemInfoResponse& system_info() const { return system_info_; }

  // Asks the server for its capabilities (retrying while it is unreachable,
  // up to `timeout`); `done(ok)` runs on the loop.
  void Connect(std::chrono::milliseconds timeout, std::function<void(grpc::Status)> done);
  // Stops a Connect() still retrying (nothing waits for it at shutdown).
  void CancelConnect() {
    if (connect_call_ != 0) Cancel(connect_call_);
  }

  // One RPC with retries; `done` runs on the loop thread, exactly once.
  // Returns an id for Cancel().
  template <typename Req, typename Resp>
  uint64_t Call(AsyncMethod<Req, Resp> method, std::type_identity_t<Req> request,
                CallOptions options,
                std::type_identity_t<std::function<void(grpc::Status, Resp)>> done);

  // Stops one call: no further retries, and the attempt in flight is
  // cancelled (its `done` still runs, with CANCELLED). Loop thread only.
  void Cancel(uint64_t call_id);
  // Cancels every call in flight.
  void CancelAll();
  // Cancels every long poll in flight (the bridge host is stopping: polls a
  // shut-down worker left running must not hold its exit). Loop thread only.
  void CancelLongPolls();
  // Calls not yet finished (retries included) and not cancelled: what a
  // graceful stop waits for.
  size_t live_calls() {
    std::lock_guard<std::mutex> lock(contexts_mu_);
    size_t n = 0;
    for (uint64_t id : live_calls_) n += cancelled_.contains(id) ? 0 : 1;
    return n;
  }

  ipc::EventLoop& loop() { return loop_; }
  wsv::WorkflowService::Stub& stub() { return *stub_; }
  // `deadline` is monotonic (a wall-clock jump must not cut a call short or
  // stretch its retries); it becomes gRPC's wall-clock deadline only here,
  // at the instant the attempt starts (fault catalogue #33).
  void PrepareContext(grpc::ClientContext& ctx, std::chrono::steady_clock::time_point deadline);

 private:
  template <typename Req, typename Resp>
  struct CallState;
  // Registry of the live attempt of each call, so Cancel() can reach it.
  void Track(uint64_t call_id, grpc::ClientContext* ctx);
  // Forgets the attempt `ctx` of the call (not a later attempt's).
  void Untrack(uint64_t call_id, grpc::ClientContext* ctx);
  bool IsCancelled(uint64_t call_id);

  ipc::EventLoop& loop_;
  RuntimeOptions options_;
  uint64_t epoch_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<wsv::WorkflowService::Stub> stub_;
  wsv::GetSystemInfoResponse system_info_;
  bool connected_ = false;
  uint64_t connect_call_ = 0;
  std::mutex contexts_mu_;
  std::condition_variable contexts_cv_;
  std::unordered_map<uint64_t, grpc::ClientContext*> contexts_;
  std::unordered_set<uint64_t> cancelled_;
  std::unordered_set<uint64_t> live_calls_;
  std::unordered_set<uint64_t> long_polls_;
  uint64_t next_call_id_ = 1;
  // Posted completions check this before touching the Runtime.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// Whether Temporal clients retry this code (the same set sdk-core retries).
bool IsRetryable(grpc::StatusCode code, bool long_poll);

// --- template implementation ----------------------------------------------------

template <typename Req, typename Resp>
struct Runtime::CallState {
  AsyncMethod<Req, Resp> method;
  Req request;
  Resp response;
  CallOptions options;
  std::function<void(grpc::Status, Resp)> done;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point deadline;
  int attempt = 0;
  std::unique_ptr<grpc::ClientContext> ctx;
  uint64_t call_id = 0;
  ipc::EventHandle backoff_timer;
};

template <typename Req, typename Resp>
uint64_t Runtime::Call(AsyncMethod<Req, Resp> method, std::type_identity_t<Req> request,
                       CallOptions options,
                       std::type_identity_t<std::function<void(grpc::Status, Resp)>> done) {
  auto state = std::make_shared<CallState<Req, Resp>>();
  state->call_id = next_call_id_++;
  {
    std::lock_guard<std::mutex> lock(contexts_mu_);
    live_calls_.insert(state->call_id);
    if (options.long_poll) long_polls_.insert(state->call_id);
  }
  state->method = method;
  state->request = std::move(request);
  state->options = options;
  state->done = std::move(done);
  state->started = std::chrono::steady_clock::now();
  state->deadline = state->started + options.timeout;
  auto alive = alive_;
  // Issues one attempt; on a transient failure with time and attempts left,
  // schedules the next one after a backoff.
  auto attempt = std::make_shared<std::function<void()>>();
  *attempt = [this, state, alive, attempt]() {
    ++state->attempt;
    state->response.Clear();
    state->ctx = std::make_unique<grpc::ClientContext>();
    PrepareContext(*state->ctx, state->deadline);
    Track(state->call_id, state->ctx.get());
    grpc::ClientContext* attempt_ctx = state->ctx.get();
    auto* async = stub_->async();
    (async->*(state->method))(
        state->ctx.get(), &state->request, &state->response,
        [this, state, alive, attempt, attempt_ctx](grpc::Status status) {
          // On a gRPC thread. Post first, then mark the attempt finished: the
          // Runtime's destructor waits for the latter, so the loop is still
          // there for the former.
          loop_.Post([this, state, alive, attempt, status]() mutable {
            if (!*alive) {
              *attempt = nullptr;
              return;
            }
            const bool cancelled = IsCancelled(state->call_id);
            const auto now = std::chrono::steady_clock::now();
            std::chrono::milliseconds backoff(static_cast<int64_t>(
                static_cast<double>(state->options.initial_backoff.count()) *
                std::pow(state->options.backoff_coefficient, state->attempt - 1)));
            backoff = std::min(backoff, state->options.max_backoff);
            if (!cancelled && !status.ok() &&
                IsRetryable(status.error_code(), state->options.long_poll) &&
                state->attempt < state->options.max_attempts && now + backoff < state->deadline) {
              state->backoff_timer = loop_.AddTimer(backoff, [attempt] { (*attempt)(); });
              return;
            }
            auto finish = std::move(state->done);
            auto response = std::move(state->response);
            // Break the self-reference so the state is freed.
            *attempt = nullptr;
            {
              std::lock_guard<std::mutex> lock(contexts_mu_);
              cancelled_.erase(state->call_id);
              live_calls_.erase(state->call_id);
              long_polls_.erase(state->call_id);
            }
            finish(status, std::move(response));
          });
          Untrack(state->call_id, attempt_ctx);
        });
  };
  (*attempt)();
  return state->call_id;
}

}  // namespace hourglass::bridgehost
