#include "cli/output.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <cctype>
#include <string_view>

#include "cli/close_event.h"
#include "cli/payload_proto.h"

namespace hourglass::cli {

namespace enums = ::temporal::api::enums::v1;
namespace failure_pb = ::temporal::api::failure::v1;
using google::protobuf::util::TimeUtil;

namespace {

std::string StripPrefix(std::string name, std::string_view prefix) {
  if (std::string_view(name).starts_with(prefix)) name.erase(0, prefix.size());
  return name;
}

// Null for an unset timestamp, so "not closed yet" reads as null, not 1970.
Json TimeOrNull(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return nullptr;
  return TimeUtil::ToString(t);
}

// Names of the failure kinds as the official SDKs spell their exception classes.
std::string FailureType(const failure_pb::Failure& f) {
  switch (f.failure_info_case()) {
    case failure_pb::Failure::kApplicationFailureInfo:
      return f.application_failure_info().type();
    case failure_pb::Failure::kTimeoutFailureInfo:
      return "TimeoutFailure";
    case failure_pb::Failure::kCanceledFailureInfo:
      return "CanceledFailure";
    case failure_pb::Failure::kTerminatedFailureInfo:
      return "TerminatedFailure";
    case failure_pb::Failure::kServerFailureInfo:
      return "ServerFailure";
    case failure_pb::Failure::kResetWorkflowFailureInfo:
      return "ResetWorkflowFailure";
    case failure_pb::Failure::kActivityFailureInfo:
      return "ActivityFailure";
    case failure_pb::Failure::kChildWorkflowExecutionFailureInfo:
      return "ChildWorkflowFailure";
    default:
      return "Failure";
  }
}

// A failure the server writes without a Failure message (terminate, cancel,
// timeout), in the same shape as one that has it.
Json SyntheticFailure(const std::string& message, const std::string& type) {
  return {{"message", message}, {"type", type}, {"non_retryable", false}, {"cause", nullptr}};
}

}  // namespace

Json FailureToOutput(const failure_pb::Failure& failure) {
  const bool non_retryable =
      (failure.has_application_failure_info() &&
       failure.application_failure_info().non_retryable()) ||
      (failure.has_server_failure_info() && failure.server_failure_info().non_retryable());
  return {{"message", failure.message()},
          {"type", FailureType(failure)},
          {"non_retryable", non_retryable},
          {"cause", failure.has_cause() ? FailureToOutput(failure.cause()) : nullptr}};
}

Json ClosedRunToOutput(const std::string& workflow_id, const ClosedRun& run) {
  const auto& e = run.close_event;
  Json out = {{"workflow_id", workflow_id},
              {"run_id", run.run_id},
              {"status", CloseStatus(e)},
              {"result", nullptr},
              {"failure", nullptr}};
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      out["result"] = PayloadsToOutput(e.workflow_execution_completed_event_attributes().result());
      break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      out["failure"] = FailureToOutput(e.workflow_execution_failed_event_attributes().failure());
      break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      out["failure"] = SyntheticFailure("workflow canceled", "CanceledFailure");
      out["failure"]["details"] =
          PayloadsToOutput(e.workflow_execution_canceled_event_attributes().details());
      break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED: {
      const std::string& reason = e.workflow_execution_terminated_event_attributes().reason();
      out["failure"] =
          SyntheticFailure(reason.empty() ? "workflow terminated" : reason, "TerminatedFailure");
      break;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      out["failure"] = SyntheticFailure("workflow timed out", "TimeoutFailure");
      break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      // Only seen with --no-follow: say where the workflow went on.
      out["new_run_id"] =
          e.workflow_execution_continued_as_new_event_attributes().new_execution_run_id();
      break;
    default:
      break;
  }
  return out;
}

Json DescribeToOutput(const wsv::DescribeWorkflowExecutionResponse& response) {
  const auto& info = response.workflow_execution_info();
  return {{"workflow_id", info.execution().workflow_id()},
          {"run_id", info.execution().run_id()},
          {"type", info.type().name()},
          {"task_queue", info.task_queue().empty() ? response.execution_config().task_queue().name()
                                                   : info.task_queue()},
          {"status", StripPrefix(enums::WorkflowExecutionStatus_Name(info.status()),
                                 "WORKFLOW_EXECUTION_STATUS_")},
          {"start_time", TimeOrNull(info.start_time())},
          {"execution_time", TimeOrNull(info.execution_time())},
          {"close_time", TimeOrNull(info.close_time())},
          {"history_length", info.history_length()}};
}

std::string EventTypeName(enums::EventType type) {
  const std::string upper = StripPrefix(enums::EventType_Name(type), "EVENT_TYPE_");
  std::string out;
  bool word_start = true;
  for (char c : upper) {
    if (c == '_') {
      word_start = true;
      continue;
    }
    out.push_back(word_start ? c : static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    word_start = false;
  }
  return out;
}

Json HistoryToOutput(const history_pb::History& history, bool full) {
  Json events = Json::array();
  for (const auto& e : history.events()) {
    if (full) {
      std::string json;
      // Printing a message protobuf itself produced cannot fail; the status is
      // checked anyway so a surprise shows as an event, not a crash.
      if (auto st = google::protobuf::util::MessageToJsonString(e, &json); !st.ok()) {
        events.push_back({{"event_id", e.event_id()}, {"error", std::string(st.message())}});
        continue;
      }
      events.push_back(Json::parse(json));
      continue;
    }
    events.push_back({{"event_id", e.event_id()},
                      {"event_type", EventTypeName(e.event_type())},
                      {"event_time", TimeOrNull(e.event_time())}});
  }
  return {{"events", std::move(events)}};
}

}  // namespace hourglass::cli
