#pragma once

// One interface, two ways to reach Temporal: through the bridge host's IPC
// socket (BridgeTransport), or straight to a frontend over gRPC
// (GrpcTransport). Commands speak Temporal's own request messages either way,
// so each command has a single code path; both transports answer failures as
// the IPC protocol's typed errors, which errors.h maps to exit codes.

#include <chrono>
#include <memory>
#include <string>

#include "ipc/result.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/request_response.pb.h"

namespace hourglass::cli {

namespace wsv = ::temporal::api::workflowservice::v1;
namespace history_pb = ::temporal::api::history::v1;
namespace common_pb = ::temporal::api::common::v1;

// How long one call may take; zero means no deadline.
using Timeout = std::chrono::milliseconds;

struct ClosedRun {
  std::string run_id;  // the run that closed: the last one when runs are followed
  history_pb::HistoryEvent close_event;
};

class Transport {
 public:
  virtual ~Transport() = default;

  virtual ipc::Result<wsv::StartWorkflowExecutionResponse> Start(
      wsv::StartWorkflowExecutionRequest request, Timeout timeout) = 0;
  virtual ipc::Status Signal(wsv::SignalWorkflowExecutionRequest request, Timeout timeout) = 0;
  virtual ipc::Status Cancel(wsv::RequestCancelWorkflowExecutionRequest request,
                             Timeout timeout) = 0;
  virtual ipc::Status Terminate(wsv::TerminateWorkflowExecutionRequest request,
                                Timeout timeout) = 0;
  virtual ipc::Result<wsv::DescribeWorkflowExecutionResponse> Describe(
      wsv::DescribeWorkflowExecutionRequest request, Timeout timeout) = 0;
  // Every event of the run, all pages.
  virtual ipc::Result<history_pb::History> FetchHistory(
      wsv::GetWorkflowExecutionHistoryRequest request, Timeout timeout) = 0;
  // Waits for the run to close and returns its close event. With
  // `follow_runs`, a close that hands over to a new run (continue-as-new,
  // retry, cron) is followed to the last run. `execution.run_id` should be
  // set: a history long poll is tied to one run.
  virtual ipc::Result<ClosedRun> AwaitClose(const std::string& namespace_name,
                                            const common_pb::WorkflowExecution& execution,
                                            bool follow_runs, Timeout timeout) = 0;
};

struct TransportOptions {
  // Temporal frontend host:port; when set, the bridge host is not used.
  std::string target;
  // The bridge host's socket; empty means the default one (ipc::DefaultBridgeSocket).
  std::string bridge_socket;
};


// The bridge transport connects (and shakes hands) here, so an unreachable
// bridge host is reported before any command runs; gRPC channels connect on
// their first call.
ipc::Result<std::unique_ptr<Transport>> ConnectTransport(const TransportOptions& options,
                                                         Timeout connect_timeout);

}  // namespace hourglass::cli
