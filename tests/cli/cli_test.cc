// The `hourglass` CLI as a real process against a real hourglass-devserver,
// through a real hourglass-bridgehost (--bridge-socket) and straight over gRPC
// (--target); every workflow test runs over both. No C++ worker exists yet, so
// workflows either stay open (nobody serves their queue) or the test plays
// their workflow worker itself over the dev server's gRPC API.

#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "ipc/unique_fd.h"
#include "temporal/api/command/v1/message.pb.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"
#include "tests/testing/temp_dir.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace wsv = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;
namespace command_pb = temporal::api::command::v1;

// One finished `hourglass` run.
struct CliRun {
  int exit_code = -1;  // -1: did not exit in time, or died by a signal
  std::string out;
  std::string err;
  json output;  // stdout as JSON; null when stdout is empty or not JSON
};

// A running `hourglass`; Finish() collects what it printed and how it exited.
class Cli {
 public:
  Cli(std::vector<std::string> args, const std::string& stderr_path)
      : stderr_path_(stderr_path),
        process_(
            testing::ChildProcess::Spawn({WithBinary(std::move(args)), {}, true, stderr_path})) {}

  CliRun Finish(std::chrono::milliseconds timeout = 60s) {
    CliRun run;
    if (!process_) {
      ADD_FAILURE() << "could not spawn hourglass";
      return run;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
      return std::max(0ms, std::chrono::duration_cast<std::chrono::milliseconds>(
                               deadline - std::chrono::steady_clock::now()));
    };
    // Every line, until EOF (the process closed stdout) or the deadline.
    while (auto line = process_->WaitForLine("", left())) run.out += *line + "\n";
    const int status = process_->Wait(left());
    if (status != -1 && WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
    std::ifstream err(stderr_path_);
    std::stringstream text;
    text << err.rdbuf();
    run.err = text.str();
    run.output = json::parse(run.out, nullptr, /*allow_exceptions=*/false);
    if (run.output.is_discarded()) run.output = nullptr;
    return run;
  }

 private:
  static std::vector<std::string> WithBinary(std::vector<std::string> args) {
    args.insert(args.begin(), testing::BinDir() + "/hourglass");
    return args;
  }

  std::string stderr_path_;
  std::optional<testing::ChildProcess> process_;
};

// What every test needs, once per test binary run: a dev server, a bridge host
// against it, and a gRPC stub for playing workers.
struct Stack {
  testing::TempDir scratch{"hg-cli"};
  testing::DevServerProcess dev;
  std::optional<testing::BridgeHostProcess> bridge;
  std::unique_ptr<wsv::WorkflowService::Stub> stub;
  int runs = 0;

