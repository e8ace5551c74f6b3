#include "bridgehost/client_requests.h"

#include <algorithm>
#include <chrono>
#include <random>

#include "bridgehost/core/history_chunker.h"
#include "bridgehost/grpc_errors.h"

namespace hourglass::bridgehost {

namespace v1 = ::hourglass::ipc::v1;
namespace hist = ::temporal::api::history::v1;
namespace enums = ::temporal::api::enums::v1;
using Async = wsv::WorkflowService::StubInterface::async_interface;
using SharedResponder = std::shared_ptr<ipc::Responder>;

namespace {

// A request id, so that the retries of one call are one request to Temporal.
std::string NewRequestId() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

// Forwards one RPC and answers with `fill(response)`.
template <typename Req, typename Resp, typename Fill>
void Forward(Runtime& runtime, AsyncMethod<Req, Resp> method, Req request, CallOptions options,
             SharedResponder responder, const char* what, Fill fill) {
  runtime.Call(method, std::move(request), options,
               [responder, what, fill](grpc::Status status, Resp resp) {
                 if (!status.ok()) {
                   responder->ReplyError(ToIpcError(status, what));
                   return;
                 }
                 v1::Response out;
                 fill(out, std::move(resp));
                 responder->Reply(std::move(out));
               });
}

// The run a close event hands over to, when it does (continue-as-new, retry).
std::string NextRunId(const hist::HistoryEvent& e) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
      return e.workflow_execution_completed_event_attributes().new_execution_run_id();
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
      return e.workflow_execution_failed_event_attributes().new_execution_run_id();
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      return e.workflow_execution_timed_out_event_attributes().new_execution_run_id();
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return e.workflow_execution_continued_as_new_event_attributes().new_execution_run_id();
    default:
      return "";
  }
}

// A request's timeout_ms as a duration: at most a year, so a peer's
// absurd value (up to 2^64 - 1) cannot overflow the deadline arithmetic.
std::chrono::milliseconds RequestTimeout(uint64_t timeout_ms) {
  constexpr uint64_t kMaxMs = uint64_t{365} * 24 * 3600 * 1000;
  return std::chrono::milliseconds(static_cast<int64_t>(std::min(timeout_ms, kMaxMs)));
}

}  // namespace

std::string ClientRequests::NamespaceOr(const std::string& ns) const {
  return ns.empty() ? runtime_.options().namespace_name : ns;
}

CallOptions ClientRequests::OptionsFor(const v1::Request& request) const {
  CallOptions options;
  if (request.timeout_ms() > 0) options.timeout = RequestTimeout(request.timeout_ms());
  return options;
}

