// Fault points (docs/fault-injection.md) in the real tree: every process
// lists its points over `hourglass ctl failpoint list`; a crash armed at
// run time at the bridge host's poll reply kills it at that moment and the
// cascade still completes the workflow; a one-shot crash armed from the
// supervisor's environment kills one worker exactly once; a delay is counted;
// an error on a dev-server commit is retried by the bridge host; bad commands
// get clear errors.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "tests/testing/supervisor_process.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
using json = nlohmann::json;
using testing::CommandResult;
using testing::FindNode;
using testing::LastLine;
using testing::RunHourglassCli;
using testing::SupervisorOptions;
using testing::SupervisorProcess;

constexpr const char* kQueue = "fp";
constexpr const char* kWorker = "worker:fp";

const std::vector<std::string> kBridgeHostPoints = {
    "bridgehost.complete_activity_task.before_reply",  "bridgehost.poll_activity_task.before_send",
    "bridgehost.poll_workflow_activation.before_send", "bridgehost.register_worker.before_reply",
    "bridgehost.respond_workflow_task.after_accepted", "bridgehost.unregister_worker.before_reply",
};
const std::vector<std::string> kWorkerPoints = {
    "executor.activity.before_complete",
    "worker.activation.before_evaluate",
    "worker.activity.before_complete",
};
const std::vector<std::string> kDevServerPoints = {
    "devserver.respond_activity_task_completed.after_commit",
    "devserver.respond_workflow_task_completed.after_commit",
    "devserver.start_workflow_execution.after_commit",
};

// KitchenSink: one noop activity (a 2 s start-to-close timeout, so an attempt
// lost with its worker is retried soon), then returns `tag`.
std::string ActivityThenReturn(const std::string& tag) {
  return json{{"actions", json::array({json{{"activity", "noop"}, {"start_to_close_ms", 2000}},
                                       json{{"return", tag}}})}}
      .dump();
}

class FailpointsIntegrationTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && sup_) sup_->DumpLog(std::cerr, 120);
    sup_.reset();
  }

  void Launch(std::vector<std::string> env = {}) {
    sup_ = std::make_unique<SupervisorProcess>(
        SupervisorOptions{.queues = {kQueue}, .env = std::move(env)});
    ASSERT_TRUE(sup_->Start());
    ASSERT_TRUE(sup_->WaitReady(30s).has_value()) << "the tree never became ready";
  }

  // `hourglass ctl failpoint ARGS...` against this tree.
  CommandResult Ctl(std::vector<std::string> args) {
    args.insert(args.begin(), {"ctl", "--runtime-dir", sup_->runtime_dir(), "failpoint"});
    return RunHourglassCli(args, 20s, sup_->dir() + "/ctl.err");
  }
  std::string CtlError() { return LastLine(sup_->dir() + "/ctl.err"); }

  // `failpoint list CHILD --json`: name -> {action, hits}.
  std::map<std::string, std::pair<std::string, uint64_t>> List(const std::string& child) {
    auto r = Ctl({"list", child, "--json"});
    EXPECT_TRUE(r.ok()) << "list " << child << ": " << CtlError();
    std::map<std::string, std::pair<std::string, uint64_t>> out;
    const json j = json::parse(r.out, nullptr, false);
    if (!j.is_object() || !j.contains("reply")) return out;
    const json& reply = j["reply"];
    if (!reply.contains("points")) return out;
    const json& points = reply["points"];
    const json& hits = reply.contains("hits") ? reply["hits"] : reply["points"];
    for (auto it = points.begin(); it != points.end(); ++it) {
      uint64_t n = 0;
      // proto3 JSON writes 64-bit integers as strings.
      if (auto h = hits.find(it.key()); h != hits.end() && h->is_string()) {
        n = std::stoull(h->get<std::string>());
      }
      out[it.key()] = {it.value().get<std::string>(), n};
    }
    return out;
  }

  // Straight to the dev server (--target): a bridge host armed to crash may
  // die before it relays the start's reply.
  std::string Target() {
    auto s = sup_->Status();
    EXPECT_TRUE(s.has_value() && !s->target().empty()) << "no dev server address";
    return s ? s->target() : "";
  }

  void StartWorkflow(const std::string& id, const std::string& input,
                     const std::string& task_timeout_s = "2") {
    // A short workflow-task timeout: a task taken by a process that then
    // died comes back after it.
    auto r = RunHourglassCli(
        {"workflow", "start", "--target", Target(), "--task-queue", kQueue, "--type", "KitchenSink",
         "--workflow-id", id, "--task-timeout", task_timeout_s, "--input", input},
        30s, sup_->dir() + "/cli.err");
    ASSERT_TRUE(r.ok()) << "workflow start " << id << ": " << r.out << " "
                        << LastLine(sup_->dir() + "/cli.err");
  }

  // The result once the tree is whole again.
  json Result(const std::string& id) {
    auto ready = sup_->WaitReady(60s);
    EXPECT_TRUE(ready.has_value()) << "the tree did not recover";
    auto r = RunHourglassCli(
        {"workflow", "result", "--target", Target(), "--workflow-id", id, "--timeout", "60"}, 70s,
        sup_->dir() + "/cli.err");
    EXPECT_TRUE(r.ok()) << "workflow result " << id << ": " << r.out << " "
                        << LastLine(sup_->dir() + "/cli.err");
    const json j = json::parse(r.out, nullptr, false);
    if (!j.is_object()) return json();
    EXPECT_EQ(j.value("status", ""), "COMPLETED") << r.out;
    return j.value("result", json());
  }

  // `hourglass workflow history --full` of `id`, as JSON text.
  std::string History(const std::string& id) {
    auto r = RunHourglassCli(
        {"workflow", "history", "--target", Target(), "--workflow-id", id, "--full"}, 30s,
        sup_->dir() + "/cli.err");
    EXPECT_TRUE(r.ok()) << "workflow history " << id << ": " << LastLine(sup_->dir() + "/cli.err");
    return r.out;
  }

  int CountLogLines(const std::string& needle) {
    const auto lines = sup_->LogLines();
    return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(needle) != std::string::npos;
    }));
  }

  int Restarts(const std::string& id) {
    auto s = sup_->Status();
    const v1::CtlNode* n = s ? FindNode(*s, id) : nullptr;
    return n == nullptr ? -1 : n->restart_count();
  }

  std::unique_ptr<SupervisorProcess> sup_;
};

