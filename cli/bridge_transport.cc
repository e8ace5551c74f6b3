#include "cli/bridge_transport.h"

namespace hourglass::cli {

namespace v1 = ::hourglass::ipc::v1;

ipc::Result<std::unique_ptr<BridgeTransport>> BridgeTransport::Connect(
    const std::string& socket_path, Timeout timeout) {
  ipc::ClientOptions options;
  options.socket_path = socket_path;
  options.hello.set_role(v1::ROLE_CLIENT);
  options.hello.set_client_name("hourglass cli");
  auto client = ipc::BlockingClient::Connect(std::move(options), timeout);
  if (!client) {
    // Name the socket whatever failed: the default path is easy to get wrong,
    // and only a failed connect() says which path it tried.
    ipc::Error error = client.error();
    error.set_message("bridge host at " + socket_path + ": " + error.message());
    return error;
  }
  return std::unique_ptr<BridgeTransport>(new BridgeTransport(std::move(client).value()));
}

ipc::Result<wsv::StartWorkflowExecutionResponse> BridgeTransport::Start(
    wsv::StartWorkflowExecutionRequest request, Timeout timeout) {
  v1::Request r;
  *r.mutable_start_workflow()->mutable_request() = std::move(request);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  return std::move(*reply->mutable_start_workflow()->mutable_response());
}

ipc::Status BridgeTransport::Signal(wsv::SignalWorkflowExecutionRequest request, Timeout timeout) {
  v1::Request r;
  *r.mutable_signal_workflow()->mutable_request() = std::move(request);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  return ipc::OkStatus();
}

ipc::Status BridgeTransport::Cancel(wsv::RequestCancelWorkflowExecutionRequest request,
                                    Timeout timeout) {
  v1::Request r;
  *r.mutable_cancel_workflow()->mutable_request() = std::move(request);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  return ipc::OkStatus();
}

ipc::Status BridgeTransport::Terminate(wsv::TerminateWorkflowExecutionRequest request,
                                       Timeout timeout) {
  v1::Request r;
  *r.mutable_terminate_workflow()->mutable_request() = std::move(request);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  return ipc::OkStatus();
}

ipc::Result<wsv::DescribeWorkflowExecutionResponse> BridgeTransport::Describe(
    wsv::DescribeWorkflowExecutionRequest request, Timeout timeout) {
  v1::Request r;
  *r.mutable_describe_workflow()->mutable_request() = std::move(request);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  return std::move(*reply->mutable_describe_workflow()->mutable_response());
}

ipc::Result<history_pb::History> BridgeTransport::FetchHistory(
    wsv::GetWorkflowExecutionHistoryRequest request, Timeout timeout) {
  v1::Request r;
  *r.mutable_fetch_history()->mutable_request() = std::move(request);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  return std::move(*reply->mutable_fetch_history()->mutable_history());
}

ipc::Result<ClosedRun> BridgeTransport::AwaitClose(const std::string& namespace_name,
                                                   const common_pb::WorkflowExecution& execution,
                                                   bool follow_runs, Timeout timeout) {
  v1::Request r;
  auto* await = r.mutable_await_result();
  await->set_namespace_(namespace_name);
  *await->mutable_execution() = execution;
  await->set_follow_runs(follow_runs);
  auto reply = client_.Call(std::move(r), timeout);
  if (!reply) return reply.error();
  auto* result = reply->mutable_await_result();
  return ClosedRun{result->run_id(), std::move(*result->mutable_close_event())};
}

}  // namespace hourglass::cli
