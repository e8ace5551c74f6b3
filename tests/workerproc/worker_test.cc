// Workers as real processes: hourglass-test-worker (a user-style worker
// binary) and hourglass-workerproc against a real bridge host and dev server.
// Workflows are started and awaited through the bridge host's client
// requests, as the CLI does.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <fstream>
#include <sstream>
#include <thread>

#include "hourglass/payload.h"
#include "ipc/blocking_frames.h"
#include "ipc/client.h"
#include "ipc/exit_codes.h"
#include "ipc/unix_socket.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"
#include "tests/testing/supervisor_process.h"
#include "tests/testing/temp_dir.h"
#include "workerproc/sdk/src/convert.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
namespace hist = temporal::api::history::v1;
namespace enums = temporal::api::enums::v1;
using json = nlohmann::json;
using testing::ChildProcess;

class Stack {
 public:
  Stack() : bridge_(dev_.address()) {}
  bool ok() const { return dev_.ok() && bridge_.ok(); }
  testing::DevServerProcess dev_;
  testing::BridgeHostProcess bridge_;
};
Stack* g_stack = nullptr;

// A worker process; stopped (SIGTERM, then SIGKILL) when destroyed.
std::optional<ChildProcess> StartWorker(const std::string& binary, const std::string& queue,
                                        std::vector<std::string> extra = {}, std::vector<std::pair<int, int>> fds = {},
                                        const std::string& log_name = "") {
  std::vector<std::string> argv{testing::BinDir() + "/" + binary, "--bridge-socket", g_stack->bridge_.socket_path(),
                                "--task-queue", queue, "--log-level", "info"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  const std::string log = g_stack->dev_.dir() + "/" + (log_name.empty() ? queue : log_name) + ".worker.log";
  return ChildProcess::Spawn({argv, std::move(fds), false, log});
}

class WorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { g_stack = new Stack(); }
  static void TearDownTestSuite() {
    delete g_stack;
    g_stack = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(g_stack->ok());
    ipc::ClientOptions o;
    o.socket_path = g_stack->bridge_.socket_path();
    o.hello.set_role(v1::ROLE_CLIENT);
    auto c = ipc::BlockingClient::Connect(o, 5s);
    ASSERT_TRUE(c.ok());
    client_.emplace(std::move(c).value());
  }

  // A failing test shows the tail of every log it produced (CI keeps no
  // temporary directories).
  void TearDown() override {
    if (!HasFailure()) return;
    worker_.reset();  // flush and stop first
    std::vector<std::string> logs{g_stack->bridge_.log_path(), g_stack->dev_.dir() + "/devserver.log"};
    for (const auto& e : std::filesystem::directory_iterator(g_stack->dev_.dir())) {
      if (e.path().string().find(Queue()) != std::string::npos) logs.push_back(e.path().string());
    }
    for (const auto& path : logs) {
      std::ifstream in(path);
      std::vector<std::string> lines;
      for (std::string line; std::getline(in, line);) lines.push_back(line);
      std::cerr << "---- last lines of " << path << "\n";
      for (size_t i = lines.size() > 60 ? lines.size() - 60 : 0; i < lines.size(); ++i) std::cerr << lines[i] << "\n";
    }
  }

  // The queue this test uses, unique per test so workers never share one.
  std::string Queue() const {
    std::string name = std::string("q-") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::replace(name.begin(), name.end(), '/', '-');  // parameterised names; the queue names a log file
    return name;
  }

  void ServeWith(const std::string& binary = "hourglass-test-worker", std::vector<std::string> extra = {}) {
    worker_.reset();
    auto w = StartWorker(binary, Queue(), std::move(extra));
    ASSERT_TRUE(w.has_value());
    worker_.emplace(std::move(*w));
  }

  v1::Response Call(v1::Request r, std::chrono::milliseconds timeout = 10s) {
    auto reply = client_->Call(std::move(r), timeout);
    EXPECT_TRUE(reply.ok()) << (reply.ok() ? "" : ipc::Describe(reply.error()));
    return reply.ok() ? *reply : v1::Response();
  }

  std::string Start(const std::string& type, const std::string& id, const std::vector<json>& args = {}) {
    v1::Request r;
    auto* s = r.mutable_start_workflow()->mutable_request();
    s->set_workflow_id(id);
    s->mutable_workflow_type()->set_name(type);
    s->mutable_task_queue()->set_name(Queue());
    for (const auto& a : args) *s->mutable_input()->add_payloads() = sdk::ToProto(JsonPayload(a));
    return Call(r).start_workflow().response().run_id();
  }

  hist::HistoryEvent Await(const std::string& id, std::chrono::milliseconds timeout = 60s) {
    v1::Request r;
    r.mutable_await_result()->mutable_execution()->set_workflow_id(id);
    r.mutable_await_result()->set_follow_runs(true);
    return Call(r, timeout).await_result().close_event();
  }

  // The workflow's result as JSON; fails the test if it did not complete.
  json Result(const std::string& id, std::chrono::milliseconds timeout = 60s) {
    auto e = Await(id, timeout);
    EXPECT_EQ(e.event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED) << e.DebugString();
    const auto& p = e.workflow_execution_completed_event_attributes().result().payloads();
    return p.empty() ? json() : PayloadToJson(sdk::FromProto(p[0]));
  }

  void Signal(const std::string& id, const std::string& name, const std::vector<json>& args = {}) {
    v1::Request r;
    auto* s = r.mutable_signal_workflow()->mutable_request();
    s->mutable_workflow_execution()->set_workflow_id(id);
    s->set_signal_name(name);
    for (const auto& a : args) *s->mutable_input()->add_payloads() = sdk::ToProto(JsonPayload(a));
    Call(r);
  }

  void CancelWorkflow(const std::string& id) {
    v1::Request r;
    r.mutable_cancel_workflow()->mutable_request()->mutable_workflow_execution()->set_workflow_id(id);
    Call(r);
  }

  void Terminate(const std::string& id) {
    v1::Request r;
    r.mutable_terminate_workflow()->mutable_request()->mutable_workflow_execution()->set_workflow_id(id);
    Call(r);
  }

  json Query(const std::string& id, const std::string& type) {
    v1::Request r;
    auto* q = r.mutable_query_workflow()->mutable_request();
    q->mutable_execution()->set_workflow_id(id);
    q->mutable_query()->set_query_type(type);
    const v1::Response reply = Call(r, 20s);
    const auto& resp = reply.query_workflow().response();
    return resp.query_result().payloads().empty() ? json() : PayloadToJson(sdk::FromProto(resp.query_result().payloads(0)));
  }

  hist::History History(const std::string& id) {
    v1::Request r;
    r.mutable_fetch_history()->mutable_request()->mutable_execution()->set_workflow_id(id);
    return Call(r).fetch_history().history();
  }

  // Polls the history until an event satisfies `pred`.
  std::optional<hist::HistoryEvent> WaitForEvent(const std::string& id,
                                                 const std::function<bool(const hist::HistoryEvent&)>& pred,
                                                 std::chrono::milliseconds timeout = 30s) {
    for (const auto deadline = std::chrono::steady_clock::now() + timeout; std::chrono::steady_clock::now() < deadline;
         std::this_thread::sleep_for(50ms)) {
      const hist::History history = History(id);  // not a temporary: range-for would dangle
      for (const auto& e : history.events()) {
        if (pred(e)) return e;
      }
    }
    return std::nullopt;
  }

  std::optional<ipc::BlockingClient> client_;
  std::optional<ChildProcess> worker_;
};

