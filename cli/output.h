#pragma once

// The JSON each command prints: one object per command, stable field names
// (docs/cli.md), payloads decoded through the SDK's converter.

#include <string>

#include "cli/payload_proto.h"
#include "cli/transport.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace hourglass::cli {

// {"message","type","non_retryable","cause"}; type is the application
// failure's type, or the failure's kind as the SDKs name it ("TimeoutFailure").
Json FailureToOutput(const ::temporal::api::failure::v1::Failure& failure);

// {"workflow_id","run_id","status","result","failure"} for a closed run.
Json ClosedRunToOutput(const std::string& workflow_id, const ClosedRun& run);

// Status, type, task queue, start/execution/close times, history length.
Json DescribeToOutput(const wsv::DescribeWorkflowExecutionResponse& response);

// {"events":[{"event_id","event_type","event_time"}...]}, or with `full`
// every event whole, as protobuf JSON.
Json HistoryToOutput(const history_pb::History& history, bool full);

// "WorkflowExecutionSignaled" for EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED, the
// spelling Temporal's own tools print.
std::string EventTypeName(::temporal::api::enums::v1::EventType type);

}  // namespace hourglass::cli
