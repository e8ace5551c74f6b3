// Past one machine (issue 7, item 4): two supervisor trees — two "hosts",
// each with its own runtime directory, bridge host and workers — serve the
// same task queue against one Temporal server (a standalone dev server, as a
// real cluster would be). One whole tree, supervisor included, is SIGKILLed
// in the middle of a load; the other must finish every workflow, with the
// right result, each closed exactly once.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "tests/testing/stack.h"
#include "tests/testing/supervisor_process.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using testing::DevServerProcess;
using testing::RunHourglassCli;
using testing::SupervisorOptions;
using testing::SupervisorProcess;

constexpr char kQueue[] = "shared";
constexpr int kWorkflows = 24;

// Two activities (the first ~800 ms, so the kill lands while many are in
// flight) around a timer; short timeouts so work held by the dead tree is
// retried by the server within seconds: the activity's start-to-close
// timeout, and the workflow task timeout given at start.
std::string Input(int i) {
  const json activity = {
      {"activity", "delay"}, {"args", json::array({800})}, {"start_to_close_ms", 2000}};
  return json{{"actions", json::array({activity, json{{"timer", 100}},
                                       json{{"activity", "noop"}, {"start_to_close_ms", 2000}},
                                       json{{"return", "done-" + std::to_string(i)}}})}}
      .dump();
}

class TwoTreesTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (auto* t : {a_.get(), b_.get()}) {
        if (t != nullptr) t->DumpLog(std::cerr, 60);
      }
    }
    a_.reset();
    b_.reset();
  }

  std::unique_ptr<SupervisorProcess> Tree(const std::string& address) {
    auto t = std::make_unique<SupervisorProcess>(
        SupervisorOptions{.queues = {kQueue}, .args = {"--target", address}});
    EXPECT_TRUE(t->Start());
    EXPECT_TRUE(t->WaitReady(20s).has_value()) << "a tree never became ready";
    return t;
  }

  std::unique_ptr<SupervisorProcess> a_, b_;
};

TEST_F(TwoTreesTest, OneWholeTreeKilledMidLoad_TheOtherFinishesEveryWorkflowOnce) {
  DevServerProcess server;
  ASSERT_TRUE(server.ok());
  a_ = Tree(server.address());
  b_ = Tree(server.address());
  ASSERT_FALSE(HasFailure());

  for (int i = 0; i < kWorkflows; ++i) {
    auto r =
        RunHourglassCli({"workflow", "start", "--target", server.address(), "--task-queue", kQueue,
                         "--type", "KitchenSink", "--workflow-id", "two-trees-" + std::to_string(i),
                         "--task-timeout", "2", "--input", Input(i)},
                        20s);
    ASSERT_TRUE(r.ok()) << "start " << i << ": " << r.out;
  }

  // Mid-load: the first activities are running on both trees. The whole of
  // tree A goes at once, as when its host dies: the supervisor and every
  // process it started.
  SupervisorProcess::SleepMs(150);
  auto status = a_->Status();
  ASSERT_TRUE(status.has_value());
  std::vector<pid_t> doomed = {a_->pid()};
  for (const auto& n : status->nodes()) {
    if (n.pid() > 0) doomed.push_back(n.pid());
  }
  ASSERT_GE(doomed.size(), 3u) << "supervisor, bridge host and worker";
  for (pid_t pid : doomed) ::kill(pid, SIGKILL);
  for (pid_t pid : doomed) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (testing::ProcessAlive(pid) && std::chrono::steady_clock::now() < deadline) {
      SupervisorProcess::SleepMs(20);
    }
    EXPECT_FALSE(testing::ProcessAlive(pid)) << "pid " << pid << " of tree A survived";
  }

  // Tree B finishes everything: right results, one run each, closed once.
  std::set<std::string> redone;
  for (int i = 0; i < kWorkflows; ++i) {
    const std::string id = "two-trees-" + std::to_string(i);
    auto r = RunHourglassCli({"workflow", "result", "--target", server.address(), "--workflow-id",
                              id, "--timeout", "60"},
                             70s);
    ASSERT_TRUE(r.ok()) << id << ": " << r.out;
    const json result = json::parse(r.out, nullptr, false);
    ASSERT_TRUE(result.is_object()) << r.out;
    EXPECT_EQ(result.value("status", ""), "COMPLETED") << id;
    EXPECT_EQ(result.value("result", json()), json("done-" + std::to_string(i))) << id;

    auto h = RunHourglassCli(
        {"workflow", "history", "--target", server.address(), "--workflow-id", id, "--full"}, 20s);
    ASSERT_TRUE(h.ok()) << id;
    const json history = json::parse(h.out, nullptr, false);
    ASSERT_TRUE(history.is_object() && history.contains("events")) << h.out;
    int closes = 0;
    for (const auto& e : history["events"]) {
      const std::string type = e.value("eventType", "");
      // Work tree A held when it died comes back after its timeout: an
      // activity retried (Temporal records only the last attempt's start)
      // or a workflow task that timed out.
      if (type == "EVENT_TYPE_ACTIVITY_TASK_STARTED" &&
          e["activityTaskStartedEventAttributes"].value("attempt", 1) > 1) {
        redone.insert(id);
      }
      if (type == "EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT") redone.insert(id);
      for (const char* close :
           {"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED", "CANCELED", "CONTINUED_AS_NEW"}) {
        if (type == std::string("EVENT_TYPE_WORKFLOW_EXECUTION_") + close) ++closes;
      }
    }
    EXPECT_EQ(closes, 1) << id << " closed " << closes << " times";
  }

  // The kill did land mid-load: tree A held work that the server handed to B
  // after its timeout. (With half of ~10 in-flight 800 ms activities on each
  // tree at the kill, none on A is a 1-in-1000 event.)
  EXPECT_GE(redone.size(), 1u) << "tree A held no work when it was killed";
  std::cout << redone.size() << " of " << kWorkflows << " workflows redid work tree A held\n";

  // Tree B was untouched by A's death: no cascade, its worker never replaced.
  auto b_status = b_->Status();
  ASSERT_TRUE(b_status.has_value());
  EXPECT_EQ(b_status->cascades(), 0u);
  for (const auto& n : b_status->nodes()) EXPECT_EQ(n.restart_count(), 0) << n.id();
}

}  // namespace
}  // namespace hourglass