TEST_F(WorkerTest, Hello_WorkerprocSampleReturnsGreeting) {
  ServeWith("hourglass-workerproc");
  Start("Hello", "hello-1", {"World"});
  EXPECT_EQ(Result("hello-1"), "Hello, World!");
}

TEST_F(WorkerTest, KitchenSink_TimersActivitiesConcurrencyChildAndContinueAsNew) {
  ServeWith("hourglass-workerproc");
  json input = {{"actions",
                 {{{"activity", "noop"}},
                  {{"timer", 20}},
                  {{"concurrent", {{{"activity", "delay"}, {"args", {30}}}, {{"activity", "payload"}, {"args", {16}}}}}},
                  {{"child", {{"actions", {{{"return", 5}}}}}}},
                  {{"continue_as_new", {{"actions", {{{"activity", "noop"}}, {{"return", {{"ok", true}}}}}}}}}}}};
  Start("KitchenSink", "ks-1", {input});
  EXPECT_EQ(Result("ks-1"), json({{"ok", true}}));
}

TEST_F(WorkerTest, SignalsAndQueries_BufferedSignalsQueryThenFinish) {
  ServeWith();
  Start("t.SignalQuery", "sq-1");
  Signal("sq-1", "add", {"a"});
  Signal("sq-1", "add", {"b"});
  // The query sees both signals once they have been processed.
  json items;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       items != json({"a", "b"}) && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    items = Query("sq-1", "items");
  }
  EXPECT_EQ(items, json({"a", "b"}));
  Signal("sq-1", "finish");
  EXPECT_EQ(Result("sq-1"), json({"a", "b"}));
}