  Stack() {
    if (!dev.ok()) return;
    bridge.emplace(dev.address());
    stub = wsv::WorkflowService::NewStub(
        grpc::CreateChannel(dev.address(), grpc::InsecureChannelCredentials()));
  }
  bool ok() const { return dev.ok() && bridge && bridge->ok(); }
  std::string NextStderrPath() { return scratch.path() + "/stderr-" + std::to_string(++runs); }
};

Stack* g_stack = nullptr;

// Runs `hourglass workflow <args...>` with no connection flags added.
CliRun Hourglass(std::vector<std::string> args) {
  args.insert(args.begin(), "workflow");
  static testing::TempDir scratch{"hg-cli-err"};
  static int runs = 0;
  return Cli(std::move(args), scratch.path() + "/stderr-" + std::to_string(++runs)).Finish();
}

// The test plays the workflow worker of `queue`: one poll, one answer.
std::string PollWorkflowTask(const std::string& queue, std::string* run_id = nullptr) {
  wsv::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name(queue);
  poll.set_identity("cli-test worker");
  wsv::PollWorkflowTaskQueueResponse task;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  const grpc::Status status = g_stack->stub->PollWorkflowTaskQueue(&context, poll, &task);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_FALSE(task.task_token().empty()) << "no workflow task on " << queue;
  if (run_id != nullptr) *run_id = task.workflow_execution().run_id();
  return task.task_token();
}

void CompleteWorkflowTask(const std::string& token, command_pb::Command command) {
  wsv::RespondWorkflowTaskCompletedRequest done;
  done.set_namespace_("default");
  done.set_task_token(token);
  done.set_identity("cli-test worker");
  *done.add_commands() = std::move(command);
  wsv::RespondWorkflowTaskCompletedResponse response;
  grpc::ClientContext context;
  const grpc::Status status =
      g_stack->stub->RespondWorkflowTaskCompleted(&context, done, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

command_pb::Command CompleteWith(const std::string& compact_json) {
  command_pb::Command c;
  c.set_command_type(enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
  auto* payload =
      c.mutable_complete_workflow_execution_command_attributes()->mutable_result()->add_payloads();
  (*payload->mutable_metadata())["encoding"] = "json/plain";
  payload->set_data(compact_json);
  return c;
}

enum class Via { kBridge, kGrpc };

class CliTest : public ::testing::TestWithParam<Via> {
 protected:
  static void SetUpTestSuite() { g_stack = new Stack(); }
  static void TearDownTestSuite() {
    delete g_stack;
    g_stack = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(g_stack->ok()) << "dev server or bridge host did not start"; }

  // `hourglass workflow <command> <connection flags> <args...>`.
  Cli Spawn(const std::string& command, std::vector<std::string> args) {
    std::vector<std::string> argv = {"workflow", command};
    if (GetParam() == Via::kBridge) {
      argv.insert(argv.end(), {"--bridge-socket", g_stack->bridge->socket_path()});
    } else {
      argv.insert(argv.end(), {"--target", g_stack->dev.address()});
    }
    argv.insert(argv.end(), args.begin(), args.end());
    return Cli(std::move(argv), g_stack->NextStderrPath());
  }
  CliRun Run(const std::string& command, std::vector<std::string> args) {
    return Spawn(command, std::move(args)).Finish();
  }

  // Ids unique to this test and transport (the stack is shared by all tests
  // of one binary run).
  static std::string Id(const std::string& what) {
    std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) c = c == '/' ? '-' : c;
    return name + "-" + what;
  }

  // Starts a workflow nobody serves; returns its run id.
  std::string StartIdle(const std::string& workflow_id, const std::string& queue) {
    auto started =
        Run("start", {"--type", "Idle", "--task-queue", queue, "--workflow-id", workflow_id});
    EXPECT_EQ(started.exit_code, 0) << started.err;
    return started.output.is_object() ? started.output.value("run_id", "") : "";
  }

  static std::vector<std::string> EventTypes(const json& history) {
    std::vector<std::string> types;
    for (const auto& e : history.at("events")) types.push_back(e.at("event_type"));
    return types;
  }
};

TEST_P(CliTest, Start_PrintsIds_DescribeShowsRunning) {
  const std::string id = Id("wf");
  auto started = Run("start", {"--type", "Greeter", "--task-queue", Id("q"), "--workflow-id", id,
                               "--input", R"("World")", "--input", R"({"times": 2})"});
  ASSERT_EQ(started.exit_code, 0) << started.err;
  EXPECT_EQ(started.output.at("workflow_id"), id);
  const std::string run_id = started.output.at("run_id");
  EXPECT_FALSE(run_id.empty());

  auto described = Run("describe", {"--workflow-id", id});
  ASSERT_EQ(described.exit_code, 0) << described.err;
  const json& d = described.output;
  EXPECT_EQ(d.at("status"), "RUNNING");
  EXPECT_EQ(d.at("type"), "Greeter");
  EXPECT_EQ(d.at("task_queue"), Id("q"));
  EXPECT_EQ(d.at("run_id"), run_id);
  EXPECT_TRUE(d.at("start_time").is_string());
  EXPECT_TRUE(d.at("close_time").is_null());
  EXPECT_GE(d.at("history_length").get<int>(), 2);
  EXPECT_TRUE(described.err.empty()) << described.err;
}

TEST_P(CliTest, Start_WithoutWorkflowId_UsesAFreshUuid) {
  auto a = Run("start", {"--type", "Idle", "--task-queue", Id("q")});
  auto b = Run("start", {"--type", "Idle", "--task-queue", Id("q")});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_EQ(b.exit_code, 0) << b.err;
  const std::string id = a.output.at("workflow_id");
  EXPECT_EQ(id.size(), 36u) << id;
  EXPECT_NE(a.output.at("workflow_id"), b.output.at("workflow_id"));
}

TEST_P(CliTest, Signal_ThenHistoryShowsTheSignalWithItsJsonInput) {
  const std::string id = Id("wf");
  StartIdle(id, Id("q"));
  auto signaled = Run("signal", {"--workflow-id", id, "--name", "go", "--input", R"({"a": 1})"});
  ASSERT_EQ(signaled.exit_code, 0) << signaled.err;
  EXPECT_EQ(signaled.output.at("signaled"), "go");

  auto history = Run("history", {"--workflow-id", id});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  const auto types = EventTypes(history.output);
  ASSERT_EQ(types.size(), 3u) << history.out;
  EXPECT_EQ(types[0], "WorkflowExecutionStarted");
  EXPECT_EQ(types[2], "WorkflowExecutionSignaled");
  EXPECT_EQ(history.output.at("events")[2].at("event_id"), 3);
  EXPECT_TRUE(history.output.at("events")[2].at("event_time").is_string());

  // --full: the whole event; the argument went out as compact json/plain.
  auto full = Run("history", {"--workflow-id", id, "--full"});
  ASSERT_EQ(full.exit_code, 0) << full.err;
  const json& attrs = full.output.at("events")[2].at("workflowExecutionSignaledEventAttributes");
  EXPECT_EQ(attrs.at("signalName"), "go");
  const json& payload = attrs.at("input").at("payloads")[0];
  EXPECT_EQ(payload.at("metadata").at("encoding"), "anNvbi9wbGFpbg==");  // "json/plain"
  EXPECT_EQ(payload.at("data"), "eyJhIjoxfQ==");                         // {"a":1}
}

TEST_P(CliTest, Cancel_ThenHistoryShowsCancelRequested) {
  const std::string id = Id("wf");
  const std::string run_id = StartIdle(id, Id("q"));
  auto cancelled = Run("cancel", {"--workflow-id", id, "--run-id", run_id});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_EQ(cancelled.output.at("run_id"), run_id);
  auto history = Run("history", {"--workflow-id", id, "--run-id", run_id});
  ASSERT_EQ(history.exit_code, 0) << history.err;
  EXPECT_EQ(EventTypes(history.output).back(), "WorkflowExecutionCancelRequested");
}

TEST_P(CliTest, Terminate_ThenResultExits1WithStatusTerminated) {
  const std::string id = Id("wf");
  const std::string run_id = StartIdle(id, Id("q"));
  auto terminated = Run("terminate", {"--workflow-id", id, "--reason", "enough"});
  ASSERT_EQ(terminated.exit_code, 0) << terminated.err;
  auto result = Run("result", {"--workflow-id", id});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.output.at("status"), "TERMINATED");
  EXPECT_EQ(result.output.at("run_id"), run_id);
  EXPECT_TRUE(result.output.at("result").is_null());
  EXPECT_EQ(result.output.at("failure").at("message"), "enough");
  EXPECT_EQ(result.output.at("failure").at("type"), "TerminatedFailure");
  auto described = Run("describe", {"--workflow-id", id});
  EXPECT_EQ(described.output.at("status"), "TERMINATED");
  EXPECT_TRUE(described.output.at("close_time").is_string());
}

TEST_P(CliTest, StartSameIdTwice_Exits5) {
  const std::string id = Id("wf");
  StartIdle(id, Id("q"));
  auto again = Run("start", {"--type", "Idle", "--task-queue", Id("q"), "--workflow-id", id});
  EXPECT_EQ(again.exit_code, 5) << again.err;
  EXPECT_TRUE(again.out.empty()) << again.out;
  EXPECT_EQ(again.err.rfind("hourglass: already_started: ", 0), 0u) << again.err;
}

TEST_P(CliTest, DescribeUnknownId_Exits4) {
  auto described = Run("describe", {"--workflow-id", Id("never-started")});
  EXPECT_EQ(described.exit_code, 4) << described.err;
  EXPECT_EQ(described.err.rfind("hourglass: not_found: ", 0), 0u) << described.err;
  // One line.
  EXPECT_EQ(described.err.find('\n'), described.err.size() - 1) << described.err;
}

TEST_P(CliTest, BadInputJson_Exits2) {
  auto started = Run("start", {"--type", "Idle", "--task-queue", Id("q"), "--input", "{oops"});
  EXPECT_EQ(started.exit_code, 2);
  EXPECT_EQ(started.err.rfind("hourglass: usage: --input #1 is not valid JSON", 0), 0u)
      << started.err;
  auto signaled = Run("signal", {"--workflow-id", Id("wf"), "--name", "s", "--input", "1",
                                 "--input", "bare words"});
  EXPECT_EQ(signaled.exit_code, 2);
  EXPECT_NE(signaled.err.find("--input #2"), std::string::npos) << signaled.err;
}

TEST_P(CliTest, Result_OfACompletedWorkflow_PrintsTheDecodedResultAndExits0) {
  const std::string id = Id("wf");
  const std::string queue = Id("q");
  const std::string run_id = StartIdle(id, queue);
  CompleteWorkflowTask(PollWorkflowTask(queue), CompleteWith(R"({"greeting":"hello","n":[1,2]})"));
  auto result = Run("result", {"--workflow-id", id});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.output.at("workflow_id"), id);
  EXPECT_EQ(result.output.at("run_id"), run_id);
  EXPECT_EQ(result.output.at("status"), "COMPLETED");
  EXPECT_EQ(result.output.at("result"), json::parse(R"({"greeting":"hello","n":[1,2]})"));
  EXPECT_TRUE(result.output.at("failure").is_null());
}

TEST_P(CliTest, Execute_WaitsWhileTheWorkflowRuns_ThenPrintsItsResult) {
  const std::string id = Id("wf");
  const std::string queue = Id("q");
  Cli execute = Spawn("execute", {"--type", "Greeter", "--task-queue", queue, "--workflow-id", id,
                                  "--input", R"("World")"});
  // The workflow exists once its task can be polled; answer it a little later
  // so execute is surely parked on the close event.
  const std::string token = PollWorkflowTask(queue);
  std::this_thread::sleep_for(300ms);
  CompleteWorkflowTask(token, CompleteWith(R"("Hello, World")"));
  auto result = execute.Finish();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.output.at("status"), "COMPLETED");
  EXPECT_EQ(result.output.at("result"), "Hello, World");
}

