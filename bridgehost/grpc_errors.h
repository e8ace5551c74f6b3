#pragma once

// Temporal's gRPC statuses as the IPC protocol's typed errors
// (docs/ipc-protocol.md, "Errors"). The gRPC code is kept in Error.grpc_code.

#include <grpcpp/support/status.h>

#include <string>

#include "ipc/result.h"

namespace hourglass::bridgehost {

ipc::Error ToIpcError(const grpc::Status& status, const char* what);

// The run id an ALREADY_EXISTS status names in its
// WorkflowExecutionAlreadyStartedFailure detail, or "".
std::string AlreadyStartedRunId(const grpc::Status& status);

}  // namespace hourglass::bridgehost
