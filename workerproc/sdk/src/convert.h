#pragma once

// Between the SDK's public types and the wire protos (Temporal API and Core).
// Kept out of the public headers so user code never needs protobuf.

#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <string>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/map.h>
#include <google/protobuf/repeated_ptr_field.h>
#include <google/protobuf/timestamp.pb.h>

#include "hourglass/failure.h"
#include "hourglass/payload.h"
#include "hourglass/workflow.h"
#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace hourglass::sdk {

namespace common_pb = ::temporal::api::common::v1;
namespace failure_pb = ::temporal::api::failure::v1;

common_pb::Payload ToProto(const Payload& payload);
Payload FromProto(const common_pb::Payload& payload);
void ToProto(const Payloads& payloads, google::protobuf::RepeatedPtrField<common_pb::Payload>* out);
Payloads FromProto(const google::protobuf::RepeatedPtrField<common_pb::Payload>& payloads);
std::map<std::string, Payload> FromProto(const google::protobuf::Map<std::string, common_pb::Payload>& fields);
void ToProto(const std::map<std::string, Payload>& fields, google::protobuf::Map<std::string, common_pb::Payload>* out);
// JSON values as json/plain payloads (memo, search attributes).
std::map<std::string, Payload> JsonFields(const std::map<std::string, nlohmann::json>& fields);

google::protobuf::Duration ToProto(Duration d);
Duration FromProto(const google::protobuf::Duration& d);
std::chrono::system_clock::time_point FromProto(const google::protobuf::Timestamp& t);

common_pb::RetryPolicy ToProto(const RetryPolicy& policy);

// The source every failure we produce is stamped with.
inline constexpr const char* kFailureSource = "HourglassCppSDK";

failure_pb::Failure FailureToProto(const Failure& failure);
// Any exception: a Failure keeps its kind; anything else becomes an
// application failure whose type is the exception's C++ type name.
failure_pb::Failure ExceptionToProto(std::exception_ptr error);
std::shared_ptr<const Failure> FailureFromProto(const failure_pb::Failure& proto);
// The same, as a thrown exception of its most derived type (for a Future).
std::exception_ptr FailureExceptionFromProto(const failure_pb::Failure& proto);

// The demangled name of the exception's type ("std::runtime_error").
std::string ExceptionTypeName(std::exception_ptr error);
std::string ExceptionMessage(std::exception_ptr error);

}  // namespace hourglass::sdk