TEST_P(CliTest, Result_OfAFailedWorkflow_PrintsTheFailureChainAndExits1) {
  const std::string id = Id("wf");
  const std::string queue = Id("q");
  StartIdle(id, queue);
  command_pb::Command fail;
  fail.set_command_type(enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
  auto* failure = fail.mutable_fail_workflow_execution_command_attributes()->mutable_failure();
  failure->set_message("boom");
  failure->mutable_application_failure_info()->set_type("MyError");
  failure->mutable_application_failure_info()->set_non_retryable(true);
  failure->mutable_cause()->set_message("disk full");
  failure->mutable_cause()->mutable_application_failure_info()->set_type("IOError");
  CompleteWorkflowTask(PollWorkflowTask(queue), fail);
  auto result = Run("result", {"--workflow-id", id});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.output.at("status"), "FAILED");
  EXPECT_TRUE(result.output.at("result").is_null());
  EXPECT_EQ(result.output.at("failure"), json::parse(R"({
      "message": "boom", "type": "MyError", "non_retryable": true,
      "cause": {"message": "disk full", "type": "IOError", "non_retryable": false, "cause": null}
  })"));
}

TEST_P(CliTest, Result_FollowsContinueAsNew_UnlessNoFollow) {
  const std::string id = Id("wf");
  const std::string queue = Id("q");
  const std::string first_run = StartIdle(id, queue);
  command_pb::Command again;
  again.set_command_type(enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION);
  auto* attrs = again.mutable_continue_as_new_workflow_execution_command_attributes();
  attrs->mutable_workflow_type()->set_name("Idle");
  attrs->mutable_task_queue()->set_name(queue);
  CompleteWorkflowTask(PollWorkflowTask(queue), again);
  std::string second_run;
  const std::string token = PollWorkflowTask(queue, &second_run);
  ASSERT_NE(second_run, first_run);
  CompleteWorkflowTask(token, CompleteWith("42"));

  auto followed = Run("result", {"--workflow-id", id, "--run-id", first_run});
  ASSERT_EQ(followed.exit_code, 0) << followed.err;
  EXPECT_EQ(followed.output.at("status"), "COMPLETED");
  EXPECT_EQ(followed.output.at("run_id"), second_run);
  EXPECT_EQ(followed.output.at("result"), 42);

  auto first = Run("result", {"--workflow-id", id, "--run-id", first_run, "--no-follow"});
  EXPECT_EQ(first.exit_code, 1) << first.err;
  EXPECT_EQ(first.output.at("status"), "CONTINUED_AS_NEW");
  EXPECT_EQ(first.output.at("run_id"), first_run);
  EXPECT_EQ(first.output.at("new_run_id"), second_run);
}

