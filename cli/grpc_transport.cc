#include "cli/grpc_transport.h"

#include <algorithm>

#include "bridgehost/grpc_errors.h"
#include "cli/close_event.h"

namespace hourglass::cli {

namespace v1 = ::hourglass::ipc::v1;
namespace enums = ::temporal::api::enums::v1;
using Clock = std::chrono::system_clock;

namespace {

// Above the frontend's 20 s history long-poll interval (it answers an empty
// page then), so a healthy long poll never hits this deadline.
constexpr std::chrono::seconds kLongPollCap{70};

// The bridge host's error kinds, so one mapping to exit codes serves both
// transports. The gRPC code is kept, as the bridge host keeps it.
ipc::Error FromGrpc(const grpc::Status& status, const std::string& what,
                    const std::string& target) {
  v1::ErrorKind kind;
  switch (status.error_code()) {
    case grpc::StatusCode::NOT_FOUND:
      kind = v1::ERROR_KIND_NOT_FOUND;
      break;
    case grpc::StatusCode::ALREADY_EXISTS:
      kind = v1::ERROR_KIND_ALREADY_STARTED;
      break;
    case grpc::StatusCode::UNAVAILABLE:
      kind = v1::ERROR_KIND_UNAVAILABLE;
      break;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      kind = v1::ERROR_KIND_DEADLINE_EXCEEDED;
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::OUT_OF_RANGE:
      kind = v1::ERROR_KIND_INVALID_ARGUMENT;
      break;
    default:
      kind = v1::ERROR_KIND_INTERNAL;
      break;
  }
  ipc::Error error =
      ipc::MakeError(kind, what + " at " + target + ": " + status.error_message() + " (gRPC code " +
                               std::to_string(static_cast<int>(status.error_code())) + ")");
  error.set_grpc_code(static_cast<int>(status.error_code()));
  if (kind == v1::ERROR_KIND_ALREADY_STARTED) error.set_run_id(bridgehost::AlreadyStartedRunId(status));
  return error;
}

// Zero means no deadline, as for the bridge host.
void SetDeadline(grpc::ClientContext& context, Timeout timeout) {
  if (timeout.count() > 0) context.set_deadline(Clock::now() + timeout);
}

// One unary call with its deadline, failures typed.
template <typename Request, typename Response, typename Method>
ipc::Result<Response> Unary(wsv::WorkflowService::Stub& stub, const std::string& target,
                            Method method, const Request& request, Timeout timeout,
                            const char* what) {
  grpc::ClientContext context;
  SetDeadline(context, timeout);
  Response response;
  const grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return FromGrpc(status, what, target);
  return response;
}

}  // namespace

GrpcTransport::GrpcTransport(const std::string& target)
    : target_(target),
      stub_(wsv::WorkflowService::NewStub(
          grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {}

ipc::Result<wsv::StartWorkflowExecutionResponse> GrpcTransport::Start(
    wsv::StartWorkflowExecutionRequest request, Timeout timeout) {
  return Unary<wsv::StartWorkflowExecutionRequest, wsv::StartWorkflowExecutionResponse>(
      *stub_, target_, &wsv::WorkflowService::Stub::StartWorkflowExecution, request, timeout,
      "StartWorkflowExecution");
}

ipc::Status GrpcTransport::Signal(wsv::SignalWorkflowExecutionRequest request, Timeout timeout) {
  auto r = Unary<wsv::SignalWorkflowExecutionRequest, wsv::SignalWorkflowExecutionResponse>(
      *stub_, target_, &wsv::WorkflowService::Stub::SignalWorkflowExecution, request, timeout,
      "SignalWorkflowExecution");
  if (!r) return r.error();
  return ipc::OkStatus();
}

ipc::Status GrpcTransport::Cancel(wsv::RequestCancelWorkflowExecutionRequest request,
                                  Timeout timeout) {
  auto r = Unary<wsv::RequestCancelWorkflowExecutionRequest,
                 wsv::RequestCancelWorkflowExecutionResponse>(
      *stub_, target_, &wsv::WorkflowService::Stub::RequestCancelWorkflowExecution, request,
      timeout, "RequestCancelWorkflowExecution");
  if (!r) return r.error();
  return ipc::OkStatus();
}

ipc::Status GrpcTransport::Terminate(wsv::TerminateWorkflowExecutionRequest request,
                                     Timeout timeout) {
  auto r = Unary<wsv::TerminateWorkflowExecutionRequest, wsv::TerminateWorkflowExecutionResponse>(
      *stub_, target_, &wsv::WorkflowService::Stub::TerminateWorkflowExecution, request, timeout,
      "TerminateWorkflowExecution");
  if (!r) return r.error();
  return ipc::OkStatus();
}

ipc::Result<wsv::DescribeWorkflowExecutionResponse> GrpcTransport::Describe(
    wsv::DescribeWorkflowExecutionRequest request, Timeout timeout) {
  return Unary<wsv::DescribeWorkflowExecutionRequest, wsv::DescribeWorkflowExecutionResponse>(
      *stub_, target_, &wsv::WorkflowService::Stub::DescribeWorkflowExecution, request, timeout,
      "DescribeWorkflowExecution");
}

ipc::Result<history_pb::History> GrpcTransport::FetchHistory(
    wsv::GetWorkflowExecutionHistoryRequest request, Timeout timeout) {
  // One deadline for all pages: --timeout bounds the command, not each page.
  const auto deadline = Clock::now() + timeout;
  request.set_wait_new_event(false);
  history_pb::History history;
  for (;;) {
    grpc::ClientContext context;
    if (timeout.count() > 0) context.set_deadline(deadline);
    wsv::GetWorkflowExecutionHistoryResponse page;
    const grpc::Status status = stub_->GetWorkflowExecutionHistory(&context, request, &page);
    if (!status.ok()) return FromGrpc(status, "GetWorkflowExecutionHistory", target_);
    for (auto& e : *page.mutable_history()->mutable_events()) *history.add_events() = std::move(e);
    if (page.next_page_token().empty()) return history;
    request.set_next_page_token(page.next_page_token());
  }
}

ipc::Result<ClosedRun> GrpcTransport::AwaitClose(const std::string& namespace_name,
                                                 const common_pb::WorkflowExecution& execution,
                                                 bool follow_runs, Timeout timeout) {
  const bool bounded = timeout.count() > 0;
  const auto deadline = Clock::now() + timeout;
  wsv::GetWorkflowExecutionHistoryRequest request;
  request.set_namespace_(namespace_name);
  *request.mutable_execution() = execution;
  request.set_wait_new_event(true);
  request.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
  for (;;) {
    const auto now = Clock::now();
    if (bounded && now >= deadline) {
      return ipc::MakeError(v1::ERROR_KIND_DEADLINE_EXCEEDED,
                            "the workflow did not close within --timeout");
    }
    auto poll_deadline = now + kLongPollCap;
    if (bounded) poll_deadline = std::min(poll_deadline, deadline);
    grpc::ClientContext context;
    context.set_deadline(poll_deadline);
    wsv::GetWorkflowExecutionHistoryResponse page;
    const grpc::Status status = stub_->GetWorkflowExecutionHistory(&context, request, &page);
    if (!status.ok()) {
      // Our own per-poll cap passing is not an error; the loop re-checks the
      // caller's deadline.
      if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) continue;
      return FromGrpc(status, "GetWorkflowExecutionHistory (await result)", target_);
    }
    std::string next_run;
    for (const auto& event : page.history().events()) {
      if (CloseStatus(event).empty()) continue;
      if (follow_runs) next_run = NextRunId(event);
      if (next_run.empty()) return ClosedRun{request.execution().run_id(), event};
      break;
    }
    if (!next_run.empty()) {
      // Start over on the new run; the old page token belongs to the old run.
      request.mutable_execution()->set_run_id(next_run);
      request.clear_next_page_token();
    } else {
      // The poll interval passed with the run still open: poll on from here.
      request.set_next_page_token(page.next_page_token());
    }
  }
}

}  // namespace hourglass::cli
