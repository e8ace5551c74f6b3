// hourglass::testing::Tree, the fixture users write kill-based tests with,
// exercised the way the user guide shows it: against the real tree, with
// hourglass-workerproc standing in for the user's worker binary.

#include "hourglass/testing/tree.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>

namespace {

using hourglass::testing::Tree;
using hourglass::testing::TreeOptions;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kWorker = std::string(HOURGLASS_BUILD_BIN_DIR) + "/hourglass-workerproc";

// [START kill-test]
TEST(TreeFixture, BridgeHostKilledMidWorkflow_WorkflowCompletesAfterTheCascade) {
  Tree tree(TreeOptions().Queue("orders", kWorker));
  tree.Start();
  const std::string id = tree.StartWorkflow(
      "KitchenSink", "orders",
      {{"signals", {"go"}},
       {"actions", {{{"activity", "noop"}}, {{"signal", "go"}}, {{"return", "shipped"}}}}});
  tree.Kill("bridgehost");  // SIGKILL: every worker is replaced
  tree.AwaitReady();
  tree.Signal(id, "go");
  EXPECT_EQ(tree.Result(id).result, "shipped");
  EXPECT_EQ(tree.Cascades(), 1);
  EXPECT_EQ(tree.RestartCount("bridgehost"), 1);
}
// [END kill-test]

// [START failpoint-test]
TEST(TreeFixture, FaultPoints_WorkerDiesBetweenActivityAndReport_ThenHoldingAnActivation) {
  // Armed from the start: the worker's first activation kills it before any
  // workflow code runs.
  Tree tree(TreeOptions()
                .Queue("orders", kWorker)
                .Failpoints("worker.activation.before_evaluate=1*crash"));
  tree.Start();
  const json input = {{"actions",
                       {{{"activity", "noop"}, {"start_to_close_ms", 2000}},
                        {{"return", "shipped"}}}}};
  EXPECT_EQ(tree.Result(tree.StartWorkflow("KitchenSink", "orders", input)).result, "shipped");
  EXPECT_EQ(tree.RestartCount("worker:orders"), 1);
  // Armed at run time on the restarted worker: it dies after the activity
  // ran, before reporting it; the server retries the attempt after 2 s.
  tree.SetFailpoint("worker:orders", "worker.activity.before_complete", "1*crash");
  EXPECT_EQ(tree.Result(tree.StartWorkflow("KitchenSink", "orders", input)).result, "shipped");
  EXPECT_EQ(tree.RestartCount("worker:orders"), 2);
  EXPECT_EQ(tree.Cascades(), 0);
}
// [END failpoint-test]

TEST(TreeFixture, WorkerKilled_OnlyItRestarts_AndStopExitsZero) {
  Tree tree(TreeOptions().Queue("a", kWorker).Queue("b", kWorker));
  tree.Start();
  const pid_t b = tree.Pid("worker:b");
  const pid_t killed = tree.Kill("worker:a", SIGKILL);
  tree.AwaitReady();
  EXPECT_NE(tree.Pid("worker:a"), killed);
  EXPECT_EQ(tree.Pid("worker:b"), b);
  EXPECT_EQ(tree.Cascades(), 0);
  EXPECT_EQ(tree.Result(tree.StartWorkflow("Hello", "a", "World")).result, "Hello, World!");
  EXPECT_EQ(tree.Stop(), 0);
}

TEST(TreeFixture, Failures_ThrowWithTheLogTail) {
  Tree tree;
  tree.Start();
  try {
    tree.Kill("no-such-child");
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no node 'no-such-child'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("supervisor.log"), std::string::npos) << e.what();
  }
  // A workflow that fails is a result, not an exception.
  const auto r = tree.Result(
      tree.StartWorkflow("KitchenSink", "default", {{"actions", {{{"fail", {{"message", "deliberately"}}}}}}}));
  EXPECT_EQ(r.status, "FAILED");
}

TEST(TreeFixture, MissingBinaries_ClearMessage) {
  Tree tree(TreeOptions().BinDir("/nonexistent"));
  try {
    tree.Start();
    FAIL() << "expected an exception";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("no hourglass-supervisor in '/nonexistent'"),
              std::string::npos);
  }
}

}  // namespace