TEST_P(CliTest, Result_GivesUpAfterTimeout) {
  const std::string id = Id("wf");
  StartIdle(id, Id("q"));
  const auto t0 = std::chrono::steady_clock::now();
  auto result = Run("result", {"--workflow-id", id, "--timeout", "1"});
  EXPECT_EQ(result.exit_code, 6) << result.err;
  EXPECT_EQ(result.err.rfind("hourglass: deadline_exceeded: ", 0), 0u) << result.err;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
}

INSTANTIATE_TEST_SUITE_P(Transports, CliTest, ::testing::Values(Via::kBridge, Via::kGrpc),
                         [](const ::testing::TestParamInfo<Via>& p) {
                           return p.param == Via::kBridge ? "Bridge" : "Grpc";
                         });

// Failures before any workflow exists: no stack needed.

TEST(CliUsageTest, UnreachableBridgeSocket_Exits3) {
  testing::TempDir dir{"hg-cli-nobridge"};
  auto run =
      Hourglass({"describe", "--workflow-id", "w", "--bridge-socket", dir.path() + "/b.sock"});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err.rfind("hourglass: unavailable: ", 0), 0u) << run.err;
  EXPECT_NE(run.err.find(dir.path() + "/b.sock"), std::string::npos) << "names the socket";
}

