#include "bridgehost/grpc_errors.h"

#include "google/rpc/status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace hourglass::bridgehost {

namespace v1 = ::hourglass::ipc::v1;

ipc::Error ToIpcError(const grpc::Status& status, const char* what) {
  v1::ErrorKind kind;
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      kind = v1::ERROR_KIND_NOT_FOUND;
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      kind = v1::ERROR_KIND_ALREADY_STARTED;
      break;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DATA_LOSS:
      kind = v1::ERROR_KIND_UNAVAILABLE;
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      kind = v1::ERROR_KIND_DEADLINE_EXCEEDED;
      break;
    default:  // INVALID_ARGUMENT, FAILED_PRECONDITION, UNIMPLEMENTED, PERMISSION_DENIED, ...
      kind = v1::ERROR_KIND_INVALID_ARGUMENT;
      break;
  }
  ipc::Error error = ipc::MakeError(kind, std::string(what) + ": " + status.error_message());
  error.set_grpc_code(static_cast<int>(status.error_code()));
  if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS) error.set_run_id(AlreadyStartedRunId(status));
  return error;
}

std::string AlreadyStartedRunId(const grpc::Status& status) {
  google::rpc::Status details;
  if (status.error_details().empty() || !details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    temporal::api::errordetails::v1::WorkflowExecutionAlreadyStartedFailure started;
    if (any.UnpackTo(&started)) return started.run_id();
  }
  return "";
}

}  // namespace hourglass::bridgehost
