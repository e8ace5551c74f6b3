#pragma once

// temporal.api.workflowservice.v1.WorkflowService over gRPC's callback API.
// Handlers run on gRPC threads only long enough to check the request's size
// and post it to the engine thread; the engine finishes the call. Methods not
// overridden here answer UNIMPLEMENTED (the generated default).

#include <grpcpp/grpcpp.h>

#include <string>

#include "devserver/engine_host.h"
#include "ipc/failpoint.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace hourglass::devserver {

// Temporal's default limit for one request; larger ones get INVALID_ARGUMENT
// naming their size (gRPC's own limit is set higher so that we can say so).
inline constexpr size_t kMaxRequestBytes = 4u << 20;

class WorkflowServiceImpl final : public wsv::WorkflowService::CallbackService {
 public:
  explicit WorkflowServiceImpl(EngineHost& host) : host_(host) {}

  using Reactor = grpc::ServerUnaryReactor;
  using Ctx = grpc::CallbackServerContext;

  Reactor* GetSystemInfo(Ctx* ctx, const wsv::GetSystemInfoRequest* req,
                         wsv::GetSystemInfoResponse* resp) override;
  Reactor* RegisterNamespace(Ctx* ctx, const wsv::RegisterNamespaceRequest* req,
                             wsv::RegisterNamespaceResponse* resp) override;
  Reactor* DescribeNamespace(Ctx* ctx, const wsv::DescribeNamespaceRequest* req,
                             wsv::DescribeNamespaceResponse* resp) override;
  Reactor* ListNamespaces(Ctx* ctx, const wsv::ListNamespacesRequest* req,
                          wsv::ListNamespacesResponse* resp) override;
  Reactor* StartWorkflowExecution(Ctx* ctx, const wsv::StartWorkflowExecutionRequest* req,
                                  wsv::StartWorkflowExecutionResponse* resp) override;
  Reactor* SignalWorkflowExecution(Ctx* ctx, const wsv::SignalWorkflowExecutionRequest* req,
                                   wsv::SignalWorkflowExecutionResponse* resp) override;
  Reactor* SignalWithStartWorkflowExecution(Ctx* ctx,
                                            const wsv::SignalWithStartWorkflowExecutionRequest* req,
                                            wsv::SignalWithStartWorkflowExecutionResponse* resp) override;
  Reactor* RequestCancelWorkflowExecution(Ctx* ctx,
                                          const wsv::RequestCancelWorkflowExecutionRequest* req,
                                          wsv::RequestCancelWorkflowExecutionResponse* resp) override;
  Reactor* TerminateWorkflowExecution(Ctx* ctx, const wsv::TerminateWorkflowExecutionRequest* req,
                                      wsv::TerminateWorkflowExecutionResponse* resp) override;
  Reactor* DescribeWorkflowExecution(Ctx* ctx, const wsv::DescribeWorkflowExecutionRequest* req,
                                     wsv::DescribeWorkflowExecutionResponse* resp) override;
  Reactor* GetWorkflowExecutionHistory(Ctx* ctx, const wsv::GetWorkflowExecutionHistoryRequest* req,
                                       wsv::GetWorkflowExecutionHistoryResponse* resp) override;
  Reactor* ListWorkflowExecutions(Ctx* ctx, const wsv::ListWorkflowExecutionsRequest* req,
                                  wsv::ListWorkflowExecutionsResponse* resp) override;
  Reactor* CountWorkflowExecutions(Ctx* ctx, const wsv::CountWorkflowExecutionsRequest* req,
                                   wsv::CountWorkflowExecutionsResponse* resp) override;
  Reactor* GetSearchAttributes(Ctx* ctx, const wsv::GetSearchAttributesRequest* req,
                               wsv::GetSearchAttributesResponse* resp) override;
  Reactor* PollWorkflowTaskQueue(Ctx* ctx, const wsv::PollWorkflowTaskQueueRequest* req,
                                 wsv::PollWorkflowTaskQueueResponse* resp) override;
  Reactor* RespondWorkflowTaskCompleted(Ctx* ctx, const wsv::RespondWorkflowTaskCompletedRequest* req,
                                        wsv::RespondWorkflowTaskCompletedResponse* resp) override;
  Reactor* RespondWorkflowTaskFailed(Ctx* ctx, const wsv::RespondWorkflowTaskFailedRequest* req,
                                     wsv::RespondWorkflowTaskFailedResponse* resp) override;
  Reactor* PollActivityTaskQueue(Ctx* ctx, const wsv::PollActivityTaskQueueRequest* req,
                                 wsv::PollActivityTaskQueueResponse* resp) override;
  Reactor* RecordActivityTaskHeartbeat(Ctx* ctx, const wsv::RecordActivityTaskHeartbeatRequest* req,
                                       wsv::RecordActivityTaskHeartbeatResponse* resp) override;
  Reactor* RecordActivityTaskHeartbeatById(Ctx* ctx,
                                           const wsv::RecordActivityTaskHeartbeatByIdRequest* req,
                                           wsv::RecordActivityTaskHeartbeatByIdResponse* resp) override;
  Reactor* RespondActivityTaskCompleted(Ctx* ctx, const wsv::RespondActivityTaskCompletedRequest* req,
                                        wsv::RespondActivityTaskCompletedResponse* resp) override;
  Reactor* RespondActivityTaskCompletedById(Ctx* ctx,
                                            const wsv::RespondActivityTaskCompletedByIdRequest* req,
                                            wsv::RespondActivityTaskCompletedByIdResponse* resp) override;
  Reactor* RespondActivityTaskFailed(Ctx* ctx, const wsv::RespondActivityTaskFailedRequest* req,
                                     wsv::RespondActivityTaskFailedResponse* resp) override;
  Reactor* RespondActivityTaskFailedById(Ctx* ctx, const wsv::RespondActivityTaskFailedByIdRequest* req,
                                         wsv::RespondActivityTaskFailedByIdResponse* resp) override;
  Reactor* RespondActivityTaskCanceled(Ctx* ctx, const wsv::RespondActivityTaskCanceledRequest* req,
                                       wsv::RespondActivityTaskCanceledResponse* resp) override;
  Reactor* RespondActivityTaskCanceledById(Ctx* ctx,
                                           const wsv::RespondActivityTaskCanceledByIdRequest* req,
                                           wsv::RespondActivityTaskCanceledByIdResponse* resp) override;
  Reactor* QueryWorkflow(Ctx* ctx, const wsv::QueryWorkflowRequest* req,
                         wsv::QueryWorkflowResponse* resp) override;
  Reactor* RespondQueryTaskCompleted(Ctx* ctx, const wsv::RespondQueryTaskCompletedRequest* req,
                                     wsv::RespondQueryTaskCompletedResponse* resp) override;
  Reactor* ShutdownWorker(Ctx* ctx, const wsv::ShutdownWorkerRequest* req,
                          wsv::ShutdownWorkerResponse* resp) override;
  Reactor* ResetStickyTaskQueue(Ctx* ctx, const wsv::ResetStickyTaskQueueRequest* req,
                                wsv::ResetStickyTaskQueueResponse* resp) override;

 private:
  // `after_commit`: a fault point reached once the engine answered OK (its
  // transaction committed), before the reply; "error" makes it UNAVAILABLE.
  template <typename Req, typename Resp>
  Reactor* Sync(Ctx* ctx, const Req* req, Resp* resp,
                grpc::Status (Engine::*method)(const Req&, Resp*),
                failpoint::Point* after_commit = nullptr);
  template <typename Req, typename Resp, typename Call>
  Reactor* Async(Ctx* ctx, const Req* req, Resp* resp, Call call, bool cancellable);

  EngineHost& host_;
};

}  // namespace hourglass::devserver
