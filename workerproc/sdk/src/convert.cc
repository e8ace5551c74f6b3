#include "workerproc/sdk/src/convert.h"

#include <cxxabi.h>

#include <cstdlib>
#include <typeinfo>

namespace hourglass::sdk {

common_pb::Payload ToProto(const Payload& payload) {
  common_pb::Payload out;
  for (const auto& [k, v] : payload.metadata) (*out.mutable_metadata())[k] = v;
  out.set_data(payload.data);
  return out;
}

Payload FromProto(const common_pb::Payload& payload) {
  Payload out;
  for (const auto& [k, v] : payload.metadata()) out.metadata[k] = v;
  out.data = payload.data();
  return out;
}

void ToProto(const Payloads& payloads, google::protobuf::RepeatedPtrField<common_pb::Payload>* out) {
  out->Clear();
  for (const auto& p : payloads) *out->Add() = ToProto(p);
}

Payloads FromProto(const google::protobuf::RepeatedPtrField<common_pb::Payload>& payloads) {
  Payloads out;
  out.reserve(payloads.size());
  for (const auto& p : payloads) out.push_back(FromProto(p));
  return out;
}

std::map<std::string, Payload> FromProto(const google::protobuf::Map<std::string, common_pb::Payload>& fields) {
  std::map<std::string, Payload> out;
  for (const auto& [k, v] : fields) out[k] = FromProto(v);
  return out;
}

void ToProto(const std::map<std::string, Payload>& fields,
             google::protobuf::Map<std::string, common_pb::Payload>* out) {
  for (const auto& [k, v] : fields) (*out)[k] = ToProto(v);
}

std::map<std::string, Payload> JsonFields(const std::map<std::string, nlohmann::json>& fields) {
  std::map<std::string, Payload> out;
  for (const auto& [k, v] : fields) out[k] = JsonPayload(v);
  return out;
}

google::protobuf::Duration ToProto(Duration d) {
  google::protobuf::Duration out;
  out.set_seconds(d.count() / 1000);
  out.set_nanos(static_cast<int32_t>((d.count() % 1000) * 1000000));
  return out;
}

Duration FromProto(const google::protobuf::Duration& d) {
  return Duration(d.seconds() * 1000 + d.nanos() / 1000000);
}

std::chrono::system_clock::time_point FromProto(const google::protobuf::Timestamp& t) {
  return std::chrono::system_clock::time_point(std::chrono::duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(t.seconds()) + std::chrono::nanoseconds(t.nanos())));
}

common_pb::RetryPolicy ToProto(const RetryPolicy& policy) {
  common_pb::RetryPolicy out;
  if (policy.initial_interval.count() > 0) *out.mutable_initial_interval() = ToProto(policy.initial_interval);
  out.set_backoff_coefficient(policy.backoff_coefficient);
  if (policy.maximum_interval.count() > 0) *out.mutable_maximum_interval() = ToProto(policy.maximum_interval);
  out.set_maximum_attempts(policy.maximum_attempts);
  for (const auto& t : policy.non_retryable_error_types) out.add_non_retryable_error_types(t);
  return out;
}

namespace {

TimeoutType TimeoutTypeFromProto(temporal::api::enums::v1::TimeoutType t) {
  using enum temporal::api::enums::v1::TimeoutType;
  switch (t) {
    case TIMEOUT_TYPE_START_TO_CLOSE: return TimeoutType::kStartToClose;
    case TIMEOUT_TYPE_SCHEDULE_TO_START: return TimeoutType::kScheduleToStart;
    case TIMEOUT_TYPE_SCHEDULE_TO_CLOSE: return TimeoutType::kScheduleToClose;
    case TIMEOUT_TYPE_HEARTBEAT: return TimeoutType::kHeartbeat;
    default: return TimeoutType::kUnspecified;
  }
}

temporal::api::enums::v1::TimeoutType TimeoutTypeToProto(TimeoutType t) {
  using enum temporal::api::enums::v1::TimeoutType;
  switch (t) {
    case TimeoutType::kStartToClose: return TIMEOUT_TYPE_START_TO_CLOSE;
    case TimeoutType::kScheduleToStart: return TIMEOUT_TYPE_SCHEDULE_TO_START;
    case TimeoutType::kScheduleToClose: return TIMEOUT_TYPE_SCHEDULE_TO_CLOSE;
    case TimeoutType::kHeartbeat: return TIMEOUT_TYPE_HEARTBEAT;
    case TimeoutType::kUnspecified: break;
  }
  return TIMEOUT_TYPE_UNSPECIFIED;
}

std::string Demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = (status == 0 && out != nullptr) ? out : name;
  std::free(out);
  return result;
}

}  // namespace

