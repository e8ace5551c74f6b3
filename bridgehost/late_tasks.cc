#include "bridgehost/late_tasks.h"

#include <spdlog/spdlog.h>

namespace hourglass::bridgehost {

namespace enums = ::temporal::api::enums::v1;
using Async = wsv::WorkflowService::StubInterface::async_interface;

void HandBackWorkflowTask(Runtime& runtime, const std::string& ns, const std::string& identity,
                          const wsv::PollWorkflowTaskQueueResponse& task) {
  const std::string& run_id = task.workflow_execution().run_id();
  if (task.has_query()) {
    wsv::RespondQueryTaskCompletedRequest req;
    req.set_namespace_(ns);
    req.set_task_token(task.task_token());
    req.set_completed_type(enums::QUERY_RESULT_TYPE_FAILED);
    req.set_error_message("the worker for this task queue shut down before the query arrived");
    AsyncMethod<wsv::RespondQueryTaskCompletedRequest, wsv::RespondQueryTaskCompletedResponse> m =
        &Async::RespondQueryTaskCompleted;
    runtime.Call(m, std::move(req), CallOptions{},
                 [](grpc::Status, wsv::RespondQueryTaskCompletedResponse) {});
    return;
  }
  spdlog::info(
      "bridgehost: a workflow task of run {} found no worker for its queue; handing it back",
      run_id);
  wsv::RespondWorkflowTaskFailedRequest req;
  req.set_namespace_(ns);
  req.set_task_token(task.task_token());
  req.set_cause(enums::WORKFLOW_TASK_FAILED_CAUSE_WORKFLOW_WORKER_UNHANDLED_FAILURE);
  req.mutable_failure()->set_message(
      "the task reached a worker that had shut down; handed back for another worker");
  req.mutable_failure()->set_source("hourglass-bridgehost");
  req.set_identity(identity);
  AsyncMethod<wsv::RespondWorkflowTaskFailedRequest, wsv::RespondWorkflowTaskFailedResponse> m =
      &Async::RespondWorkflowTaskFailed;
  runtime.Call(m, std::move(req), CallOptions{},
               [run_id](grpc::Status st, wsv::RespondWorkflowTaskFailedResponse) {
                 if (!st.ok()) {
                   spdlog::warn("bridgehost: handing back the workflow task of run {}: {}", run_id,
                                st.error_message());
                 }
               });
}

void HandBackActivityTask(Runtime& runtime, const std::string& ns, const std::string& identity,
                          const std::string& task_token) {
  wsv::RespondActivityTaskFailedRequest req;
  req.set_namespace_(ns);
  req.set_task_token(task_token);
  req.set_identity(identity);
  req.mutable_failure()->set_message("worker shutting down");
  req.mutable_failure()->mutable_application_failure_info()->set_type("WorkerShutdown");
  AsyncMethod<wsv::RespondActivityTaskFailedRequest, wsv::RespondActivityTaskFailedResponse> m =
      &Async::RespondActivityTaskFailed;
  runtime.Call(m, std::move(req), CallOptions{},
               [](grpc::Status, wsv::RespondActivityTaskFailedResponse) {});
}

}  // namespace hourglass::bridgehost
