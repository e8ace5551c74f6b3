#include "devserver/engine/errors.h"

#include <google/protobuf/any.pb.h>

#include "google/rpc/status.pb.h"
#include "temporal/api/errordetails/v1/message.pb.h"

namespace hourglass::devserver {

namespace details = temporal::api::errordetails::v1;

grpc::Status StatusWithDetail(grpc::StatusCode code, const std::string& message,
                              const google::protobuf::Message* detail) {
  google::rpc::Status status;
  status.set_code(static_cast<int>(code));
  status.set_message(message);
  if (detail != nullptr) status.add_details()->PackFrom(*detail);
  return grpc::Status(code, message, status.SerializeAsString());
}

grpc::Status NamespaceNotFound(const std::string& ns) {
  details::NamespaceNotFoundFailure d;
  d.set_namespace_(ns);
  return StatusWithDetail(grpc::StatusCode::NOT_FOUND, "Namespace " + ns + " is not found.", &d);
}

grpc::Status NamespaceAlreadyExists(const std::string& ns) {
  details::NamespaceAlreadyExistsFailure d;
  return StatusWithDetail(grpc::StatusCode::ALREADY_EXISTS, "Namespace " + ns + " already exists.",
                          &d);
}

grpc::Status WorkflowAlreadyStarted(const std::string& message, const std::string& start_request_id,
                                    const std::string& run_id) {
  details::WorkflowExecutionAlreadyStartedFailure d;
  d.set_start_request_id(start_request_id);
  d.set_run_id(run_id);
  return StatusWithDetail(grpc::StatusCode::ALREADY_EXISTS, message, &d);
}

grpc::Status WorkflowNotReady(const std::string& message) {
  details::WorkflowNotReadyFailure d;
  return StatusWithDetail(grpc::StatusCode::FAILED_PRECONDITION, message, &d);
}

grpc::Status QueryFailed(const std::string& message,
                         const temporal::api::failure::v1::Failure* failure) {
  details::QueryFailedFailure d;
  if (failure != nullptr) *d.mutable_failure() = *failure;
  return StatusWithDetail(grpc::StatusCode::INVALID_ARGUMENT, message, &d);
}

}  // namespace hourglass::devserver