failure_pb::Failure FailureToProto(const Failure& failure) {
  failure_pb::Failure out;
  out.set_message(failure.message());
  out.set_source(kFailureSource);
  out.set_stack_trace(failure.stack_trace());
  if (failure.cause()) *out.mutable_cause() = FailureToProto(*failure.cause());
  if (const auto* app = dynamic_cast<const ApplicationError*>(&failure)) {
    auto* info = out.mutable_application_failure_info();
    info->set_type(app->type());
    info->set_non_retryable(app->non_retryable());
    ToProto(app->details(), info->mutable_details()->mutable_payloads());
    if (app->next_retry_delay()) *info->mutable_next_retry_delay() = ToProto(*app->next_retry_delay());
  } else if (const auto* c = dynamic_cast<const CancelledError*>(&failure)) {
    ToProto(c->details(), out.mutable_canceled_failure_info()->mutable_details()->mutable_payloads());
  } else if (const auto* t = dynamic_cast<const TimeoutError*>(&failure)) {
    auto* info = out.mutable_timeout_failure_info();
    info->set_timeout_type(TimeoutTypeToProto(t->timeout_type()));
    ToProto(t->last_heartbeat_details(), info->mutable_last_heartbeat_details()->mutable_payloads());
  } else if (dynamic_cast<const TerminatedError*>(&failure) != nullptr) {
    out.mutable_terminated_failure_info();
  } else if (const auto* s = dynamic_cast<const ServerError*>(&failure)) {
    out.mutable_server_failure_info()->set_non_retryable(s->non_retryable());
  } else if (const auto* a = dynamic_cast<const ActivityError*>(&failure)) {
    auto* info = out.mutable_activity_failure_info();
    info->mutable_activity_type()->set_name(a->info().activity_type);
    info->set_activity_id(a->info().activity_id);
    info->set_identity(a->info().identity);
    info->set_scheduled_event_id(a->info().scheduled_event_id);
    info->set_started_event_id(a->info().started_event_id);
    info->set_retry_state(static_cast<temporal::api::enums::v1::RetryState>(a->info().retry_state));
  } else if (const auto* ch = dynamic_cast<const ChildWorkflowError*>(&failure)) {
    auto* info = out.mutable_child_workflow_execution_failure_info();
    info->set_namespace_(ch->info().namespace_name);
    info->mutable_workflow_execution()->set_workflow_id(ch->info().workflow_id);
    info->mutable_workflow_execution()->set_run_id(ch->info().run_id);
    info->mutable_workflow_type()->set_name(ch->info().workflow_type);
    info->set_initiated_event_id(ch->info().initiated_event_id);
    info->set_started_event_id(ch->info().started_event_id);
    info->set_retry_state(static_cast<temporal::api::enums::v1::RetryState>(ch->info().retry_state));
  } else if (dynamic_cast<const WorkflowAlreadyStartedError*>(&failure) != nullptr) {
    auto* info = out.mutable_application_failure_info();
    info->set_type("WorkflowExecutionAlreadyStarted");
    info->set_non_retryable(true);
  }
  return out;
}

std::exception_ptr FailureExceptionFromProto(const failure_pb::Failure& proto) {
  try {
    FailureFromProto(proto)->Throw();  // [[noreturn]]: rethrows as the most derived type
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;  // unreachable; keeps the compiler's flow analysis content
}

std::string ExceptionTypeName(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return Demangle(typeid(e).name());
  } catch (...) {
    const std::type_info* t = abi::__cxa_current_exception_type();
    return t != nullptr ? Demangle(t->name()) : "unknown";
  }
}

std::string ExceptionMessage(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "non-standard exception of type " + ExceptionTypeName(std::current_exception());
  }
}

failure_pb::Failure ExceptionToProto(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const Failure& f) {
    return FailureToProto(f);
  } catch (...) {
    failure_pb::Failure out;
    out.set_message(ExceptionMessage(error));
    out.set_source(kFailureSource);
    out.mutable_application_failure_info()->set_type(ExceptionTypeName(error));
    return out;
  }
}

std::shared_ptr<const Failure> FailureFromProto(const failure_pb::Failure& proto) {
  std::shared_ptr<const Failure> cause = proto.has_cause() ? FailureFromProto(proto.cause()) : nullptr;
  std::shared_ptr<Failure> out;
  const std::string& message = proto.message();
  if (proto.has_application_failure_info()) {
    const auto& info = proto.application_failure_info();
    ApplicationError::Options options;
    options.type = info.type();
    options.non_retryable = info.non_retryable();
    options.details = FromProto(info.details().payloads());
    if (info.has_next_retry_delay()) options.next_retry_delay = FromProto(info.next_retry_delay());
    options.cause = cause;
    out = std::make_shared<ApplicationError>(message, std::move(options));
  } else if (proto.has_canceled_failure_info()) {
    out = std::make_shared<CancelledError>(message, FromProto(proto.canceled_failure_info().details().payloads()));
  } else if (proto.has_timeout_failure_info()) {
    const auto& info = proto.timeout_failure_info();
    out = std::make_shared<TimeoutError>(message, TimeoutTypeFromProto(info.timeout_type()),
                                         FromProto(info.last_heartbeat_details().payloads()));
  } else if (proto.has_terminated_failure_info()) {
    out = std::make_shared<TerminatedError>(message);
  } else if (proto.has_server_failure_info()) {
    out = std::make_shared<ServerError>(message, proto.server_failure_info().non_retryable());
  } else if (proto.has_activity_failure_info()) {
    const auto& info = proto.activity_failure_info();
    ActivityError::Info ai{info.activity_type().name(), info.activity_id(),        info.identity(),
                           info.scheduled_event_id(),   info.started_event_id(), static_cast<int>(info.retry_state())};
    out = std::make_shared<ActivityError>(message.empty() ? "activity failed" : message, std::move(ai), cause);
  } else if (proto.has_child_workflow_execution_failure_info()) {
    const auto& info = proto.child_workflow_execution_failure_info();
    ChildWorkflowError::Info ci{info.namespace_(),
                                info.workflow_execution().workflow_id(),
                                info.workflow_execution().run_id(),
                                info.workflow_type().name(),
                                info.initiated_event_id(),
                                info.started_event_id(),
                                static_cast<int>(info.retry_state())};
    out = std::make_shared<ChildWorkflowError>(message.empty() ? "child workflow failed" : message, std::move(ci),
                                               cause);
  } else {
    // Unknown or absent info: keep the message, as an application failure.
    ApplicationError::Options options;
    options.cause = cause;
    out = std::make_shared<ApplicationError>(message, std::move(options));
  }
  out->set_stack_trace(proto.stack_trace());
  return out;
}

}  // namespace hourglass::sdk