TEST_F(FailpointsIntegrationTest, EveryProcessListsItsPointsAndBadCommandsAreRefused) {
  Launch();
  for (const auto& [child, names] : {std::pair{std::string("bridgehost"), kBridgeHostPoints},
                                     std::pair{std::string(kWorker), kWorkerPoints},
                                     std::pair{std::string("devserver"), kDevServerPoints}}) {
    const auto points = List(child);
    std::vector<std::string> listed;
    for (const auto& [name, state] : points) {
      listed.push_back(name);
      EXPECT_EQ(state.first, "off") << child << " " << name;
    }
    EXPECT_EQ(listed, names) << child;
  }
  // Text form: name, action, hits.
  auto text = Ctl({"list", "bridgehost"});
  // RunHourglassCli keeps the first line of stdout: the first point, sorted.
  ASSERT_TRUE(text.ok()) << CtlError();
  EXPECT_NE(text.out.find("bridgehost.complete_activity_task.before_reply"), std::string::npos)
      << text.out;
  EXPECT_NE(text.out.find("  off  hits=0"), std::string::npos) << text.out;

  // set / clear.
  auto set = Ctl({"set", "bridgehost", "bridgehost.unregister_worker.before_reply", "3*delay(10)"});
  ASSERT_TRUE(set.ok()) << CtlError();
  EXPECT_EQ(List("bridgehost")["bridgehost.unregister_worker.before_reply"].first, "3*delay(10)");
  ASSERT_TRUE(Ctl({"clear", "bridgehost", "bridgehost.unregister_worker.before_reply"}).ok());
  EXPECT_EQ(List("bridgehost")["bridgehost.unregister_worker.before_reply"].first, "off");

  // A bad action: a usage error before anything is sent (exit 2) ...
  auto bad = Ctl({"set", "bridgehost", "bridgehost.register_worker.before_reply", "crsh"});
  EXPECT_TRUE(testing::ExitedWith(bad.status, 2)) << testing::DescribeStatus(bad.status);
  EXPECT_NE(CtlError().find("bad fault point action \"crsh\": unknown action"), std::string::npos)
      << CtlError();
  // ... and INVALID_ARGUMENT from the supervisor for any other client.
  v1::CtlRequest raw;
  raw.mutable_failpoint()->set_child_id("bridgehost");
  auto* command = raw.mutable_failpoint()->mutable_command();
  command->set_op(v1::FailpointCommand::OP_SET);
  command->set_name("bridgehost.register_worker.before_reply");
  command->set_action("delay(x)");
  auto reply = sup_->Ctl(raw, 5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().kind(), v1::CTL_ERROR_KIND_INVALID_ARGUMENT);
  EXPECT_NE(reply->error().message().find("whole number of milliseconds"), std::string::npos)
      << reply->error().message();

  // An unknown point: the child says so and names its points (exit 6).
  auto unknown = Ctl({"set", kWorker, "worker.no.such", "crash"});
  EXPECT_TRUE(testing::ExitedWith(unknown.status, 6)) << testing::DescribeStatus(unknown.status);
  EXPECT_NE(CtlError().find("no fault point \"worker.no.such\""), std::string::npos) << CtlError();
  EXPECT_NE(CtlError().find("worker.activation.before_evaluate"), std::string::npos) << CtlError();
  // An unknown child: NOT_FOUND (exit 4).
  auto nobody = Ctl({"list", "worker:nobody"});
  EXPECT_TRUE(testing::ExitedWith(nobody.status, 4)) << testing::DescribeStatus(nobody.status);
}

