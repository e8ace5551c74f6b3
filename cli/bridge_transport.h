#pragma once

// The workflow commands through hourglass-bridgehost's Unix socket, as an IPC
// client (ROLE_CLIENT). The bridge host owns the connection to Temporal; its
// errors arrive already typed.

#include <memory>
#include <string>

#include "cli/transport.h"
#include "ipc/client.h"

namespace hourglass::cli {

class BridgeTransport : public Transport {
 public:
  static ipc::Result<std::unique_ptr<BridgeTransport>> Connect(const std::string& socket_path,
                                                               Timeout timeout);

  ipc::Result<wsv::StartWorkflowExecutionResponse> Start(wsv::StartWorkflowExecutionRequest request,
                                                         Timeout timeout) override;
  ipc::Status Signal(wsv::SignalWorkflowExecutionRequest request, Timeout timeout) override;
  ipc::Status Cancel(wsv::RequestCancelWorkflowExecutionRequest request, Timeout timeout) override;
  ipc::Status Terminate(wsv::TerminateWorkflowExecutionRequest request, Timeout timeout) override;
  ipc::Result<wsv::DescribeWorkflowExecutionResponse> Describe(
      wsv::DescribeWorkflowExecutionRequest request, Timeout timeout) override;
  ipc::Result<history_pb::History> FetchHistory(wsv::GetWorkflowExecutionHistoryRequest request,
                                                Timeout timeout) override;
  ipc::Result<ClosedRun> AwaitClose(const std::string& namespace_name,
                                    const common_pb::WorkflowExecution& execution, bool follow_runs,
                                    Timeout timeout) override;

 private:
  explicit BridgeTransport(ipc::BlockingClient client) : client_(std::move(client)) {}

  ipc::BlockingClient client_;
};

}  // namespace hourglass::cli
