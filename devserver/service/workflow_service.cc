#include "devserver/service/workflow_service.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "devserver/engine/errors.h"

namespace hourglass::devserver {
namespace {

// The caller's deadline in ms since the epoch; 0 when it set none.
int64_t DeadlineMs(const grpc::CallbackServerContext* ctx) {
  const auto deadline = ctx->deadline();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(deadline.time_since_epoch()).count();
  // "No deadline" arrives as a time centuries away.
  constexpr int64_t kYear2200Ms = 7258118400000LL;
  return ms <= 0 || ms > kYear2200Ms ? 0 : ms;
}

template <typename Req>
grpc::Status CheckSize(const Req& req) {
  const size_t size = req.ByteSizeLong();
  if (size > kMaxRequestBytes) {
    return InvalidArgument("request of " + std::to_string(size) + " bytes exceeds the " +
                           std::to_string(kMaxRequestBytes) + "-byte limit");
  }
  return grpc::Status::OK;
}

// Finishes when the engine answers. For long polls, a caller that goes away
// cancels its waiter on the engine thread, so no task is handed to nobody.
struct AsyncState {
  bool finished = false;  // engine thread only
  uint64_t waiter_id = 0;
  // Set by gRPC's thread at once, before the cancellation reaches the engine.
  std::atomic<bool> cancelled{false};
};

class AsyncReactor : public grpc::ServerUnaryReactor {
 public:
  AsyncReactor(EngineHost& host, bool cancellable)
      : host_(host), cancellable_(cancellable), state_(std::make_shared<AsyncState>()) {}

  void OnCancel() override {
    if (!cancellable_) return;
    state_->cancelled.store(true, std::memory_order_relaxed);
    auto state = state_;
    host_.Post([state](Engine& engine) {
      if (!state->finished && state->waiter_id != 0) engine.CancelWaiter(state->waiter_id);
    });
  }
  void OnDone() override { delete this; }

  const std::shared_ptr<AsyncState>& state() const { return state_; }