bool ClientRequests::Handle(v1::Request& request, ipc::Responder& responder_ref) {
  const CallOptions options = OptionsFor(request);
  const std::string identity = runtime_.identity();
  auto take = [&] { return std::make_shared<ipc::Responder>(std::move(responder_ref)); };
  switch (request.kind_case()) {
    case v1::Request::kStartWorkflow: {
      auto req = std::move(*request.mutable_start_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      if (req.identity().empty()) req.set_identity(identity);
      if (req.request_id().empty()) req.set_request_id(NewRequestId());
      AsyncMethod<wsv::StartWorkflowExecutionRequest, wsv::StartWorkflowExecutionResponse> m =
          &Async::StartWorkflowExecution;
      Forward(runtime_, m, std::move(req), options, take(), "StartWorkflowExecution",
              [](v1::Response& out, wsv::StartWorkflowExecutionResponse r) {
                *out.mutable_start_workflow()->mutable_response() = std::move(r);
              });
      return true;
    }
    case v1::Request::kSignalWorkflow: {
      auto req = std::move(*request.mutable_signal_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      if (req.identity().empty()) req.set_identity(identity);
      if (req.request_id().empty()) req.set_request_id(NewRequestId());
      AsyncMethod<wsv::SignalWorkflowExecutionRequest, wsv::SignalWorkflowExecutionResponse> m =
          &Async::SignalWorkflowExecution;
      Forward(runtime_, m, std::move(req), options, take(), "SignalWorkflowExecution",
              [](v1::Response& out, wsv::SignalWorkflowExecutionResponse) {
                out.mutable_signal_workflow();
              });
      return true;
    }
    case v1::Request::kSignalWithStartWorkflow: {
      auto req = std::move(*request.mutable_signal_with_start_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      if (req.identity().empty()) req.set_identity(identity);
      if (req.request_id().empty()) req.set_request_id(NewRequestId());
      AsyncMethod<wsv::SignalWithStartWorkflowExecutionRequest,
                  wsv::SignalWithStartWorkflowExecutionResponse>
          m = &Async::SignalWithStartWorkflowExecution;
      Forward(runtime_, m, std::move(req), options, take(), "SignalWithStartWorkflowExecution",
              [](v1::Response& out, wsv::SignalWithStartWorkflowExecutionResponse r) {
                *out.mutable_signal_with_start_workflow()->mutable_response() = std::move(r);
              });
      return true;
    }
    case v1::Request::kCancelWorkflow: {
      auto req = std::move(*request.mutable_cancel_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      if (req.identity().empty()) req.set_identity(identity);
      if (req.request_id().empty()) req.set_request_id(NewRequestId());
      AsyncMethod<wsv::RequestCancelWorkflowExecutionRequest,
                  wsv::RequestCancelWorkflowExecutionResponse>
          m = &Async::RequestCancelWorkflowExecution;
      Forward(runtime_, m, std::move(req), options, take(), "RequestCancelWorkflowExecution",
              [](v1::Response& out, wsv::RequestCancelWorkflowExecutionResponse) {
                out.mutable_cancel_workflow();
              });
      return true;
    }
    case v1::Request::kTerminateWorkflow: {
      auto req = std::move(*request.mutable_terminate_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      if (req.identity().empty()) req.set_identity(identity);
      AsyncMethod<wsv::TerminateWorkflowExecutionRequest, wsv::TerminateWorkflowExecutionResponse>
          m = &Async::TerminateWorkflowExecution;
      Forward(runtime_, m, std::move(req), options, take(), "TerminateWorkflowExecution",
              [](v1::Response& out, wsv::TerminateWorkflowExecutionResponse) {
                out.mutable_terminate_workflow();
              });
      return true;
    }
    case v1::Request::kDescribeWorkflow: {
      auto req = std::move(*request.mutable_describe_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      AsyncMethod<wsv::DescribeWorkflowExecutionRequest, wsv::DescribeWorkflowExecutionResponse> m =
          &Async::DescribeWorkflowExecution;
      Forward(runtime_, m, std::move(req), options, take(), "DescribeWorkflowExecution",
              [](v1::Response& out, wsv::DescribeWorkflowExecutionResponse r) {
                *out.mutable_describe_workflow()->mutable_response() = std::move(r);
              });
      return true;
    }
    case v1::Request::kQueryWorkflow: {
      auto req = std::move(*request.mutable_query_workflow()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      AsyncMethod<wsv::QueryWorkflowRequest, wsv::QueryWorkflowResponse> m = &Async::QueryWorkflow;
      Forward(runtime_, m, std::move(req), options, take(), "QueryWorkflow",
              [](v1::Response& out, wsv::QueryWorkflowResponse r) {
                *out.mutable_query_workflow()->mutable_response() = std::move(r);
              });
      return true;
    }
    case v1::Request::kRegisterNamespace: {
      auto req = std::move(*request.mutable_register_namespace()->mutable_request());
      AsyncMethod<wsv::RegisterNamespaceRequest, wsv::RegisterNamespaceResponse> m =
          &Async::RegisterNamespace;
      Forward(runtime_, m, std::move(req), options, take(), "RegisterNamespace",
              [](v1::Response& out, wsv::RegisterNamespaceResponse) {
                out.mutable_register_namespace();
              });
      return true;
    }
    case v1::Request::kDescribeNamespace: {
      auto req = std::move(*request.mutable_describe_namespace()->mutable_request());
      if (req.id().empty()) req.set_namespace_(NamespaceOr(req.namespace_()));
      AsyncMethod<wsv::DescribeNamespaceRequest, wsv::DescribeNamespaceResponse> m =
          &Async::DescribeNamespace;
      Forward(runtime_, m, std::move(req), options, take(), "DescribeNamespace",
              [](v1::Response& out, wsv::DescribeNamespaceResponse r) {
                *out.mutable_describe_namespace()->mutable_response() = std::move(r);
              });
      return true;
    }
    case v1::Request::kFetchHistory: {
      auto req = std::move(*request.mutable_fetch_history()->mutable_request());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      req.set_wait_new_event(false);
      FetchHistory(std::move(req), options, {}, std::move(*take()));
      return true;
    }
    case v1::Request::kAwaitResult: {
      auto req = std::move(*request.mutable_await_result());
      req.set_namespace_(NamespaceOr(req.namespace_()));
      const auto deadline = request.timeout_ms() > 0 ? std::chrono::steady_clock::now() +
                                                           RequestTimeout(request.timeout_ms())
                                                     : std::chrono::steady_clock::time_point::max();
      AwaitResult(std::move(req), deadline, "", std::move(*take()));
      return true;
    }
    case v1::Request::kCompleteActivityAsync:
      CompleteActivityAsync(request.complete_activity_async(), options, std::move(*take()));
      return true;
    default:
      return false;
  }
}

void ClientRequests::FetchHistory(wsv::GetWorkflowExecutionHistoryRequest request,
                                  CallOptions options, hist::History so_far,
                                  ipc::Responder responder) {
  auto shared = std::make_shared<ipc::Responder>(std::move(responder));
  auto history = std::make_shared<hist::History>(std::move(so_far));
  AsyncMethod<wsv::GetWorkflowExecutionHistoryRequest, wsv::GetWorkflowExecutionHistoryResponse> m =
      &Async::GetWorkflowExecutionHistory;
  runtime_.Call(m, request, options,
                [this, request, options, shared, history](
                    grpc::Status st, wsv::GetWorkflowExecutionHistoryResponse r) mutable {
                  if (!st.ok()) {
                    shared->ReplyError(ToIpcError(st, "GetWorkflowExecutionHistory"));
                    return;
                  }
                  for (auto& e : *r.mutable_history()->mutable_events()) {
                    *history->add_events() = std::move(e);
                  }
                  if (!r.next_page_token().empty()) {
                    request.set_next_page_token(r.next_page_token());
                    FetchHistory(std::move(request), options, std::move(*history),
                                 std::move(*shared));
                    return;
                  }
                  v1::Response out;
                  *out.mutable_fetch_history()->mutable_history() = std::move(*history);
                  shared->Reply(std::move(out));
                });
}

void ClientRequests::AwaitResult(v1::AwaitResultRequest request,
                                 std::chrono::steady_clock::time_point deadline,
                                 std::string next_page_token, ipc::Responder responder) {
  auto shared = std::make_shared<ipc::Responder>(std::move(responder));
  if (!shared->Pending()) return;  // the caller gave up
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline) {
    shared->ReplyError(ipc::MakeError(v1::ERROR_KIND_DEADLINE_EXCEEDED,
                                      "the workflow did not close before the deadline"));
    return;
  }
  wsv::GetWorkflowExecutionHistoryRequest req;
  req.set_namespace_(request.namespace_());
  *req.mutable_execution() = request.execution();
  req.set_wait_new_event(true);
  req.set_history_event_filter_type(enums::HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT);
  req.set_next_page_token(next_page_token);
  CallOptions options;
  options.long_poll = true;
  // One long poll at a time; the server answers within its 20 s interval.
  options.timeout = std::min<std::chrono::milliseconds>(
      std::chrono::milliseconds(70000),
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now));
  options.max_attempts = 1 << 20;
  AsyncMethod<wsv::GetWorkflowExecutionHistoryRequest, wsv::GetWorkflowExecutionHistoryResponse> m =
      &Async::GetWorkflowExecutionHistory;
  runtime_.Call(
      m, std::move(req), options,
      [this, request, deadline, shared](grpc::Status st,
                                        wsv::GetWorkflowExecutionHistoryResponse r) mutable {
        if (!st.ok()) {
          shared->ReplyError(ToIpcError(st, "GetWorkflowExecutionHistory (await result)"));
          return;
        }
        for (const auto& e : r.history().events()) {
          if (!core::IsWorkflowClosingEvent(e)) continue;
          const std::string next = NextRunId(e);
          if (request.follow_runs() && !next.empty()) {
            request.mutable_execution()->set_run_id(next);
            AwaitResult(std::move(request), deadline, "", std::move(*shared));
            return;
          }
          v1::Response out;
          out.mutable_await_result()->set_run_id(request.execution().run_id());
          *out.mutable_await_result()->mutable_close_event() = e;
          shared->Reply(std::move(out));
          return;
        }
        // An empty page: the run is still open; poll again from here.
        AwaitResult(std::move(request), deadline, r.next_page_token(), std::move(*shared));
      });
}

void ClientRequests::CompleteActivityAsync(const v1::CompleteActivityAsyncRequest& request,
                                           CallOptions options, ipc::Responder responder) {
  auto shared = std::make_shared<ipc::Responder>(std::move(responder));
  const auto& result = request.completion().result();
  const std::string ns = NamespaceOr(request.namespace_());
  const bool by_token = !request.task_token().empty();
  const std::string identity = runtime_.identity();
  auto ok = [](v1::Response& out, auto) { out.mutable_complete_activity_async(); };
  if (!by_token && (request.workflow_id().empty() || request.activity_id().empty())) {
    shared->ReplyError(
        ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                       "complete_activity_async needs a task_token, or a workflow_id "
                       "and an activity_id"));
    return;
  }
  if (result.has_completed()) {
    if (by_token) {
      wsv::RespondActivityTaskCompletedRequest req;
      req.set_namespace_(ns);
      req.set_task_token(request.task_token());
      req.set_identity(identity);
      if (result.completed().has_result())
        *req.mutable_result()->add_payloads() = result.completed().result();
      AsyncMethod<wsv::RespondActivityTaskCompletedRequest,
                  wsv::RespondActivityTaskCompletedResponse>
          m = &Async::RespondActivityTaskCompleted;
      Forward(runtime_, m, std::move(req), options, shared, "RespondActivityTaskCompleted", ok);
    } else {
      wsv::RespondActivityTaskCompletedByIdRequest req;
      req.set_namespace_(ns);
      req.set_workflow_id(request.workflow_id());
      req.set_run_id(request.run_id());
      req.set_activity_id(request.activity_id());
      req.set_identity(identity);
      if (result.completed().has_result())
        *req.mutable_result()->add_payloads() = result.completed().result();
      AsyncMethod<wsv::RespondActivityTaskCompletedByIdRequest,
                  wsv::RespondActivityTaskCompletedByIdResponse>
          m = &Async::RespondActivityTaskCompletedById;
      Forward(runtime_, m, std::move(req), options, shared, "RespondActivityTaskCompletedById", ok);
    }
  } else if (result.has_failed()) {
    if (by_token) {
      wsv::RespondActivityTaskFailedRequest req;
      req.set_namespace_(ns);
      req.set_task_token(request.task_token());
      req.set_identity(identity);
      *req.mutable_failure() = result.failed().failure();
      AsyncMethod<wsv::RespondActivityTaskFailedRequest, wsv::RespondActivityTaskFailedResponse> m =
          &Async::RespondActivityTaskFailed;
      Forward(runtime_, m, std::move(req), options, shared, "RespondActivityTaskFailed", ok);
    } else {
      wsv::RespondActivityTaskFailedByIdRequest req;
      req.set_namespace_(ns);
      req.set_workflow_id(request.workflow_id());
      req.set_run_id(request.run_id());
      req.set_activity_id(request.activity_id());
      req.set_identity(identity);
      *req.mutable_failure() = result.failed().failure();
      AsyncMethod<wsv::RespondActivityTaskFailedByIdRequest,
                  wsv::RespondActivityTaskFailedByIdResponse>
          m = &Async::RespondActivityTaskFailedById;
      Forward(runtime_, m, std::move(req), options, shared, "RespondActivityTaskFailedById", ok);
    }
  } else if (result.has_cancelled()) {
    if (by_token) {
      wsv::RespondActivityTaskCanceledRequest req;
      req.set_namespace_(ns);
      req.set_task_token(request.task_token());
      req.set_identity(identity);
      const auto& failure = result.cancelled().failure();
      if (failure.has_canceled_failure_info())
        *req.mutable_details() = failure.canceled_failure_info().details();
      AsyncMethod<wsv::RespondActivityTaskCanceledRequest, wsv::RespondActivityTaskCanceledResponse>
          m = &Async::RespondActivityTaskCanceled;
      Forward(runtime_, m, std::move(req), options, shared, "RespondActivityTaskCanceled", ok);
    } else {
      wsv::RespondActivityTaskCanceledByIdRequest req;
      req.set_namespace_(ns);
      req.set_workflow_id(request.workflow_id());
      req.set_run_id(request.run_id());
      req.set_activity_id(request.activity_id());
      req.set_identity(identity);
      const auto& failure = result.cancelled().failure();
      if (failure.has_canceled_failure_info())
        *req.mutable_details() = failure.canceled_failure_info().details();
      AsyncMethod<wsv::RespondActivityTaskCanceledByIdRequest,
                  wsv::RespondActivityTaskCanceledByIdResponse>
          m = &Async::RespondActivityTaskCanceledById;
      Forward(runtime_, m, std::move(req), options, shared, "RespondActivityTaskCanceledById", ok);
    }
  } else {
    shared->ReplyError(ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                                      "completion.result must be completed, failed or cancelled"));
  }
}

}  // namespace hourglass::bridgehost
