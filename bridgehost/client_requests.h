#pragma once

// The client half of the request catalogue: start, signal, signal-with-start,
// cancel, terminate, describe, fetch history, await result, query, register /
// describe namespace, and async activity completion. Each becomes one or more
// WorkflowService calls with the request's deadline and bounded retries on
// transient errors; the answer goes back through the Responder.

#include "bridgehost/runtime.h"
#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/server.h"

namespace hourglass::bridgehost {

class ClientRequests {
 public:
  explicit ClientRequests(Runtime& runtime) : runtime_(runtime) {}

  // True if `request` is a client request (and is now answered, or will be).
  bool Handle(ipc::v1::Request& request, ipc::Responder& responder);

 private:
  CallOptions OptionsFor(const ipc::v1::Request& request) const;
  std::string NamespaceOr(const std::string& ns) const;
  void AwaitResult(ipc::v1::AwaitResultRequest request,
                   std::chrono::steady_clock::time_point deadline, std::string next_page_token,
                   ipc::Responder responder);
  void FetchHistory(wsv::GetWorkflowExecutionHistoryRequest request, CallOptions options,
                    temporal::api::history::v1::History so_far, ipc::Responder responder);
  void CompleteActivityAsync(const ipc::v1::CompleteActivityAsyncRequest& request,
                             CallOptions options, ipc::Responder responder);

  Runtime& runtime_;
};

}  // namespace hourglass::bridgehost