 private:
  EngineHost& host_;
  bool cancellable_;
  std::shared_ptr<AsyncState> state_;
};

}  // namespace

template <typename Req, typename Resp>
grpc::ServerUnaryReactor* WorkflowServiceImpl::Sync(Ctx* ctx, const Req* req, Resp* resp,
                                                    grpc::Status (Engine::*method)(const Req&,
                                                                                   Resp*),
                                                    failpoint::Point* after_commit) {
  auto* reactor = ctx->DefaultReactor();
  if (auto st = CheckSize(*req); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  host_.Post([req, resp, reactor, method, after_commit](Engine& engine) {
    grpc::Status st = (engine.*method)(*req, resp);
    // Unavailable, not internal: the caller (Core, a client) retries that,
    // which is the point of answering a committed call with an error.
    if (st.ok() && after_commit != nullptr && after_commit->Hit()) {
      st = grpc::Status(grpc::StatusCode::UNAVAILABLE, failpoint::ErrorMessage(*after_commit));
    }
    reactor->Finish(st);
  });
  return reactor;
}

template <typename Req, typename Resp, typename Call>
grpc::ServerUnaryReactor* WorkflowServiceImpl::Async(Ctx* ctx, const Req* req, Resp* resp, Call call,
                                                     bool cancellable) {
  auto* reactor = new AsyncReactor(host_, cancellable);
  if (auto st = CheckSize(*req); !st.ok()) {
    reactor->Finish(st);
    return reactor;
  }
  const int64_t deadline = DeadlineMs(ctx);
  auto state = reactor->state();
  host_.Post([req, resp, reactor, state, deadline, call](Engine& engine) {
    auto done = [reactor, resp, state](grpc::Status st, Resp r) {
      state->finished = true;
      *resp = std::move(r);
      reactor->Finish(st);
    };
    auto gone = [state] { return state->cancelled.load(std::memory_order_relaxed); };
    const uint64_t id = call(engine, *req, deadline, std::move(done), std::move(gone));
    state->waiter_id = id;
  });
  return reactor;
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::GetSystemInfo(Ctx* ctx, const wsv::GetSystemInfoRequest*,
                                                             wsv::GetSystemInfoResponse* resp) {
  resp->set_server_version("1.27.0-hourglass-devserver");
  auto* caps = resp->mutable_capabilities();
  caps->set_signal_and_query_header(true);
  caps->set_internal_error_differentiation(true);
  caps->set_activity_failure_include_heartbeat(true);
  caps->set_encoded_failure_attributes(true);
  caps->set_upsert_memo(true);
  caps->set_sdk_metadata(true);
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::GetSearchAttributes(Ctx* ctx,
                                                                   const wsv::GetSearchAttributesRequest*,
                                                                   wsv::GetSearchAttributesResponse*) {
  // Any search attribute key is accepted; none is registered in advance.
  auto* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

#define HOURGLASS_SYNC_RPC(Name)                                                              \
  grpc::ServerUnaryReactor* WorkflowServiceImpl::Name(Ctx* ctx, const wsv::Name##Request* req, \
                                                      wsv::Name##Response* resp) {           \
    return Sync(ctx, req, resp, &Engine::Name);                                               \
  }

HOURGLASS_SYNC_RPC(RegisterNamespace)
HOURGLASS_SYNC_RPC(DescribeNamespace)
HOURGLASS_SYNC_RPC(ListNamespaces)
HOURGLASS_SYNC_RPC(SignalWorkflowExecution)
HOURGLASS_SYNC_RPC(SignalWithStartWorkflowExecution)
HOURGLASS_SYNC_RPC(RequestCancelWorkflowExecution)
HOURGLASS_SYNC_RPC(TerminateWorkflowExecution)
HOURGLASS_SYNC_RPC(DescribeWorkflowExecution)
HOURGLASS_SYNC_RPC(ListWorkflowExecutions)
HOURGLASS_SYNC_RPC(CountWorkflowExecutions)
HOURGLASS_SYNC_RPC(RespondWorkflowTaskFailed)
HOURGLASS_SYNC_RPC(RecordActivityTaskHeartbeat)
HOURGLASS_SYNC_RPC(RecordActivityTaskHeartbeatById)
HOURGLASS_SYNC_RPC(RespondActivityTaskCompletedById)
HOURGLASS_SYNC_RPC(RespondActivityTaskFailed)
HOURGLASS_SYNC_RPC(RespondActivityTaskFailedById)
HOURGLASS_SYNC_RPC(RespondActivityTaskCanceled)
HOURGLASS_SYNC_RPC(RespondActivityTaskCanceledById)
HOURGLASS_SYNC_RPC(RespondQueryTaskCompleted)
HOURGLASS_SYNC_RPC(ShutdownWorker)
HOURGLASS_SYNC_RPC(ResetStickyTaskQueue)

// The same, with a fault point "devserver.<snake_name>.after_commit"
// (docs/fault-injection.md).
#define HOURGLASS_SYNC_RPC_AFTER_COMMIT(Name, point)                                           \
  grpc::ServerUnaryReactor* WorkflowServiceImpl::Name(Ctx* ctx, const wsv::Name##Request* req, \
                                                      wsv::Name##Response* resp) {             \
    return Sync(ctx, req, resp, &Engine::Name, &HOURGLASS_FAILPOINT_OBJECT(point));            \
  }

HOURGLASS_SYNC_RPC_AFTER_COMMIT(StartWorkflowExecution,
                                "devserver.start_workflow_execution.after_commit")
HOURGLASS_SYNC_RPC_AFTER_COMMIT(RespondWorkflowTaskCompleted,
                                "devserver.respond_workflow_task_completed.after_commit")
HOURGLASS_SYNC_RPC_AFTER_COMMIT(RespondActivityTaskCompleted,
                                "devserver.respond_activity_task_completed.after_commit")

#undef HOURGLASS_SYNC_RPC_AFTER_COMMIT
#undef HOURGLASS_SYNC_RPC

grpc::ServerUnaryReactor* WorkflowServiceImpl::GetWorkflowExecutionHistory(
    Ctx* ctx, const wsv::GetWorkflowExecutionHistoryRequest* req,
    wsv::GetWorkflowExecutionHistoryResponse* resp) {
  return Async(
      ctx, req, resp,
      [](Engine& e, const wsv::GetWorkflowExecutionHistoryRequest& r, int64_t deadline,
         Done<wsv::GetWorkflowExecutionHistoryResponse> done, PollerGone /*not a task poll*/) {
        e.GetWorkflowExecutionHistory(r, deadline, std::move(done));
        return uint64_t{0};
      },
      /*cancellable=*/false);
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::PollWorkflowTaskQueue(
    Ctx* ctx, const wsv::PollWorkflowTaskQueueRequest* req, wsv::PollWorkflowTaskQueueResponse* resp) {
  return Async(
      ctx, req, resp,
      [](Engine& e, const wsv::PollWorkflowTaskQueueRequest& r, int64_t deadline,
         Done<wsv::PollWorkflowTaskQueueResponse> done, PollerGone gone) {
        return e.PollWorkflowTaskQueue(r, deadline, std::move(done), std::move(gone));
      },
      /*cancellable=*/true);
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::PollActivityTaskQueue(
    Ctx* ctx, const wsv::PollActivityTaskQueueRequest* req, wsv::PollActivityTaskQueueResponse* resp) {
  return Async(
      ctx, req, resp,
      [](Engine& e, const wsv::PollActivityTaskQueueRequest& r, int64_t deadline,
         Done<wsv::PollActivityTaskQueueResponse> done, PollerGone gone) {
        return e.PollActivityTaskQueue(r, deadline, std::move(done), std::move(gone));
      },
      /*cancellable=*/true);
}

grpc::ServerUnaryReactor* WorkflowServiceImpl::QueryWorkflow(Ctx* ctx, const wsv::QueryWorkflowRequest* req,
                                                             wsv::QueryWorkflowResponse* resp) {
  return Async(
      ctx, req, resp,
      [](Engine& e, const wsv::QueryWorkflowRequest& r, int64_t deadline,
         Done<wsv::QueryWorkflowResponse> done, PollerGone /*not a task poll*/) {
        e.QueryWorkflow(r, deadline, std::move(done));
        return uint64_t{0};
      },
      /*cancellable=*/false);
}

}  // namespace hourglass::devserver
