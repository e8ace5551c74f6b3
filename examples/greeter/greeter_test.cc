// A kill-based test of the greeter, written the way a user writes one: a real
// tree (the installed hourglass-supervisor, its dev server and bridge host,
// this project's greeter worker) in a temporary directory.

#include <gtest/gtest.h>
#include <hourglass/testing/tree.h>

// [START greeter-test]
TEST(Greeter, GreetsAcrossABridgeHostCrashAndAWorkerCrash) {
  hourglass::testing::Tree tree(
      hourglass::testing::TreeOptions().Queue("greeter", GREETER_WORKER).BinDir(HOURGLASS_BIN_DIR));
  tree.Start();
  tree.Kill("bridgehost");  // SIGKILL: the cascade replaces the worker too
  tree.AwaitReady();
  EXPECT_EQ(tree.Result(tree.StartWorkflow("Greeter", "greeter", "World")).result, "Hello, World!");
  tree.Kill("worker:greeter");  // only this queue restarts
  tree.AwaitReady();
  EXPECT_EQ(tree.Result(tree.StartWorkflow("Greeter", "greeter", "again")).result, "Hello, again!");
  EXPECT_EQ(tree.Cascades(), 1);
  EXPECT_EQ(tree.RestartCount("worker:greeter"), 1);
}
// [END greeter-test]