TEST_F(FailpointsIntegrationTest, BridgeHostCrashAtPollReplyIsRecoveredByTheCascade) {
  Launch();
  ASSERT_TRUE(
      Ctl({"set", "bridgehost", "bridgehost.poll_workflow_activation.before_send", "crash"}).ok())
      << CtlError();
  StartWorkflow("fp-bridge-crash", ActivityThenReturn("survived"));
  // The bridge host dies at that point: SIGKILL, the cascade restarts it
  // (unarmed: the arming was its process's) and every worker.
  auto after = sup_->WaitStatus(
      [](const v1::CtlStatusReply& s) {
        const v1::CtlNode* n = FindNode(s, "bridgehost");
        return n != nullptr && n->restart_count() >= 1;
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the bridge host was not restarted";
  EXPECT_EQ(Result("fp-bridge-crash"), json("survived"));
  EXPECT_EQ(
      CountLogLines("fault point bridgehost.poll_workflow_activation.before_send fired: crash"), 1);
  EXPECT_GE(CountLogLines("killed by SIGKILL"), 1);
  EXPECT_EQ(Restarts("bridgehost"), 1);
}

// The worker dies after its activity ran, before reporting it: the server
// retries the attempt after its timeout, on the restarted (disarmed) worker.
TEST_F(FailpointsIntegrationTest, OneShotWorkerCrashFromTheEnvironmentFiresOnce) {
  Launch(
      {"HOURGLASS_FAILPOINTS=worker.activity.before_complete=1*crash;"
       "bridgehost.no_such_point=crash"});
  StartWorkflow("fp-worker-crash", ActivityThenReturn("once"));
  EXPECT_EQ(Result("fp-worker-crash"), json("once"));
  EXPECT_EQ(CountLogLines("fault point worker.activity.before_complete fired: 1*crash"), 1);
  EXPECT_EQ(Restarts(kWorker), 1);
  EXPECT_EQ(Restarts("bridgehost"), 0);
  // An unknown point of its own role is an error in the bridge host's log,
  // not a crash.
  EXPECT_GE(CountLogLines("no fault point \"bridgehost.no_such_point\""), 1);
  // The restarted worker started disarmed.
  EXPECT_EQ(List(kWorker)["worker.activity.before_complete"].first, "off");
}

// DESIGN §7, "every activation gets an answer": the worker dies holding an
// activation (its workflow code never ran). The bridge host must fail that
// workflow task for it, or let the server's task timeout retry it, and the
// retried task must reach the restarted worker.
TEST_F(FailpointsIntegrationTest, WorkerCrashHoldingAnActivation_TheRetriedTaskReachesTheNewWorker) {
  Launch({"HOURGLASS_FAILPOINTS=worker.activation.before_evaluate=1*crash"});
  // A task timeout far beyond the test's: the retry must come from the
  // bridge host failing the task, not from the server timing it out.
  StartWorkflow("fp-activation-crash", ActivityThenReturn("answered"), "120");
  EXPECT_EQ(Result("fp-activation-crash"), json("answered"));
  EXPECT_EQ(CountLogLines("fault point worker.activation.before_evaluate fired: 1*crash"), 1);
  EXPECT_EQ(Restarts(kWorker), 1);
  EXPECT_EQ(Restarts("bridgehost"), 0);
  const std::string history = History("fp-activation-crash");
  EXPECT_NE(history.find("EVENT_TYPE_WORKFLOW_TASK_FAILED"), std::string::npos) << history;
  EXPECT_NE(history.find("the process holding this workflow task's activation went away"),
            std::string::npos);
  EXPECT_EQ(history.find("EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT"), std::string::npos);
}

TEST_F(FailpointsIntegrationTest, DelayIsCountedAndTheWorkflowCompletes) {
  Launch();
  ASSERT_TRUE(Ctl({"set", kWorker, "worker.activity.before_complete", "delay(300)"}).ok())
      << CtlError();
  StartWorkflow("fp-delay", ActivityThenReturn("late"));
  EXPECT_EQ(Result("fp-delay"), json("late"));
  const auto state = List(kWorker)["worker.activity.before_complete"];
  EXPECT_EQ(state.first, "delay(300)");
  EXPECT_GE(state.second, 1u);
  EXPECT_GE(CountLogLines("fault point worker.activity.before_complete fired: delay(300)"), 1);
}

TEST_F(FailpointsIntegrationTest, DevServerErrorAfterCommitIsRetried) {
  Launch();
  ASSERT_TRUE(
      Ctl({"set", "devserver", "devserver.respond_activity_task_completed.after_commit", "1*error"})
          .ok())
      << CtlError();
  ASSERT_TRUE(
      Ctl({"set", "devserver", "devserver.respond_workflow_task_completed.after_commit", "1*error"})
          .ok())
      << CtlError();
  StartWorkflow("fp-devserver-error", ActivityThenReturn("committed"));
  EXPECT_EQ(Result("fp-devserver-error"), json("committed"));
  EXPECT_EQ(CountLogLines("fault point devserver.respond_workflow_task_completed.after_commit "
                          "fired: error"),
            1);
  EXPECT_EQ(CountLogLines(
                "fault point devserver.respond_activity_task_completed.after_commit fired: error"),
            1);
  EXPECT_EQ(Restarts("bridgehost"), 0);
  EXPECT_EQ(Restarts(kWorker), 0);
}

}  // namespace
}  // namespace hourglass
