#include "cli/workflow_commands.h"

#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <random>

#include "cli/close_event.h"
#include "cli/errors.h"
#include "cli/output.h"
#include "cli/payload_proto.h"
#include "cli/transport.h"
#include "ipc/unix_socket.h"

namespace hourglass::cli {

namespace enums = ::temporal::api::enums::v1;
using google::protobuf::util::TimeUtil;
using std::chrono::milliseconds;

namespace {

// Calls that do not wait for a workflow get this deadline unless --timeout says
// otherwise; result and execute wait as long as the workflow runs.
constexpr milliseconds kDefaultCallTimeout{10000};

// --timeout in milliseconds, or `fallback` when absent. A tiny positive value
// stays positive: rounding it to 0 would turn "almost no time" into "forever".
milliseconds FlagTimeout(const std::optional<double>& seconds, milliseconds fallback) {
  if (!seconds) return fallback;
  if (*seconds <= 0) return milliseconds(0);
  return std::max(milliseconds(1), milliseconds(std::llround(*seconds * 1000)));
}

// What a command prints, and how the process exits after printing it.
struct Output {
  Json json;
  int exit_code = exit_code::kOk;
};

// A random (version 4) UUID: the default workflow id, and every request id,
// so a retried call is one request to Temporal.
std::string NewUuid() {
  static std::mt19937_64 rng{std::random_device{}()};
  const uint64_t hi = (rng() & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const uint64_t lo = (rng() & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08llx-%04llx-%04llx-%04llx-%012llx",
                static_cast<unsigned long long>(hi >> 32),
                static_cast<unsigned long long>((hi >> 16) & 0xffff),
                static_cast<unsigned long long>(hi & 0xffff),
                static_cast<unsigned long long>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

// pid@host, the identity the official SDKs and CLI give their clients.
std::string Identity() {
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return std::to_string(::getpid()) + "@" + host;
}

google::protobuf::Duration Seconds(double s) {
  return TimeUtil::MillisecondsToDuration(std::llround(s * 1000));
}

enums::WorkflowIdReusePolicy ReusePolicy(const std::string& name) {
  if (name == "allow-duplicate") return enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
  if (name == "allow-duplicate-failed-only") {
    return enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE_FAILED_ONLY;
  }
  if (name == "reject-duplicate") return enums::WORKFLOW_ID_REUSE_POLICY_REJECT_DUPLICATE;
  return enums::WORKFLOW_ID_REUSE_POLICY_UNSPECIFIED;  // the server's default
}

common_pb::WorkflowExecution MakeExecution(const std::string& workflow_id,
                                           const std::string& run_id) {
  common_pb::WorkflowExecution e;
  e.set_workflow_id(workflow_id);
  e.set_run_id(run_id);
  return e;
}

// The ids a command acted on; an unnamed run prints as null ("the latest").
Json ExecutionOutput(const std::string& workflow_id, const std::string& run_id) {
  return {{"workflow_id", workflow_id}, {"run_id", run_id.empty() ? Json(nullptr) : Json(run_id)}};
}

Output ClosedOutput(const std::string& workflow_id, const ClosedRun& run) {
  return {ClosedRunToOutput(workflow_id, run), CloseStatus(run.close_event) == "COMPLETED"
                                                   ? exit_code::kOk
                                                   : exit_code::kWorkflowNotCompleted};
}

}  // namespace

class WorkflowCommands::Action {
 public:
  using Body = std::function<ipc::Result<Output>(Transport&)>;
  explicit Action(Body body) : body_(std::move(body)) {}
  ipc::Result<Output> operator()(Transport& transport) const { return body_(transport); }

 private:
  Body body_;
};

WorkflowCommands::WorkflowCommands(CLI::App& app) {
  CLI::App* workflow = app.add_subcommand("workflow", "Start, signal, inspect and await workflows");
  workflow->require_subcommand(1);
  // The connection flags belong to `workflow` but may follow the subcommand
  // (`hourglass workflow start --target ...`): unknown flags fall through.
  workflow->fallthrough();
  auto* socket =
      workflow->add_option("--bridge-socket", connection_.bridge_socket,
                           "The bridge host's socket (default: " + ipc::DefaultBridgeSocket() + ")");
  auto* target = workflow->add_option("--target", connection_.target,
                                      "Talk gRPC to this Temporal frontend (host:port) instead "
                                      "of the bridge host");
  socket->excludes(target);
  workflow->add_option("--namespace", connection_.namespace_name, "Temporal namespace")
      ->capture_default_str();
  workflow
      ->add_option("--timeout", connection_.timeout_s,
                   "Seconds each call may take; 0 waits forever (default: 10; result and "
                   "execute: 0)")
      ->check(CLI::NonNegativeNumber);

  // Subcommand help does not list the parent's flags; point at them.
  auto add = [workflow](const std::string& name, const std::string& description) {
    CLI::App* command = workflow->add_subcommand(name, description);
    command->footer(
        "Also: --bridge-socket, --target, --namespace, --timeout (hourglass workflow --help)");
    return command;
  };
  start_ = add("start", "Start a workflow; print its ids");
  AddStartFlags(start_);
  execute_ = add("execute", "Start a workflow and wait for its result");
  AddStartFlags(execute_);
  execute_->add_flag("--no-follow", no_follow_, "Do not follow continue-as-new to the next run");

  signal_ = add("signal", "Send a signal to a workflow");
  AddExecutionFlags(signal_);
  signal_->add_option("--name", signal_name_, "Signal name")->required();
  signal_->add_option("--input", signal_inputs_, "One signal argument as JSON (repeatable)")
      ->allow_extra_args(false);

  cancel_ = add("cancel", "Request cancellation of a workflow");
  AddExecutionFlags(cancel_);
  terminate_ = add("terminate", "Terminate a workflow");
  AddExecutionFlags(terminate_);
  terminate_->add_option("--reason", terminate_reason_, "Why (recorded in the history)");
  describe_ = add("describe", "Status, type, queue, times of a workflow");
  AddExecutionFlags(describe_);
  result_ = add("result", "Wait for a workflow to close; print how");
  AddExecutionFlags(result_);
  result_->add_flag("--no-follow", no_follow_, "Do not follow continue-as-new to the next run");
  history_ = add("history", "Print a workflow's events");
  AddExecutionFlags(history_);
  history_->add_flag("--full", full_history_, "Every event whole, as protobuf JSON");
}

void WorkflowCommands::AddStartFlags(CLI::App* command) {
  command->add_option("--type", start_flags_.type, "Workflow type")->required();
  command->add_option("--task-queue", start_flags_.task_queue, "Task queue")->required();
  command->add_option("--workflow-id", start_flags_.workflow_id,
                      "Workflow id (default: a random UUID)");
  // One argument per flag: a JSON value with spaces stays one argument.
  command->add_option("--input", start_flags_.inputs, "One workflow argument as JSON (repeatable)")
      ->allow_extra_args(false);
  command
      ->add_option("--execution-timeout", start_flags_.execution_timeout_s,
                   "Seconds the workflow may run, across runs")
      ->check(CLI::PositiveNumber);
  command->add_option("--run-timeout", start_flags_.run_timeout_s, "Seconds one run may take")
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--task-timeout", start_flags_.task_timeout_s,
                   "Seconds one workflow task may take")
      ->check(CLI::PositiveNumber);
  command
      ->add_option("--id-reuse-policy", start_flags_.id_reuse_policy,
                   "When a closed workflow's id may be reused")
      ->check(
          CLI::IsMember({"allow-duplicate", "allow-duplicate-failed-only", "reject-duplicate"}));
}

void WorkflowCommands::AddExecutionFlags(CLI::App* command) {
  command->add_option("--workflow-id", execution_.workflow_id, "Workflow id")->required();
  command->add_option("--run-id", execution_.run_id, "Run id (default: the latest run)");
}

WorkflowCommands::Action WorkflowCommands::Prepare() const {
  const std::string ns = connection_.namespace_name;
  const milliseconds call_timeout = FlagTimeout(connection_.timeout_s, kDefaultCallTimeout);
  const milliseconds wait_timeout = FlagTimeout(connection_.timeout_s, milliseconds(0));
  // A call made on the way to waiting (start, describe) is still bounded.
  const milliseconds step_timeout =
      wait_timeout.count() > 0 ? std::min(wait_timeout, kDefaultCallTimeout) : kDefaultCallTimeout;
  const bool follow = !no_follow_;
  const Execution ex = execution_;

  if (start_->parsed() || execute_->parsed()) {
    // Built (and --input checked) before anything connects.
    wsv::StartWorkflowExecutionRequest req;
    req.set_namespace_(ns);
    req.set_workflow_id(start_flags_.workflow_id.empty() ? NewUuid() : start_flags_.workflow_id);
    req.mutable_workflow_type()->set_name(start_flags_.type);
    req.mutable_task_queue()->set_name(start_flags_.task_queue);
    req.mutable_task_queue()->set_kind(enums::TASK_QUEUE_KIND_NORMAL);
    *req.mutable_input() = JsonArgumentsToPayloads(start_flags_.inputs, "--input");
    if (start_flags_.execution_timeout_s) {
      *req.mutable_workflow_execution_timeout() = Seconds(*start_flags_.execution_timeout_s);
    }
    if (start_flags_.run_timeout_s) {
      *req.mutable_workflow_run_timeout() = Seconds(*start_flags_.run_timeout_s);
    }
    if (start_flags_.task_timeout_s) {
      *req.mutable_workflow_task_timeout() = Seconds(*start_flags_.task_timeout_s);
    }
    req.set_workflow_id_reuse_policy(ReusePolicy(start_flags_.id_reuse_policy));
    req.set_identity(Identity());
    req.set_request_id(NewUuid());
    if (start_->parsed()) {
      return Action([req, call_timeout](Transport& t) -> ipc::Result<Output> {
        auto started = t.Start(req, call_timeout);
        if (!started) return started.error();
        return Output{ExecutionOutput(req.workflow_id(), started->run_id())};
      });
    }
    return Action([req, ns, follow, wait_timeout,
                   step_timeout](Transport& t) -> ipc::Result<Output> {
      const auto begin = std::chrono::steady_clock::now();
      auto started = t.Start(req, step_timeout);
      if (!started) return started.error();
      milliseconds left = wait_timeout;
      if (wait_timeout.count() > 0) {
        // --timeout bounds the whole command; never 0, which would mean forever.
        left =
            std::max(milliseconds(1), wait_timeout - std::chrono::duration_cast<milliseconds>(
                                                         std::chrono::steady_clock::now() - begin));
      }
      auto closed =
          t.AwaitClose(ns, MakeExecution(req.workflow_id(), started->run_id()), follow, left);
      if (!closed) return closed.error();
      return ClosedOutput(req.workflow_id(), *closed);
    });
  }

  if (signal_->parsed()) {
    wsv::SignalWorkflowExecutionRequest req;
    req.set_namespace_(ns);
    *req.mutable_workflow_execution() = MakeExecution(ex.workflow_id, ex.run_id);
    req.set_signal_name(signal_name_);
    *req.mutable_input() = JsonArgumentsToPayloads(signal_inputs_, "--input");
    req.set_identity(Identity());
    req.set_request_id(NewUuid());
    return Action([req, ex, call_timeout](Transport& t) -> ipc::Result<Output> {
      if (auto st = t.Signal(req, call_timeout); !st) return st.error();
      auto out = ExecutionOutput(ex.workflow_id, ex.run_id);
      out["signaled"] = req.signal_name();
      return Output{std::move(out)};
    });
  }

  if (cancel_->parsed()) {
    wsv::RequestCancelWorkflowExecutionRequest req;
    req.set_namespace_(ns);
    *req.mutable_workflow_execution() = MakeExecution(ex.workflow_id, ex.run_id);
    req.set_identity(Identity());
    req.set_request_id(NewUuid());
    return Action([req, ex, call_timeout](Transport& t) -> ipc::Result<Output> {
      if (auto st = t.Cancel(req, call_timeout); !st) return st.error();
      auto out = ExecutionOutput(ex.workflow_id, ex.run_id);
      out["cancel_requested"] = true;
      return Output{std::move(out)};
    });
  }

  if (terminate_->parsed()) {
    wsv::TerminateWorkflowExecutionRequest req;
    req.set_namespace_(ns);
    *req.mutable_workflow_execution() = MakeExecution(ex.workflow_id, ex.run_id);
    req.set_reason(terminate_reason_);
    req.set_identity(Identity());
    return Action([req, ex, call_timeout](Transport& t) -> ipc::Result<Output> {
      if (auto st = t.Terminate(req, call_timeout); !st) return st.error();
      auto out = ExecutionOutput(ex.workflow_id, ex.run_id);
      out["terminated"] = true;
      return Output{std::move(out)};
    });
  }

  if (describe_->parsed()) {
    wsv::DescribeWorkflowExecutionRequest req;
    req.set_namespace_(ns);
    *req.mutable_execution() = MakeExecution(ex.workflow_id, ex.run_id);
    return Action([req, call_timeout](Transport& t) -> ipc::Result<Output> {
      auto described = t.Describe(req, call_timeout);
      if (!described) return described.error();
      return Output{DescribeToOutput(*described)};
    });
  }

  if (history_->parsed()) {
    wsv::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_(ns);
    *req.mutable_execution() = MakeExecution(ex.workflow_id, ex.run_id);
    const bool full = full_history_;
    return Action([req, full, call_timeout](Transport& t) -> ipc::Result<Output> {
      auto history = t.FetchHistory(req, call_timeout);
      if (!history) return history.error();
      return Output{HistoryToOutput(*history, full)};
    });
  }

  // result
  return Action([ns, ex, follow, wait_timeout, step_timeout](Transport& t) -> ipc::Result<Output> {
    std::string run_id = ex.run_id;
    if (run_id.empty()) {
      // A history long poll is tied to one run; pin the latest before waiting
      // so the output names the run that closed even when nothing is followed.
      wsv::DescribeWorkflowExecutionRequest describe;
      describe.set_namespace_(ns);
      *describe.mutable_execution() = MakeExecution(ex.workflow_id, "");
      auto described = t.Describe(describe, step_timeout);
      if (!described) return described.error();
      run_id = described->workflow_execution_info().execution().run_id();
    }
    auto closed = t.AwaitClose(ns, MakeExecution(ex.workflow_id, run_id), follow, wait_timeout);
    if (!closed) return closed.error();
    return ClosedOutput(ex.workflow_id, *closed);
  });
}

int WorkflowCommands::Run() const {
  std::optional<Action> action;
  try {
    action.emplace(Prepare());
  } catch (const UsageError& e) {
    PrintError("usage", e.what());
    return exit_code::kUsage;
  }
  // Connecting is never a wait for a workflow: bounded even for result.
  const milliseconds flag = FlagTimeout(connection_.timeout_s, kDefaultCallTimeout);
  const milliseconds connect_timeout =
      flag.count() > 0 ? std::min(flag, kDefaultCallTimeout) : kDefaultCallTimeout;
  auto transport =
      ConnectTransport({connection_.target, connection_.bridge_socket}, connect_timeout);
  if (!transport) {
    PrintError(ErrorLabel(transport.error()), transport.error().message());
    return ExitCodeFor(transport.error());
  }
  auto output = (*action)(**transport);
  if (!output) {
    PrintError(ErrorLabel(output.error()), output.error().message());
    return ExitCodeFor(output.error());
  }
  // Replace rather than throw on bytes that are not UTF-8: a workflow's failure
  // message is whatever its worker wrote.
  const std::string text = output->json.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
  return output->exit_code;
}

}  // namespace hourglass::cli
