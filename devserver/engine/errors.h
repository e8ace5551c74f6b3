#pragma once

// gRPC statuses the way Temporal shapes them: a code, a message, and typed
// details (temporal.api.errordetails.v1) in grpc-status-details-bin. Codes that
// clients retry (UNAVAILABLE, RESOURCE_EXHAUSTED, ...) are never used for a
// permanent condition.

#include <grpcpp/support/status.h>

#include <google/protobuf/message.h>

#include "temporal/api/failure/v1/message.pb.h"

#include <string>

namespace hourglass::devserver {

grpc::Status StatusWithDetail(grpc::StatusCode code, const std::string& message,
                              const google::protobuf::Message* detail);

inline grpc::Status InvalidArgument(const std::string& message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, message);
}
inline grpc::Status NotFound(const std::string& message) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, message);
}
grpc::Status NamespaceNotFound(const std::string& ns);
grpc::Status NamespaceAlreadyExists(const std::string& ns);
grpc::Status WorkflowAlreadyStarted(const std::string& message, const std::string& start_request_id,
                                    const std::string& run_id);
grpc::Status WorkflowNotReady(const std::string& message);
grpc::Status QueryFailed(const std::string& message,
                         const temporal::api::failure::v1::Failure* failure);

}  // namespace hourglass::devserver
