#pragma once

// The workflow commands straight to a Temporal frontend over gRPC (plaintext),
// for when no bridge host runs: the same requests the bridge host would send,
// and the same long poll it uses to await a result.

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "cli/transport.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"

namespace hourglass::cli {

class GrpcTransport : public Transport {
 public:
  explicit GrpcTransport(const std::string& target);

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
  std::string target_;
  std::unique_ptr<wsv::WorkflowService::Stub> stub_;
};

}  // namespace hourglass::cli