TEST_F(WorkerTest, CancellationScope_CancelsHeartbeatingActivityAndWaitsForItsAcknowledgement) {
  ServeWith();
  Start("t.CancelScope", "scope-1");
  EXPECT_EQ(Result("scope-1"), "activity error; cancellation=yes; workflow cancel_requested=no");
  // The activity acknowledged: its cancellation is in history.
  auto events = History("scope-1").events();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED;
  }));
}

TEST_F(WorkerTest, WorkflowCancellation_RunsDetachedCleanupThenEndsCancelled) {
  ServeWith();
  Start("t.WaitForever", "cancel-1");
  ASSERT_TRUE(WaitForEvent("cancel-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_TIMER_STARTED; }));
  CancelWorkflow("cancel-1");
  auto closed = Await("cancel-1");
  EXPECT_EQ(closed.event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED) << closed.DebugString();
  auto events = History("cancel-1").events();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED;
  })) << "the cleanup activity ran";
}

TEST_F(WorkerTest, ChildWorkflow_SignalledByParentReturnsToParent) {
  ServeWith();
  Start("t.Parent", "parent-1");
  EXPECT_EQ(Result("parent-1"), "hi there from parent-1");
}

TEST_F(WorkerTest, External_CancelAnotherWorkflowThenSignalToMissingOneFails) {
  ServeWith();
  Start("t.WaitForever", "victim-1");
  ASSERT_TRUE(WaitForEvent("victim-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_TIMER_STARTED; }));
  Start("t.CancelOther", "canceller-1", {"victim-1"});
  EXPECT_EQ(Await("victim-1").event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
  auto closed = Await("canceller-1");
  // The failed external signal surfaces as a workflow failure (its Failure
  // propagates out of the workflow).
  EXPECT_EQ(closed.event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED) << closed.DebugString();
}

TEST_F(WorkerTest, Failure_ApplicationErrorKeepsTypeDetailsAndNonRetryable) {
  ServeWith();
  Start("t.Fail", "fail-1");
  auto closed = Await("fail-1");
  ASSERT_EQ(closed.event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED);
  const auto& f = closed.workflow_execution_failed_event_attributes().failure();
  EXPECT_EQ(f.message(), "card declined");
  EXPECT_EQ(f.application_failure_info().type(), "PaymentError");
  EXPECT_TRUE(f.application_failure_info().non_retryable());
  ASSERT_EQ(f.application_failure_info().details().payloads_size(), 1);
  EXPECT_EQ(f.application_failure_info().details().payloads(0).data(), "42");
}

TEST_F(WorkerTest, ActivityFailures_TimeoutStdExceptionAndRetriesSurfaceTyped) {
  ServeWith();
  Start("t.ActivityFailures", "actfail-1");
  EXPECT_EQ(Result("actfail-1"), "timeout:START_TO_CLOSE; std::runtime_error: disk on fire; retried=3");
}

TEST_F(WorkerTest, AsyncCompletion_ActivityCompletedLaterByTaskToken) {
  ServeWith();
  testing::TempDir dir("hg-async");
  const std::string token_path = dir.path() + "/token";
  Start("t.AsyncActivity", "async-1", {token_path});
  std::string token;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       token.empty() && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    std::ifstream in(token_path, std::ios::binary);
    token.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_FALSE(token.empty());
  v1::Request r;
  r.mutable_complete_activity_async()->set_task_token(token);
  *r.mutable_complete_activity_async()->mutable_completion()->mutable_result()->mutable_completed()->mutable_result() =
      sdk::ToProto(JsonPayload("done later"));
  Call(r);
  EXPECT_EQ(Result("async-1"), "done later");
}

TEST_F(WorkerTest, Deadlock_BlockedWorkflowCodeFailsTheTaskWithTMPRL1101) {
  ServeWith("hourglass-test-worker", {"--deadlock-timeout-ms", "300"});
  Start("t.Deadlock", "deadlock-1", {1500});
  auto failed = WaitForEvent("deadlock-1", [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_WORKFLOW_TASK_FAILED &&
           e.workflow_task_failed_event_attributes().failure().message().find("TMPRL1101") != std::string::npos;
  });
  EXPECT_TRUE(failed.has_value()) << "the deadlock must be reported as a workflow-task failure";
  Terminate("deadlock-1");
}

TEST_F(WorkerTest, Properties_MemoPatchAndDeterministicUuid) {
  ServeWith();
  Start("t.Properties", "props-1");
  json r = Result("props-1");
  EXPECT_EQ(r["patched"], true);
  EXPECT_EQ(r["uuid"].get<std::string>().size(), 36u);
  EXPECT_EQ(r["memo_seen"], true);
  auto events = History("props-1").events();
  EXPECT_TRUE(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED;
  }));
  EXPECT_TRUE(std::any_of(events.begin(), events.end(),
                          [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_MARKER_RECORDED; }));
}

TEST_F(WorkerTest, Nondeterminism_ChangedCodeOnReplayFailsTheTaskWithTMPRL1100) {
  // Variant 1 records a timer; variant 2 replays the same history, asks for
  // an activity instead, and must be caught.
  ServeWith("hourglass-test-worker", {"--max-cached-workflows", "0"});
  Start("t.Versioned", "versioned-1");
  ASSERT_TRUE(WaitForEvent("versioned-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_TIMER_FIRED; }));
  ASSERT_TRUE(WaitForEvent("versioned-1", [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED && e.event_id() > 5;
  }));
  worker_.reset();
  ::setenv("HG_TEST_VARIANT", "2", 1);
  ServeWith();
  ::unsetenv("HG_TEST_VARIANT");
  Signal("versioned-1", "go");
  auto failed = WaitForEvent("versioned-1", [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_WORKFLOW_TASK_FAILED &&
           e.workflow_task_failed_event_attributes().failure().message().find("TMPRL1100") != std::string::npos;
  });
  EXPECT_TRUE(failed.has_value()) << "nondeterminism must fail the task with a clear message";
  Terminate("versioned-1");
}

TEST_F(WorkerTest, Sigterm_UnregistersFinishesInFlightActivityAndExitsZero) {
  ServeWith("hourglass-workerproc");
  json input = {{"actions", {{{"activity", "delay"}, {"args", {800}}}, {{"return", "after restart"}}}}};
  Start("KitchenSink", "term-1", {input});
  ASSERT_TRUE(WaitForEvent("term-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_STARTED; }));
  worker_->Kill(SIGTERM);
  const int status = worker_->Wait(15s);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The activity finished during the grace period.
  ASSERT_TRUE(WaitForEvent("term-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED; }, 5s));
  worker_.reset();
  ServeWith("hourglass-workerproc");
  EXPECT_EQ(Result("term-1"), "after restart");
}

TEST_F(WorkerTest, Sigkill_NewWorkerReplaysAndFinishesTheWorkflow) {
  ServeWith("hourglass-workerproc");
  json input = {{"signals", {"go"}}, {"actions", {{{"activity", "noop"}}, {{"signal", "go"}}, {{"return", "survived"}}}}};
  Start("KitchenSink", "kill-1", {input});
  ASSERT_TRUE(WaitForEvent("kill-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED; }));
  worker_->Kill(SIGKILL);
  worker_->Wait(5s);
  worker_.reset();
  ServeWith("hourglass-workerproc");
  Signal("kill-1", "go");
  EXPECT_EQ(Result("kill-1"), "survived");
}

TEST_F(WorkerTest, ControlChannel_ReadyNamesTheQueueAndStatsCountTheLoops) {
  auto pair = ipc::MakeSocketPair();
  ASSERT_TRUE(pair.ok());
  ipc::UniqueFd ours = std::move(pair->first);
  ipc::UniqueFd theirs = std::move(pair->second);
  auto w = StartWorker("hourglass-workerproc", Queue(), {"--control-fd", "3"}, {{3, theirs.get()}});
  ASSERT_TRUE(w.has_value());
  worker_.emplace(std::move(*w));
  theirs.Reset();
  ipc::FrameDecoder decoder;
  auto read = [&]() -> std::optional<v1::ControlMessage> {
    for (;;) {
      v1::ControlMessage m;
      if (!ipc::ReadMessage(ours.get(), decoder, m, 20s)) return std::nullopt;
      if (!m.has_heartbeat()) return m;
    }
  };
  auto ready = read();
  ASSERT_TRUE(ready && ready->has_ready());
  EXPECT_EQ(ready->ready().task_queue(), Queue());
  EXPECT_EQ(ready->ready().bridge_epoch(), g_stack->bridge_.epoch());
  // READY goes out as the loops start; they reach POLLING a moment later.
  std::optional<v1::ControlMessage> stats;
  for (uint64_t seq = 1; seq < 200; ++seq) {
    v1::ControlMessage ask;
    ask.set_seq(seq);
    ask.mutable_stats_request();
    ASSERT_TRUE(ipc::WriteMessage(ours.get(), ask));
    stats = read();
    ASSERT_TRUE(stats && stats->has_stats());
    EXPECT_EQ(stats->seq(), seq);
    if (stats->stats().workflow_poll_loop() == v1::POLL_LOOP_STATE_POLLING &&
        stats->stats().activity_poll_loop() == v1::POLL_LOOP_STATE_POLLING) {
      break;
    }
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(stats->stats().task_queue(), Queue());
  EXPECT_EQ(stats->stats().workflow_poll_loop(), v1::POLL_LOOP_STATE_POLLING);
  EXPECT_EQ(stats->stats().activity_poll_loop(), v1::POLL_LOOP_STATE_POLLING);
  EXPECT_EQ(stats->stats().workflow_poll_loop_restarts(), 0u);
  // EOF on the control channel: the supervisor is gone; the worker leaves.
  ours.Reset();
  const int status = worker_->Wait(10s);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), exit_code::kSupervisorGone);
}

TEST_F(WorkerTest, Registration_SecondWorkerForTheSameQueueIsRefusedWithItsExitCode) {
  ServeWith("hourglass-workerproc");
  // Wait until the first one is registered.
  for (const auto deadline = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(50ms)) {
    v1::Request r;
    r.mutable_is_registered()->set_task_queue(Queue());
    if (Call(r).is_registered().registered()) break;
  }
  auto second = StartWorker("hourglass-workerproc", Queue(), {}, {}, "second");
  ASSERT_TRUE(second.has_value());
  const int status = second->Wait(15s);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), exit_code::kRegistrationRefused);
}

class ProcessIsolationTest : public WorkerTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ProcessIsolationTest, CrashingActivity_FailsTheAttemptNamingTheSignalAndTheWorkerLivesOn) {
  ServeWith();
  const std::string how = GetParam();
  const std::string id = "crash-" + how;
  Start("t.Crashy", id, {how});
  EXPECT_EQ(Result(id), "survived " + how + " on attempt 3");
  // The retried attempt carries the previous attempt's failure.
  const std::string signal = how == "segv" ? "SIGSEGV" : how == "abort" ? "SIGABRT" : "SIGKILL";
  auto started = WaitForEvent(id, [](const auto& e) {
    return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_STARTED && e.activity_task_started_event_attributes().attempt() == 3;
  });
  ASSERT_TRUE(started.has_value());
  const auto& last = started->activity_task_started_event_attributes().last_failure();
  EXPECT_NE(last.message().find("killed by " + signal), std::string::npos) << last.message();
  EXPECT_EQ(last.application_failure_info().type(), "ActivityProcessDied");
  EXPECT_EQ(::kill(worker_->pid(), 0), 0) << "the worker must live on";
}

INSTANTIATE_TEST_SUITE_P(Signals, ProcessIsolationTest, ::testing::Values("segv", "abort", "kill"),
                         [](const auto& param_info) { return std::string(param_info.param); });

TEST_F(WorkerTest, ProcessIsolation_ExecutorOutlivesItsKilledWorkerAndRecordsTheResult) {
  ServeWith();
  Start("t.Isolated", "outlive-1", {1500});
  ASSERT_TRUE(WaitForEvent("outlive-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_STARTED; }));
  worker_->Kill(SIGKILL);
  worker_->Wait(5s);
  worker_.reset();
  // No worker now: the executor process reports the result on its own.
  auto completed = WaitForEvent(
      "outlive-1", [](const auto& e) { return e.event_type() == enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED; }, 15s);
  ASSERT_TRUE(completed.has_value()) << "the executor must deliver its result after its worker died";
  ServeWith();
  EXPECT_NE(Result("outlive-1").get<std::string>().find("slow done"), std::string::npos);
}

TEST_F(WorkerTest, ProcessIsolation_WhatAnAttemptLeftRunningEndsWithIt) {
  ServeWith();
  Start("t.LeavesChildBehind", "leaves-child");
  const pid_t left = static_cast<pid_t>(std::stoi(Result("leaves-child").get<std::string>()));
  ASSERT_GT(left, 0);
  // Polled: the worker reaps the executor (and kills its group) after the
  // result has gone to the server.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (testing::ProcessAlive(left) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(testing::ProcessAlive(left)) << "the attempt's background process outlived it";
  if (testing::ProcessAlive(left)) ::kill(left, SIGKILL);
}

TEST_F(WorkerTest, ProcessIsolation_WorkerWideFlagRunsSamplesAndForwardsCancellation) {
  ServeWith("hourglass-test-worker", {"--isolation", "process"});
  Start("Hello", "iso-hello", {"Isolated"});
  EXPECT_EQ(Result("iso-hello"), "Hello, Isolated!");
  Start("t.CancelScope", "iso-scope");
  EXPECT_EQ(Result("iso-scope"), "activity error; cancellation=yes; workflow cancel_requested=no");
}

}  // namespace
}  // namespace hourglass