// A bound TCP port nobody listens on: connections to it are refused, and it
// stays ours (nobody else can start listening there) while the fd is open.
struct RefusingPort {
  ipc::UniqueFd fd{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::string address;

  RefusingPort() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  }
};

TEST(CliUsageTest, UnreachableTarget_Exits3) {
  RefusingPort port;
  ASSERT_FALSE(port.address.empty());
  auto run = Hourglass({"describe", "--workflow-id", "w", "--target", port.address});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err.rfind("hourglass: unavailable: ", 0), 0u) << run.err;
}

TEST(CliUsageTest, BridgeHostUpButTemporalUnreachable_Exits3) {
  RefusingPort port;
  ASSERT_FALSE(port.address.empty());
  testing::BridgeHostProcess bridge(port.address);
  ASSERT_TRUE(bridge.ok());
  auto run = Hourglass({"describe", "--workflow-id", "w", "--bridge-socket", bridge.socket_path(),
                        "--timeout", "2"});
  EXPECT_EQ(run.exit_code, 3) << run.err;
  EXPECT_EQ(run.err.rfind("hourglass: unavailable: ", 0), 0u) << run.err;
}

TEST(CliUsageTest, BadInputIsReportedBeforeConnecting) {
  // Exit 2, not 3: the arguments are checked before the socket is tried.
  auto run = Hourglass({"start", "--type", "T", "--task-queue", "q", "--input", "[1,",
                        "--bridge-socket", "/nonexistent/bridge.sock"});
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.err.rfind("hourglass: usage: ", 0), 0u) << run.err;
}

TEST(CliUsageTest, MissingOrConflictingFlags_Exit2) {
  auto no_queue = Hourglass({"start", "--type", "T"});
  EXPECT_EQ(no_queue.exit_code, 2);
  EXPECT_NE(no_queue.err.find("--task-queue"), std::string::npos) << no_queue.err;
  auto both =
      Hourglass({"describe", "--workflow-id", "w", "--target", "x:1", "--bridge-socket", "/x"});
  EXPECT_EQ(both.exit_code, 2);
  auto no_command = Hourglass({});
  EXPECT_EQ(no_command.exit_code, 2);
  EXPECT_EQ(no_command.err.rfind("hourglass: usage: ", 0), 0u) << no_command.err;
}

}  // namespace
}  // namespace hourglass
