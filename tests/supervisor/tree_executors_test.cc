// The executors group: process-isolated activity executors are spawned by
// their worker and adopted into the tree (AdoptChild) with the pid the
// worker reported. These scenarios pin what adoption means: no Spawn and no
// READY, stopped first on a tree stop, removed and never restarted when they
// end, refused like AddChild, and untouched by the cascades and crashes of
// the workers that spawned them (they still deliver their results).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "ipc/exit_codes.h"
#include "supervisor/core/hourglass_tree.h"
#include "tree_driver.h"

namespace hourglass::supervisor::core::fake_shell {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

const std::string kE1 = "executor:4001";
const std::string kE2 = "executor:4002";
const std::string kWa = "worker:a";
const std::string kWb = "worker:b";

// Hourglass's tree (no ready timeout, 10 s shutdowns) with workers a and b
// running, the launcher's part played by the test.
class ExecutorsTest : public ::testing::Test {
 protected:
  ExecutorsTest() : options_(MakeOptions()), d(HourglassTree(options_)) {}

  static HourglassTreeOptions MakeOptions() {
    HourglassTreeOptions options;
    options.ready_timeout.reset();
    return options;
  }

  void StartWithWorkers() {
    d.Start();
    d.Send(AddChild{kWorkersId, WorkerSpec("a", options_)});
    d.Send(AddChild{kWorkersId, WorkerSpec("b", options_)});
    EXPECT_THAT(d.Take(), ElementsAre("spawn devserver", "spawn bridgehost", "spawn worker:a",
                                      "spawn worker:b"));
    d.TakeLogs();
    d.TakeEvents();
  }
  void Adopt(const std::string& id, int pid) {
    d.Adopt(kExecutorsId, ExecutorSpec(id, options_), pid);
  }

  HourglassTreeOptions options_;
  Driver d;
};

TEST_F(ExecutorsTest, Executors_AdoptedChildRunsWithTheReportedPidWithoutSpawn) {
  StartWithWorkers();
  Adopt(kE1, 4001);
  // The process exists already: nothing to spawn, no READY to wait for.
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_THAT(d.TakeEvents(), ElementsAre("spawned " + kE1));
  EXPECT_THAT(d.TakeLogs(), ElementsAre("info request " + kE1));
  const NodeStatus s = d.Status(kE1);
  EXPECT_EQ(s.parent, kExecutorsId);
  EXPECT_EQ(ToString(s.state), std::string("running"));
  EXPECT_EQ(s.pid, 4001);
  EXPECT_EQ(s.restart, RestartType::kTemporary);
  EXPECT_EQ(s.restart_count, 0);
  ASSERT_TRUE(s.started_at.has_value());
  EXPECT_EQ(*s.started_at, d.now());
  // The snapshot (ctl status) lists it under its group.
  const auto snapshot = d.tree().Snapshot(d.now());
  EXPECT_TRUE(std::any_of(snapshot.begin(), snapshot.end(), [](const NodeStatus& n) {
    return n.id == kE1 && n.parent == kExecutorsId && n.pid == 4001;
  }));
}

TEST_F(ExecutorsTest, Executors_AdoptedChildStoppedFirstOnTreeStop) {
  StartWithWorkers();
  Adopt(kE1, 4001);
  Adopt(kE2, 4002);
  d.SetOnTerm(kE2, OnTerm::kIgnore);
  d.Take();
  d.Stop();
  // The executors group started last, so it stops first: both executors at
  // once (a dynamic group), and nothing else until the stubborn one is gone.
  EXPECT_THAT(
      d.Take(),
      ElementsAre("TERM " + kE2, "CONT " + kE2, "arm shutdown " + kE2 + " +10000ms", "TERM " + kE1,
                  "CONT " + kE1, "arm shutdown " + kE1 + " +10000ms", "cancel shutdown " + kE1));
  EXPECT_EQ(d.State(kWa), "running");
  // SIGKILL after the shutdown timeout, like any other child.
  d.Advance(std::chrono::milliseconds(10000));
  const Lines after = d.Take();
  ASSERT_GE(after.size(), 2u);
  EXPECT_EQ(after[0], "KILL " + kE2);
  EXPECT_EQ(after[1], "TERM worker:b");
  EXPECT_THAT(after, Contains("TERM bridgehost"));
  EXPECT_THAT(after.back(), "exit 0");
  // Stopped on purpose: no error reports.
  EXPECT_THAT(d.TakeLogs(), AllOf(Not(Contains(HasSubstr("shutdown_error"))),
                                  Not(Contains(HasSubstr("child_terminated")))));
  EXPECT_THAT(d.TakeEvents(), AllOf(Contains("removed " + kE1), Contains("removed " + kE2),
                                    Contains("stopped executors")));
}

TEST_F(ExecutorsTest, Executors_AdoptedChildExit_RemovedNeverRestarted) {
  StartWithWorkers();
  Adopt(kE1, 4001);
  Adopt(kE2, 4002);
  d.Take();
  d.TakeLogs();
  d.TakeEvents();
  // Delivered its result and exited: removed, not reported as an error.
  d.Exit(kE1, ExitStatus::Exited(0));
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_THAT(d.TakeEvents(), ElementsAre("exited " + kE1, "removed " + kE1));
  EXPECT_THAT(d.TakeLogs(), IsEmpty());
  EXPECT_FALSE(d.Exists(kE1));
  // Crashed (the attempt fails; the server retries it, not us): reported,
  // removed, never restarted, not counted against the group's intensity.
  d.Exit(kE2, ExitStatus::Signaled(SIGSEGV));
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_THAT(d.TakeLogs(), ElementsAre("error child_terminated " + kE2));
  EXPECT_FALSE(d.Exists(kE2));
  EXPECT_EQ(d.Status(kExecutorsId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.State(kExecutorsId), "running");
}

TEST_F(ExecutorsTest, Executors_ExitDetailReachesTheReport) {
  StartWithWorkers();
  Adopt(kE1, 4001);
  d.TakeLogs();
  d.Send(ChildExited{kE1, ExitStatus::Exited(3), "status collected by its worker"});
  ASSERT_FALSE(d.logs().empty());
  EXPECT_THAT(d.logs().back().text, AllOf(HasSubstr("exit 3 (status collected by its worker)"),
                                          HasSubstr("not restarted")));
  EXPECT_FALSE(d.Exists(kE1));
}

TEST_F(ExecutorsTest, Executors_AdoptIntoStoppedGroup_Refused) {
  // Before the tree starts, the group is not running.
  d.Adopt(kExecutorsId, ExecutorSpec(kE1, options_), 4001);
  EXPECT_THAT(d.Take(), ElementsAre("refused " + kE1 + ": group 'executors' is stopped"));
  EXPECT_FALSE(d.Exists(kE1));

  StartWithWorkers();
  Adopt(kE1, 4001);
  d.Take();
  // An id in use, a group that is not dynamic, a READY-gated spec, no pid.
  Adopt(kE1, 4001);
  d.Adopt(kSubsystemId, ExecutorSpec(kE2, options_), 4002);
  ChildSpec gated = ExecutorSpec(kE2, options_);
  gated.needs_ready = true;
  d.Adopt(kExecutorsId, gated, 4002);
  Adopt(kE2, 0);
  EXPECT_THAT(d.Take(), ElementsAre("refused " + kE1 + ": '" + kE1 + "' already exists",
                                    "refused " + kE2 + ": 'subsystem' is not a dynamic group",
                                    "refused " + kE2 + ": an adopted child cannot be READY-gated",
                                    "refused " + kE2 + ": no pid to adopt"));
  EXPECT_EQ(d.Status(kE1).pid, 4001);

  // While the tree stops, nothing joins the group.
  d.SetOnTerm(kE1, OnTerm::kIgnore);
  d.Stop();
  d.Take();
  Adopt(kE2, 4002);
  EXPECT_THAT(d.Take(), ElementsAre("refused " + kE2 + ": group 'executors' is stopping"));
  EXPECT_FALSE(d.Exists(kE2));
}

TEST_F(ExecutorsTest, Executors_WorkerCascadeDoesNotStopExecutors) {
  StartWithWorkers();
  Adopt(kE1, 4001);
  d.Take();
  d.TakeEvents();
  // The bridge host's crash cascades through the subsystem: the workers are
  // restarted, the executors (a sibling of the subsystem) are not touched.
  d.Crash(kBridgeHostId);
  d.Send(AddChild{kWorkersId, WorkerSpec("a", options_)});
  d.Send(AddChild{kWorkersId, WorkerSpec("b", options_)});
  Lines actions = d.Take();
  EXPECT_THAT(actions, Contains("spawn bridgehost"));
  EXPECT_THAT(actions, Not(Contains(HasSubstr(kE1))));
  EXPECT_THAT(d.TakeEvents(), Not(Contains(HasSubstr(kE1))));
  // A worker crash: restarted alone; its executor lives on.
  d.Crash(kWa);
  d.SendBatch({ChildExited{kWb, ExitStatus::Exited(exit_code::kBridgeLost)}});
  actions = d.Take();
  EXPECT_THAT(actions, AllOf(Contains("spawn worker:a"), Contains("spawn worker:b")));
  EXPECT_THAT(actions, Not(Contains(HasSubstr(kE1))));
  EXPECT_EQ(d.State(kE1), "running");
  EXPECT_EQ(d.Status(kE1).pid, 4001);
  EXPECT_EQ(d.Status(kExecutorsId).recent_restarts.size(), 0u);
  // And it still ends on its own terms, once.
  d.Exit(kE1, ExitStatus::Exited(0));
  EXPECT_FALSE(d.Exists(kE1));
}

TEST_F(ExecutorsTest, Executors_AdoptedAndExitedInOneBatch_NeverSignalled) {
  StartWithWorkers();
  // The executor ended before the loop fed its adoption: the batch keeps the
  // adoption first, and the stop that follows does not signal a reaped pid.
  d.SendBatch({AdoptChild{kExecutorsId, ExecutorSpec(kE1, options_), 4001},
               ChildExited{kE1, ExitStatus::Exited(0)}, StopTree{}});
  const Lines actions = d.Take();
  EXPECT_THAT(actions, Not(Contains(HasSubstr(kE1))));
  EXPECT_FALSE(d.Exists(kE1));
  EXPECT_THAT(d.TakeEvents(), AllOf(Contains("spawned " + kE1), Contains("removed " + kE1)));
}

}  // namespace
}  // namespace hourglass::supervisor::core::fake_shell
