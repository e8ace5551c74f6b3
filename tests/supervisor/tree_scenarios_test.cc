// Scenarios of the supervision core, named strategy/area x scenario like
// OTP's supervisor_SUITE: start order and readiness, spawn failures, stops
// and their races, intensity and escalation, dynamic groups, the watchdog,
// control requests, hanging restart loops, batches of exits, the status
// snapshot. Every test drives the core through the fake shell and asserts
// the exact actions.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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

const std::string kWa = "worker:a";
const std::string kWb = "worker:b";

// Hourglass's tree with readable sequences: no ready timeout (tested on its
// own), 10 s shutdowns.
HourglassTreeOptions Options() {
  HourglassTreeOptions options;
  options.ready_timeout.reset();
  return options;
}

// The Hourglass tree, with the launcher's part played by the test.
struct Harness {
  explicit Harness(HourglassTreeOptions tree_options = Options())
      : options(tree_options), d(HourglassTree(tree_options)) {}

  // Starts the tree and adds workers a and b.
  void StartWithWorkers() {
    d.Start();
    EXPECT_THAT(d.Take(), ElementsAre("spawn devserver", "spawn bridgehost"));
    AddWorker("a");
    AddWorker("b");
    EXPECT_THAT(d.Take(), ElementsAre("spawn worker:a", "spawn worker:b"));
    d.TakeLogs();
    d.TakeEvents();
  }
  void AddWorker(const std::string& queue) {
    d.Send(AddChild{kWorkersId, WorkerSpec(queue, options)});
  }

  HourglassTreeOptions options;
  Driver d;
};

struct HourglassTest : ::testing::Test, Harness {};

size_t Count(const Lines& lines, const std::string& line) {
  return static_cast<size_t>(std::count(lines.begin(), lines.end(), line));
}

// ---------------------------------------------------------------------------
// Start

TEST(Start, ChildrenStartLeftToRightEachAfterTheLastSpawned) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b"), Child("c")}));
  d.HoldSpawns("a");
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a"));  // b waits for a's spawn to be answered
  EXPECT_EQ(d.State("a"), "starting");
  d.CompleteSpawn("a");
  EXPECT_THAT(d.Take(), ElementsAre("spawn b", "spawn c"));
  EXPECT_THAT(d.TakeEvents(), ElementsAre("spawned a", "spawned b", "spawned c", "started app"));
  EXPECT_EQ(d.State("app"), "running");
}

TEST(Start, NextWaitsForReady) {
  Driver d(Sup("app", Strategy::kOneForOne, {ReadyChild("a"), Child("b")}));
  d.ManualReady("a");
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a"));
  EXPECT_EQ(d.State("a"), "waiting_ready");
  EXPECT_EQ(d.State("b"), "stopped");
  EXPECT_EQ(d.State("app"), "starting");
  d.Ready("a");
  EXPECT_THAT(d.Take(), ElementsAre("spawn b"));
  EXPECT_THAT(d.TakeEvents(), ElementsAre("spawned a", "ready a", "spawned b", "started app"));
}

TEST(Start, NestedSupervisorStartsFullyBeforeTheNextSibling) {
  Driver d(Sup(
      "app", Strategy::kOneForOne,
      {Child("a"), Sup("sub", Strategy::kRestForOne, {ReadyChild("b"), Child("c")}), Child("d")}));
  d.ManualReady("b");
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "spawn b"));
  EXPECT_EQ(d.State("sub"), "starting");
  d.Ready("b");
  EXPECT_THAT(d.Take(), ElementsAre("spawn c", "spawn d"));
  Lines events = d.TakeEvents();
  EXPECT_THAT(events, Contains("started sub"));
  EXPECT_LT(std::find(events.begin(), events.end(), "started sub"),
            std::find(events.begin(), events.end(), "spawned d"));
}

TEST(Start, HourglassTreeBridgeReadyBeforeWorkersGroup) {
  Driver d(HourglassTree(Options()));
  d.ManualReady(kDevServerId);
  d.ManualReady(kBridgeHostId);
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn devserver"));
  d.Ready(kDevServerId);
  EXPECT_THAT(d.Take(), ElementsAre("spawn bridgehost"));
  d.TakeEvents();
  // The launcher's cue comes only once the bridge host is READY.
  d.Ready(kBridgeHostId);
  EXPECT_THAT(d.TakeEvents(),
              ElementsAre("ready bridgehost", "started workers", "started subsystem",
                          "started executors", "started application"));
}

TEST(Start, TwiceRefused) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a")}));
  d.Start();
  d.Take();
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("refused app: the tree is already started"));
}

TEST(ReadyTimeout, ChildNeverReadyIsKilledAndCountsAsAbnormal) {
  ChildSpec a{
      .id = "a", .restart = RestartType::kTransient, .needs_ready = true, .ready_timeout = 1000ms};
  Driver d(Sup("app", Strategy::kOneForOne, {a, Child("b")}));
  d.ManualReady("a");
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm ready a +1000ms"));
  d.Advance(999ms);
  EXPECT_THAT(d.Take(), IsEmpty());
  d.Advance(1ms);
  // Transient, yet restarted: a kill for failure is abnormal.
  EXPECT_THAT(d.Take(), ElementsAre("KILL a", "spawn a", "arm ready a +1000ms"));
  EXPECT_THAT(d.TakeLogs(),
              AllOf(Contains("warning killed a"), Contains("error child_terminated a")));
  EXPECT_EQ(d.State("b"), "stopped");  // still gated
  d.Ready("a");
  EXPECT_THAT(d.Take(), ElementsAre("cancel ready a", "spawn b"));
  EXPECT_EQ(d.Status("app").recent_restarts.size(), 1u);
}

// ---------------------------------------------------------------------------
// Spawn failures (OTP try_again_restart; fault catalogue #26, #27)

TEST(SpawnFailure, RetriedByTimerAndCounted) {
  // Decision: a child that fails to spawn during the tree's first start is
  // handled like any failure (retried, counted), not OTP's "the supervisor
  // fails to start": an EAGAIN at boot must not end the tree, and a missing
  // binary still ends it quickly through intensity.
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}, 3));
  d.FailSpawns("a", 2);
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm restart a +0ms"));
  EXPECT_EQ(d.State("a"), "backing_off");
  EXPECT_EQ(d.State("app"), "starting");
  d.Tick();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm restart a +0ms"));
  d.Tick();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "spawn b"));
  EXPECT_EQ(d.Status("app").recent_restarts.size(), 2u);
  EXPECT_EQ(d.Status("a").restart_count, 2);
  EXPECT_EQ(Count(d.TakeLogs(), "error start_error a"), 2u);
  const Log& log = *std::find_if(d.logs().begin(), d.logs().end(),
                                 [](const Log& l) { return l.report == Report::kStartError; });
  EXPECT_THAT(log.text, HasSubstr("exec: No such file or directory"));
}

TEST(SpawnFailure, ShortOfResources_RetriedWithAGrowingDelayUncountedSiblingsUntouched) {
  // Intensity 1: one counted failure would already give up.
  Driver d(Sup("app", Strategy::kRestForOne, {Child("a"), Child("b"), Child("c")}, 1));
  d.Start();
  d.Take();
  d.HoldSpawns("b");
  d.Crash("b");  // counted: the one restart intensity allows
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms",
                                    "cancel shutdown c", "spawn b"));
  // Six spawns in a row fail for want of descriptors: none is counted, the
  // retries come 100, 200, 400, 800, 1600, 3200 ms apart, a is untouched.
  std::vector<std::string> expected_arms;
  for (int delay_ms : {100, 200, 400, 800, 1600, 3200}) {
    d.Send(SpawnFailed{"b", "launch b: pipe: Too many open files", true});
    EXPECT_THAT(d.Take(), ElementsAre("arm restart b +" + std::to_string(delay_ms) + "ms"));
    d.Advance(Duration{delay_ms});
    EXPECT_THAT(d.Take(), ElementsAre("spawn b"));
  }
  EXPECT_EQ(Count(d.TakeLogs(), "warning start_error b"), 6u);
  EXPECT_FALSE(d.exit_code().has_value());
  // At most 5 s apart.
  d.Send(SpawnFailed{"b", "launch b: fork: Resource temporarily unavailable", true});
  d.Send(SpawnFailed{"b", "launch b: fork: Resource temporarily unavailable", true});
  d.Take();
  d.Advance(Duration{5000});
  EXPECT_THAT(d.Take(), ElementsAre("spawn b"));
  d.Send(SpawnFailed{"b", "launch b: fork: Resource temporarily unavailable", true});
  EXPECT_THAT(d.Take(), ElementsAre("arm restart b +5000ms"));
  d.Advance(Duration{5000});
  // Resources back: the start plan goes on (b, then c) and the delay resets.
  d.CompleteSpawn("b");
  EXPECT_THAT(d.Take(), ElementsAre("spawn b", "spawn c"));
  EXPECT_EQ(d.Status("a").restart_count, 0);
  EXPECT_FALSE(d.exit_code().has_value());
}

TEST(SpawnFailure, RetriesSpacedByTheRestartDelay) {
  SupervisorSpec spec = Sup("app", Strategy::kOneForOne, {Child("a")});
  spec.restart_delay = 500ms;
  Driver d(spec);
  d.FailSpawns("a", 1);
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm restart a +500ms"));
  d.Advance(499ms);
  EXPECT_THAT(d.Take(), IsEmpty());
  d.Advance(1ms);
  EXPECT_THAT(d.Take(), ElementsAre("spawn a"));
}

TEST(SpawnFailure, MissingBinaryEscalatesFast) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}, 2));
  d.FailSpawns("a", -1);
  d.Start();
  d.Tick();
  d.Tick();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm restart a +0ms", "spawn a",
                                    "arm restart a +0ms", "spawn a", "exit 9"));
  EXPECT_EQ(d.exit_code(), exit_code::kGaveUp);
  EXPECT_THAT(d.TakeLogs(), Contains("error reached_max_restart_intensity app"));
}

TEST(SpawnFailure, RestForOneRetriesFromTheFailedChild) {
  Driver d(Sup("sup", Strategy::kRestForOne, {Child("a"), Child("b"), Child("c")}));
  d.Start();
  d.Take();
  d.FailSpawns("a", 1);
  d.Crash("a");
  EXPECT_THAT(d.Take(),
              ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms", "cancel shutdown c",
                          "TERM b", "CONT b", "arm shutdown b +5000ms", "cancel shutdown b",
                          "spawn a", "arm restart a +0ms"));
  EXPECT_EQ(d.State("sup"), "restarting");
  d.Tick();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "spawn b", "spawn c"));
  EXPECT_EQ(d.State("sup"), "running");
  EXPECT_EQ(d.Status("sup").recent_restarts.size(), 2u);  // the crash and the failed restart
}

// ---------------------------------------------------------------------------
// Stop (OTP sup_stop_* and sup_stop_race)

TEST(Stop, ReverseStartOrderWithTimeoutThenKill) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b"), Child("c")}));
  d.SetOnTerm("c", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms"));
  d.Advance(4999ms);
  EXPECT_THAT(d.Take(), IsEmpty());
  d.Advance(1ms);
  EXPECT_THAT(d.Take(), ElementsAre("KILL c", "TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "TERM a", "CONT a",
                                    "arm shutdown a +5000ms", "cancel shutdown a", "exit 0"));
  EXPECT_EQ(d.exit_code(), exit_code::kOk);
  Lines logs = d.TakeLogs();
  EXPECT_THAT(logs, Contains("warning killed c"));
  // Killed by our own SIGKILL after the timeout: a shutdown, not an error.
  EXPECT_THAT(logs, Not(Contains("warning shutdown_error c")));
  EXPECT_EQ(d.armed_timers(), 0u);
}

TEST(Stop, ChildStillWaitingForReadyLosesItsReadyTimer) {
  ChildSpec a{.id = "a", .needs_ready = true, .ready_timeout = 1000ms};
  Driver d(Sup("app", Strategy::kOneForOne, {a}));
  d.ManualReady("a");
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm ready a +1000ms"));
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("cancel ready a", "TERM a", "CONT a", "arm shutdown a +5000ms",
                                    "cancel shutdown a", "exit 0"));
  EXPECT_EQ(d.armed_timers(), 0u);
}

TEST(Stop, BrutalKillAndInfinity) {
  Driver d(Sup("app", Strategy::kOneForOne,
               {Child("a", RestartType::kPermanent, Shutdown::Infinity()),
                Child("b", RestartType::kPermanent, Shutdown::BrutalKill())}));
  d.SetOnTerm("a", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("KILL b", "TERM a", "CONT a"));
  d.Advance(std::chrono::hours(1));  // infinity: no timer, it waits
  EXPECT_THAT(d.Take(), IsEmpty());
  d.Exit("a", ExitStatus::Exited(0));
  EXPECT_THAT(d.Take(), ElementsAre("exit 0"));
}

TEST(Stop, ChildExitsOnItsOwnWhileStopping) {
  for (RestartType restart :
       {RestartType::kPermanent, RestartType::kTransient, RestartType::kTemporary}) {
    SCOPED_TRACE(ToString(restart));
    Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b", restart), Child("c")}));
    d.SetOnTerm("c", OnTerm::kIgnore);
    d.Start();
    d.Take();
    d.Stop();
    EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms"));
    d.TakeLogs();
    d.Crash("b");  // not signalled yet, but the stop has claimed it
    EXPECT_THAT(d.Take(), IsEmpty());
    EXPECT_THAT(d.TakeLogs(), ElementsAre("warning shutdown_error b"));
    d.Exit("c", ExitStatus::Exited(0));
    EXPECT_THAT(d.Take(), ElementsAre("cancel shutdown c", "TERM a", "CONT a",
                                      "arm shutdown a +5000ms", "cancel shutdown a", "exit 0"));
  }
}

TEST(Stop, ExitArrivingLongAfterTheKill) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.SetOnTerm("b", OnTerm::kIgnore);
  d.IgnoreKill("b");  // stuck in uninterruptible sleep
  d.Start();
  d.Take();
  d.Stop();
  d.Advance(5000ms);
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms", "KILL b"));
  // A watchdog report now does not send a second SIGKILL.
  d.Send(WatchdogExpired{"b"});
  d.Advance(std::chrono::minutes(1));
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_EQ(d.State("b"), "stopping");
  d.Exit("b", ExitStatus::Signaled(SIGKILL));
  EXPECT_THAT(d.Take(), ElementsAre("TERM a", "CONT a", "arm shutdown a +5000ms",
                                    "cancel shutdown a", "exit 0"));
  EXPECT_THAT(d.TakeLogs(), Not(Contains("warning shutdown_error b")));
}

TEST(Stop, AnswersSigtermWithExitZeroOrTheShutdownCode) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.SetOnTerm("a", OnTerm::kExitZero);
  d.SetOnTerm("b", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Stop();
  d.Exit("b", ExitStatus::Exited(exit_code::kShutdown));
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "TERM a", "CONT a",
                                    "arm shutdown a +5000ms", "cancel shutdown a", "exit 0"));
  EXPECT_THAT(d.TakeLogs(), Not(Contains(HasSubstr("shutdown_error"))));
}

TEST(Stop, WorkersBeforeBridgeHostAndDynamicGroupsAllAtOnce) {
  Harness t;
  t.StartWithWorkers();
  t.d.Send(AddChild{kExecutorsId, ExecutorSpec("exec:1", t.options)});
  t.d.Take();
  t.d.Stop();
  EXPECT_THAT(
      t.d.Take(),
      ElementsAre("TERM exec:1", "CONT exec:1", "arm shutdown exec:1 +10000ms",
                  "cancel shutdown exec:1",
                  // a dynamic group: both workers signalled before either exits
                  "TERM worker:b", "CONT worker:b", "arm shutdown worker:b +10000ms",
                  "TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                  "cancel shutdown worker:b", "cancel shutdown worker:a",
                  // then the bridge host, then the dev server
                  "TERM bridgehost", "CONT bridgehost", "arm shutdown bridgehost +10000ms",
                  "cancel shutdown bridgehost", "TERM devserver", "CONT devserver",
                  "arm shutdown devserver +10000ms", "cancel shutdown devserver", "exit 0"));
  EXPECT_THAT(t.d.TakeEvents(),
              AllOf(Contains("stopped workers"), Contains("stopped subsystem"),
                    Contains("stopped application"), Contains("removed worker:a")));
}

TEST(StopTree, BeforeStartExitsAtOnce) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a")}));
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("exit 0"));
  d.Start();  // the core is finished: nothing more happens
  EXPECT_THAT(d.Take(), IsEmpty());
}

TEST(StopTree, DuringCascadeTheRestartIsAbandoned) {
  Driver d(Sup("sup", Strategy::kRestForOne, {Child("a"), Child("b"), Child("c")}));
  d.SetOnTerm("c", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms"));
  d.Stop();
  EXPECT_THAT(d.Take(), IsEmpty());  // c's stop is already under way; b waits its turn
  d.Exit("c", ExitStatus::Exited(0));
  EXPECT_THAT(d.Take(), ElementsAre("cancel shutdown c", "TERM b", "CONT b",
                                    "arm shutdown b +5000ms", "cancel shutdown b", "exit 0"));
}

TEST(StopTree, DuringBridgeCascadeInHourglassTree) {
  Harness t;
  t.StartWithWorkers();
  t.d.SetOnTerm(kWa, OnTerm::kIgnore);
  t.d.Crash(kBridgeHostId);
  EXPECT_THAT(t.d.Take(),
              ElementsAre("TERM worker:b", "CONT worker:b", "arm shutdown worker:b +10000ms",
                          "TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                          "cancel shutdown worker:b"));
  t.d.Stop();
  // The executors group (empty) goes at once; the subsystem waits for its
  // workers, then the dev server goes; the bridge host is not restarted.
  EXPECT_THAT(t.d.Take(), IsEmpty());
  t.d.Advance(10000ms);
  EXPECT_THAT(t.d.Take(), ElementsAre("KILL worker:a", "TERM devserver", "CONT devserver",
                                      "arm shutdown devserver +10000ms",
                                      "cancel shutdown devserver", "exit 0"));
}

TEST(StopTree, WhileRestartTimerPending) {
  SupervisorSpec spec = Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")});
  spec.restart_delay = 1000ms;
  Driver d(spec);
  d.Start();
  d.Take();
  d.Advance(100ms);
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("arm restart a +900ms"));
  EXPECT_EQ(d.State("a"), "backing_off");
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "cancel restart a", "exit 0"));
  EXPECT_EQ(d.armed_timers(), 0u);
}

TEST(StopTree, WhileSpawnInFlight) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.HoldSpawns("b");
  d.Start();
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "spawn b"));
  d.Stop();
  EXPECT_THAT(d.Take(), IsEmpty());  // b has no pid yet
  d.CompleteSpawn("b");
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "TERM a", "CONT a",
                                    "arm shutdown a +5000ms", "cancel shutdown a", "exit 0"));
}

TEST(StopTree, WhileSpawnInFlightThatFails) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.HoldSpawns("b");
  d.Start();
  d.Take();
  d.Stop();
  d.Send(SpawnFailed{"b", "fork: Resource temporarily unavailable"});
  EXPECT_THAT(d.Take(), ElementsAre("TERM a", "CONT a", "arm shutdown a +5000ms",
                                    "cancel shutdown a", "exit 0"));
  EXPECT_THAT(d.TakeLogs(), Contains("warning start_error b"));
}

TEST(StopTree, SecondStopChangesNothing) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.SetOnTerm("b", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms"));
  d.TakeLogs();
  d.Stop();
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_THAT(d.TakeLogs(), ElementsAre("info request app"));
  d.Advance(5000ms);
  EXPECT_THAT(d.Take(), ElementsAre("KILL b", "TERM a", "CONT a", "arm shutdown a +5000ms",
                                    "cancel shutdown a", "exit 0"));
}

TEST(StopTree, WhileGivingUpKeepsTheGaveUpCode) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}, 0));
  d.SetOnTerm("b", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms"));
  d.Stop();
  EXPECT_THAT(d.Take(), IsEmpty());
  d.Exit("b", ExitStatus::Signaled(SIGTERM));
  EXPECT_THAT(d.Take(), ElementsAre("cancel shutdown b", "exit 9"));
}

// ---------------------------------------------------------------------------
// Strategies in Hourglass's tree

TEST_F(HourglassTest, RestForOne_BridgeCrashRestartsWorkersInOrder) {
  StartWithWorkers();
  const int old_a = d.pid(kWa);
  d.Crash(kBridgeHostId);
  EXPECT_THAT(
      d.Take(),
      ElementsAre("TERM worker:b", "CONT worker:b", "arm shutdown worker:b +10000ms",
                  "TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                  "cancel shutdown worker:b", "cancel shutdown worker:a", "spawn bridgehost"));
  EXPECT_THAT(d.TakeEvents(),
              ElementsAre("exited bridgehost", "cascade_begun subsystem <- bridgehost",
                          "exited worker:b", "removed worker:b", "exited worker:a",
                          "removed worker:a", "stopped workers", "spawned bridgehost",
                          "ready bridgehost", "started workers", "cascade_done subsystem"));
  // The launcher answers "started workers" by adding the queues again.
  AddWorker("a");
  AddWorker("b");
  EXPECT_THAT(d.Take(), ElementsAre("spawn worker:a", "spawn worker:b"));
  EXPECT_NE(d.pid(kWa), old_a);
  EXPECT_EQ(d.Status(kBridgeHostId).restart_count, 1);
  EXPECT_EQ(d.Status(kSubsystemId).recent_restarts.size(), 1u);
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.Status(kApplicationId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.State(kDevServerId), "running");
  EXPECT_THAT(d.TakeLogs(), Contains("error child_terminated bridgehost"));
}

TEST_F(HourglassTest, OneForOne_WorkerCrashRestartsOnlyThatWorker) {
  StartWithWorkers();
  const int b = d.pid(kWb);
  const int bridge = d.pid(kBridgeHostId);
  d.Crash(kWa);
  EXPECT_THAT(d.Take(), ElementsAre("spawn worker:a"));
  EXPECT_EQ(d.pid(kWb), b);
  EXPECT_EQ(d.pid(kBridgeHostId), bridge);
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 1u);
  EXPECT_EQ(d.Status(kSubsystemId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.Status(kWa).restart_count, 1);
}

TEST_F(HourglassTest, RestForOne_WorkersGroupGivingUpRestartsOnlyTheGroup) {
  StartWithWorkers();
  // workers: 5 restarts in 10 s; the 6th crash makes the group give up.
  for (int i = 0; i < 5; ++i) d.Crash(kWa);
  d.Take();
  d.TakeEvents();
  d.Crash(kWa);
  // The group stops worker:b and is restarted (empty) by the subsystem; the
  // bridge host, before it in start order, is untouched.
  EXPECT_THAT(d.Take(), ElementsAre("TERM worker:b", "CONT worker:b",
                                    "arm shutdown worker:b +10000ms", "cancel shutdown worker:b"));
  EXPECT_THAT(d.TakeEvents(), ElementsAre("exited worker:a", "gave_up workers", "exited worker:b",
                                          "removed worker:b", "removed worker:a", "stopped workers",
                                          "cascade_begun subsystem <- workers", "started workers",
                                          "cascade_done subsystem"));
  EXPECT_EQ(d.Status(kSubsystemId).recent_restarts.size(), 1u);
  EXPECT_EQ(d.Status(kBridgeHostId).restart_count, 0);
  EXPECT_FALSE(d.Exists(kWa));
}

TEST(RestForOne, CascadeRestartsATransientThatHadEndedNormally) {
  // OTP keeps a transient child's spec after a normal exit (pid undefined),
  // and a later cascade over it starts it again.
  Driver d(Sup("sup", Strategy::kRestForOne,
               {Child("a"), Child("b", RestartType::kTransient), Child("c")}));
  d.Start();
  d.Take();
  d.Exit("b", ExitStatus::Exited(0));
  EXPECT_THAT(d.Take(), IsEmpty());
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms",
                                    "cancel shutdown c", "spawn a", "spawn b", "spawn c"));
}

TEST(Temporary, NotRestartedEvenInCascade) {
  Driver d(Sup("sup", Strategy::kRestForOne,
               {Child("a"), Child("t", RestartType::kTemporary), Child("c")}));
  d.Start();
  d.Take();
  d.Crash("a");
  EXPECT_THAT(
      d.Take(),
      ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms", "cancel shutdown c", "TERM t",
                  "CONT t", "arm shutdown t +5000ms", "cancel shutdown t", "spawn a", "spawn c"));
  EXPECT_FALSE(d.Exists("t"));
  EXPECT_THAT(d.TakeEvents(), Contains("removed t"));
}

TEST(Temporary, ComesBackWhenItsSupervisorIsRestarted) {
  // A restarted supervisor starts from its spec, as OTP re-runs init/1.
  Driver d(Sup(
      "app", Strategy::kOneForOne,
      {Sup("sub", Strategy::kOneForOne, {Child("a"), Child("t", RestartType::kTemporary)}, 0)}));
  d.Start();
  d.Take();
  d.Crash("t");
  EXPECT_FALSE(d.Exists("t"));
  d.Crash("a");  // sub gives up (intensity 0); app restarts it
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "spawn t"));
  EXPECT_EQ(d.Status("a").restart_count, 1);
  EXPECT_EQ(d.Status("sub").restart_count, 1);
}

TEST_F(HourglassTest, Temporary_ExecutorCrashIsDroppedNotCounted) {
  StartWithWorkers();
  d.Send(AddChild{kExecutorsId, ExecutorSpec("exec:1", options)});
  EXPECT_THAT(d.Take(), ElementsAre("spawn exec:1"));
  d.Crash("exec:1");
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_FALSE(d.Exists("exec:1"));
  EXPECT_EQ(d.Status(kExecutorsId).recent_restarts.size(), 0u);
  EXPECT_THAT(d.TakeLogs(), Contains("error child_terminated exec:1"));
}

TEST(Transient, NormalExitNotRestarted) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a", RestartType::kTransient), Child("b")}));
  d.Start();
  d.Take();
  d.TakeLogs();
  d.Exit("a", ExitStatus::Exited(0));
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_EQ(d.State("a"), "stopped");
  EXPECT_THAT(d.TakeLogs(), Not(Contains("error child_terminated a")));
  EXPECT_EQ(d.Status("app").recent_restarts.size(), 0u);
}

TEST_F(HourglassTest, Transient_ShutdownExitCodeNotRestarted) {
  StartWithWorkers();
  d.Exit(kWa, ExitStatus::Exited(exit_code::kShutdown));
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_FALSE(d.Exists(kWa));  // a dynamic group forgets it
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_THAT(d.TakeEvents(), ElementsAre("exited worker:a", "removed worker:a"));
}

TEST_F(HourglassTest, Transient_BridgeLostExitIsAbnormal) {
  StartWithWorkers();
  d.Exit(kWa, ExitStatus::Exited(exit_code::kBridgeLost));
  EXPECT_THAT(d.Take(), ElementsAre("spawn worker:a"));
}

// ---------------------------------------------------------------------------
// Intensity

TEST(Intensity, SlidingWindowGivesUpOnePastTheLimit) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a")}, 3, 5000ms));
  d.Start();
  d.Take();
  for (int i = 0; i < 3; ++i) {
    d.Crash("a");
    EXPECT_THAT(d.Take(), ElementsAre("spawn a")) << i;
    d.Advance(1s);
  }
  d.Crash("a");  // the 4th inside 5 s
  EXPECT_THAT(d.Take(), ElementsAre("exit 9"));
  EXPECT_THAT(d.TakeLogs(), Contains("error reached_max_restart_intensity app"));
  const Log& log = *std::find_if(d.logs().begin(), d.logs().end(), [](const Log& l) {
    return l.report == Report::kReachedMaxRestartIntensity;
  });
  EXPECT_THAT(log.text, HasSubstr("4 restarts within 5000ms (intensity 3)"));
}

TEST(Intensity, OldRestartsLeaveTheWindow) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a")}, 3, 5000ms));
  d.Start();
  for (int i = 0; i < 3; ++i) {
    d.Crash("a");
    d.Advance(1s);
  }
  d.Advance(2001ms);  // the first restart is now 5001 ms old
  d.Take();
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("spawn a"));
  EXPECT_EQ(d.Status("app").recent_restarts.size(), 3u);
}

TEST(Intensity, ZeroNeverRestarts) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}, 0));
  d.Start();
  d.Take();
  d.Exit("a", ExitStatus::Exited(0));  // permanent: even a normal exit needs a restart
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "exit 9"));
}

TEST(Intensity, CascadeCountsOnce) {
  HourglassTreeOptions options = Options();
  options.subsystem.intensity = 1;
  Harness t(options);
  t.StartWithWorkers();
  t.d.Crash(kBridgeHostId);
  t.d.Take();
  EXPECT_EQ(t.d.Status(kSubsystemId).recent_restarts.size(), 1u);
  EXPECT_EQ(t.d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_EQ(t.d.State(kSubsystemId), "running");
  t.AddWorker("a");
  t.d.Advance(1s);
  t.d.TakeEvents();
  t.d.Crash(kBridgeHostId);  // the second inside 5 s: the subsystem gives up
  EXPECT_THAT(t.d.TakeEvents(), Contains("gave_up subsystem"));
  EXPECT_EQ(t.d.Status(kApplicationId).recent_restarts.size(), 1u);
}

// ---------------------------------------------------------------------------
// Escalation

TEST(Escalation, SubsystemGivesUpParentRestartsIt) {
  HourglassTreeOptions options = Options();
  options.subsystem.intensity = 0;
  Harness t(options);
  t.d.Start();
  t.AddWorker("a");
  t.d.Take();
  t.d.TakeEvents();
  t.d.Crash(kBridgeHostId);
  EXPECT_THAT(t.d.Take(),
              ElementsAre("TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                          "cancel shutdown worker:a", "spawn bridgehost"));
  EXPECT_THAT(
      t.d.TakeEvents(),
      ElementsAre("exited bridgehost", "gave_up subsystem", "exited worker:a", "removed worker:a",
                  "stopped workers", "stopped subsystem", "spawned bridgehost", "ready bridgehost",
                  "started workers", "started subsystem"));
  Lines logs = t.d.TakeLogs();
  EXPECT_THAT(logs, Contains("error reached_max_restart_intensity subsystem"));
  EXPECT_THAT(logs, Contains("error child_terminated subsystem"));
  EXPECT_EQ(t.d.Status(kApplicationId).recent_restarts.size(), 1u);
  EXPECT_EQ(t.d.Status(kSubsystemId).restart_count, 1);
  EXPECT_EQ(t.d.Status(kSubsystemId).recent_restarts.size(), 0u);  // a fresh history
  EXPECT_EQ(t.d.Status(kBridgeHostId).restart_count, 1);
  EXPECT_EQ(t.d.State(kDevServerId), "running");
}

TEST(Escalation, RootGivesUpExitsWithGaveUp) {
  HourglassTreeOptions options = Options();
  options.subsystem.intensity = 0;
  options.application.intensity = 1;
  Harness t(options);
  t.d.Start();
  t.d.Crash(kBridgeHostId);
  t.d.Take();
  t.d.Advance(1s);
  t.d.Crash(kBridgeHostId);
  EXPECT_THAT(t.d.Take(),
              ElementsAre("TERM devserver", "CONT devserver", "arm shutdown devserver +10000ms",
                          "cancel shutdown devserver", "exit 9"));
  EXPECT_EQ(t.d.exit_code(), exit_code::kGaveUp);
  Lines logs = t.d.TakeLogs();
  EXPECT_THAT(logs, Contains("error reached_max_restart_intensity application"));
  EXPECT_THAT(logs, Contains("error progress application"));  // "tree stopped; exiting with 9"
}

TEST(Escalation, TransientSupervisorIsNotRestartedAfterGivingUp) {
  // OTP: a supervisor that gives up exits with reason `shutdown`, which is
  // normal to a transient parent entry: escalation needs a permanent one.
  SupervisorSpec sub = Sup("sub", Strategy::kOneForOne, {Child("a")}, 0);
  sub.restart = RestartType::kTransient;
  Driver d(Sup("app", Strategy::kOneForOne, {sub, Child("b")}));
  d.Start();
  d.Take();
  d.TakeLogs();
  d.Crash("a");
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_EQ(d.State("sub"), "stopped");
  EXPECT_EQ(d.State("b"), "running");
  EXPECT_EQ(d.State("app"), "running");
  EXPECT_THAT(d.TakeLogs(), Not(Contains("error child_terminated sub")));
}

TEST(Escalation, CrashLoopingWorkerBudgetIsTheProductOfIntensities) {
  // Fault catalogue #13: each level gives up after intensity + 1 failures,
  // so the root exits after (1+1) x (1+1) x (1+1) crashes of one worker.
  HourglassTreeOptions options = Options();
  options.workers.intensity = 1;
  options.subsystem.intensity = 1;
  options.application.intensity = 1;
  Harness t(options);
  t.d.Start();
  t.AddWorker("a");
  int crashes = 0;
  while (!t.d.exit_code() && crashes < 100) {
    t.d.Crash(kWa);
    ++crashes;
    // The launcher: every time the group starts, the queue comes back.
    Lines events = t.d.TakeEvents();
    if (!t.d.exit_code() && Count(events, "started workers") > 0) t.AddWorker("a");
  }
  EXPECT_EQ(crashes, 8);
  EXPECT_EQ(t.d.exit_code(), exit_code::kGaveUp);
}

// ---------------------------------------------------------------------------
// Dynamic groups

TEST_F(HourglassTest, Dynamic_AddAndStopWorker) {
  StartWithWorkers();
  EXPECT_EQ(d.State(kWa), "running");
  d.Send(StopChild{kWa});
  EXPECT_THAT(d.Take(), ElementsAre("TERM worker:a", "CONT worker:a",
                                    "arm shutdown worker:a +10000ms", "cancel shutdown worker:a"));
  EXPECT_FALSE(d.Exists(kWa));
  EXPECT_THAT(d.TakeEvents(), ElementsAre("exited worker:a", "removed worker:a"));
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.State(kWb), "running");
  // The queue can be started again.
  AddWorker("a");
  EXPECT_THAT(d.Take(), ElementsAre("spawn worker:a"));
  EXPECT_EQ(d.Status(kWa).restart_count, 0);
}

TEST_F(HourglassTest, Dynamic_RequestsRefused) {
  StartWithWorkers();
  d.Send(AddChild{kSubsystemId, WorkerSpec("x", options)});
  d.Send(AddChild{kWorkersId, WorkerSpec("a", options)});
  d.Send(AddChild{kWorkersId, ChildSpec{.id = ""}});
  d.Send(StopChild{"nope"});
  d.Send(StopChild{kApplicationId});
  EXPECT_THAT(d.Take(),
              ElementsAre("refused worker:x: 'subsystem' is not a dynamic group",
                          "refused worker:a: 'worker:a' already exists",
                          "refused : a child has an empty id", "refused nope: no such node",
                          "refused application: the root is stopped with StopTree"));
  // While a cascade has claimed the group, nothing is added to it.
  d.SetOnTerm(kWa, OnTerm::kIgnore);
  d.Crash(kBridgeHostId);
  d.Take();
  d.Send(AddChild{kWorkersId, WorkerSpec("c", options)});
  d.Send(StopChild{kWa});
  EXPECT_THAT(d.Take(), ElementsAre("refused worker:c: group 'workers' is stopping",
                                    "refused worker:a: supervisor 'workers' is stopping"));
}

TEST_F(HourglassTest, Dynamic_GroupRestartForgetsItsChildren) {
  StartWithWorkers();
  d.Crash(kBridgeHostId);
  d.Take();
  EXPECT_FALSE(d.Exists(kWa));
  EXPECT_FALSE(d.Exists(kWb));
  EXPECT_EQ(d.State(kWorkersId), "running");
}

// ---------------------------------------------------------------------------
// Watchdog (fault catalogue #16, #17)

TEST_F(HourglassTest, Watchdog_ExpiredChildKilledAndRestarted) {
  StartWithWorkers();
  d.Send(WatchdogExpired{kWa});
  EXPECT_THAT(d.Take(), ElementsAre("KILL worker:a", "spawn worker:a"));
  EXPECT_THAT(d.TakeLogs(), AllOf(Contains("warning killed worker:a"),
                                  Contains("error child_terminated worker:a")));
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 1u);
  const Log& log = *std::find_if(d.logs().begin(), d.logs().end(),
                                 [](const Log& l) { return l.report == Report::kChildTerminated; });
  EXPECT_THAT(log.text, HasSubstr("watchdog: no heartbeat (killed by SIGKILL)"));
}

TEST_F(HourglassTest, Watchdog_SilentBridgeHostCascades) {
  StartWithWorkers();
  d.Send(WatchdogExpired{kBridgeHostId});
  EXPECT_THAT(d.Take(),
              ElementsAre("KILL bridgehost", "TERM worker:b", "CONT worker:b",
                          "arm shutdown worker:b +10000ms", "TERM worker:a", "CONT worker:a",
                          "arm shutdown worker:a +10000ms", "cancel shutdown worker:b",
                          "cancel shutdown worker:a", "spawn bridgehost"));
}

TEST(Watchdog, WhileStoppingKillsAtOnce) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.SetOnTerm("b", OnTerm::kIgnore);  // SIGSTOPped
  d.Start();
  d.Take();
  d.Stop();
  d.Send(WatchdogExpired{"b"});
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "KILL b", "TERM a", "CONT a",
                                    "arm shutdown a +5000ms", "cancel shutdown a", "exit 0"));
}

TEST(Watchdog, IgnoredForChildrenWithoutAProcess) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a")}));
  d.Send(WatchdogExpired{"a"});
  d.Send(WatchdogExpired{"app"});
  d.Send(WatchdogExpired{"nope"});
  EXPECT_THAT(d.Take(), IsEmpty());
}

// ---------------------------------------------------------------------------
// RestartChild (ctl restart, ctl reload-bridge)

TEST_F(HourglassTest, RestartChild_OneForOneStopsAndStartsNotCounted) {
  StartWithWorkers();
  d.Send(RestartChild{kWa});
  EXPECT_THAT(d.Take(),
              ElementsAre("TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                          "cancel shutdown worker:a", "spawn worker:a"));
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.Status(kWa).restart_count, 1);
  EXPECT_THAT(d.TakeLogs(), Not(Contains("error child_terminated worker:a")));
}

TEST_F(HourglassTest, RestartChild_BridgeCascadesLikeACrashButIsNotCounted) {
  StartWithWorkers();
  d.Send(RestartChild{kBridgeHostId});
  EXPECT_THAT(d.Take(),
              ElementsAre("TERM worker:b", "CONT worker:b", "arm shutdown worker:b +10000ms",
                          "TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                          "cancel shutdown worker:b", "cancel shutdown worker:a", "TERM bridgehost",
                          "CONT bridgehost", "arm shutdown bridgehost +10000ms",
                          "cancel shutdown bridgehost", "spawn bridgehost"));
  EXPECT_EQ(d.Status(kSubsystemId).recent_restarts.size(), 0u);
  EXPECT_THAT(d.TakeEvents(),
              AllOf(Contains("cascade_begun subsystem <- bridgehost"), Contains("started workers"),
                    Contains("cascade_done subsystem")));
}

TEST_F(HourglassTest, RestartChild_WholeSubsystem) {
  StartWithWorkers();
  d.Send(RestartChild{kSubsystemId});
  EXPECT_THAT(d.Take(),
              ElementsAre("TERM worker:b", "CONT worker:b", "arm shutdown worker:b +10000ms",
                          "TERM worker:a", "CONT worker:a", "arm shutdown worker:a +10000ms",
                          "cancel shutdown worker:b", "cancel shutdown worker:a", "TERM bridgehost",
                          "CONT bridgehost", "arm shutdown bridgehost +10000ms",
                          "cancel shutdown bridgehost", "spawn bridgehost"));
  EXPECT_EQ(d.Status(kApplicationId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.State(kSubsystemId), "running");
}

TEST_F(HourglassTest, RestartChild_Refused) {
  StartWithWorkers();
  d.Send(AddChild{kExecutorsId, ExecutorSpec("exec:1", options)});
  d.Take();
  d.Send(RestartChild{"nope"});
  d.Send(RestartChild{kApplicationId});
  d.Send(RestartChild{"exec:1"});
  EXPECT_THAT(d.Take(), ElementsAre("refused nope: no such node",
                                    "refused application: the root cannot be restarted",
                                    "refused exec:1: a temporary child is never restarted"));
}

// ---------------------------------------------------------------------------
// Hanging restart loops (OTP-9549)

SupervisorSpec LoopingSpec(int intensity) {
  SupervisorSpec spec = Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}, intensity);
  spec.restart_delay = 1000ms;
  return spec;
}

TEST(HangingRestartLoop, StatusShowsBackingOffRequestsRefusedStopStillWorks) {
  Driver d(LoopingSpec(100));
  d.Start();
  d.Take();
  d.FailSpawns("a", -1);
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("arm restart a +1000ms"));
  for (int i = 0; i < 3; ++i) {
    d.Advance(1000ms);
    EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm restart a +1000ms")) << i;
  }
  EXPECT_EQ(d.State("a"), "backing_off");
  EXPECT_EQ(d.Status("a").restart_count, 4);
  EXPECT_EQ(d.Status("app").recent_restarts.size(), 4u);
  d.Send(RestartChild{"a"});
  EXPECT_THAT(d.Take(), ElementsAre("refused a: 'a' is backing_off"));
  d.Stop();
  EXPECT_THAT(d.Take(), ElementsAre("TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "cancel restart a", "exit 0"));
}

TEST(HangingRestartLoop, StopChildEndsTheLoop) {
  Driver d(LoopingSpec(100));
  d.Start();
  d.FailSpawns("a", -1);
  d.Crash("a");
  d.Advance(1000ms);
  d.Take();
  d.Send(StopChild{"a"});
  EXPECT_THAT(d.Take(), ElementsAre("cancel restart a"));
  EXPECT_EQ(d.State("a"), "stopped");  // a static child keeps its spec
  d.Advance(std::chrono::minutes(1));
  EXPECT_THAT(d.Take(), IsEmpty());
  // ctl restart brings it back (it still fails to spawn here).
  d.Send(RestartChild{"a"});
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "arm restart a +1000ms"));
}

TEST(HangingRestartLoop, GivesUpOnceRetriesExceedIntensity) {
  Driver d(LoopingSpec(3));
  d.Start();
  d.Take();
  d.FailSpawns("a", -1);
  d.Crash("a");       // restart 1
  d.Advance(1000ms);  // failed spawn: restart 2
  d.Advance(1000ms);  // restart 3
  d.Take();
  d.Advance(1000ms);  // the 4th inside 5 s
  EXPECT_THAT(d.Take(), ElementsAre("spawn a", "TERM b", "CONT b", "arm shutdown b +5000ms",
                                    "cancel shutdown b", "exit 9"));
}

// ---------------------------------------------------------------------------
// Exits reaped together (fault catalogue #2, #15)

TEST_F(HourglassTest, Batch_BridgeAndWorkerReapedTogetherMakeOneCascade) {
  StartWithWorkers();
  // The worker noticed the bridge host's death first, but both are reaped
  // in one sweep: the bridge host's exit is handled first, and worker:a,
  // already reaped, is not signalled (its pid may be reused already).
  d.SendBatch({ChildExited{kWa, ExitStatus::Exited(exit_code::kBridgeLost)},
               ChildExited{kBridgeHostId, ExitStatus::Signaled(SIGKILL)}});
  EXPECT_THAT(d.Take(),
              ElementsAre("TERM worker:b", "CONT worker:b", "arm shutdown worker:b +10000ms",
                          "cancel shutdown worker:b", "spawn bridgehost"));
  EXPECT_THAT(d.TakeEvents(),
              ElementsAre("exited bridgehost", "cascade_begun subsystem <- bridgehost",
                          "exited worker:a", "removed worker:a", "exited worker:b",
                          "removed worker:b", "stopped workers", "spawned bridgehost",
                          "ready bridgehost", "started workers", "cascade_done subsystem"));
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.Status(kSubsystemId).recent_restarts.size(), 1u);
  EXPECT_THAT(d.TakeLogs(), Not(Contains("error child_terminated worker:a")));
}

TEST_F(HourglassTest, Batch_OneByOneTheWorkerWouldCountAsItsOwnFailure) {
  StartWithWorkers();
  d.Exit(kWa, ExitStatus::Exited(exit_code::kBridgeLost));
  EXPECT_THAT(d.Take(), ElementsAre("spawn worker:a"));
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 1u);
}

// ---------------------------------------------------------------------------
// Snapshot and stale events

TEST_F(HourglassTest, Snapshot_EveryNodeWithStatePidRestartsAndWindow) {
  StartWithWorkers();
  d.Advance(2s);
  d.Crash(kWb);
  Lines rows;
  for (const NodeStatus& s : d.tree().Snapshot(d.now())) {
    rows.push_back(
        std::string(s.depth * 2, ' ') + s.id + " " + ToString(s.state) +
        " pid=" + std::to_string(s.pid) + " restarts=" + std::to_string(s.restart_count) +
        (s.kind == NodeKind::kSupervisor ? " window=" + std::to_string(s.recent_restarts.size())
                                         : ""));
  }
  EXPECT_THAT(rows, ElementsAre("application running pid=0 restarts=0 window=0",
                                "  devserver running pid=100 restarts=0",
                                "  subsystem running pid=0 restarts=0 window=0",
                                "    bridgehost running pid=101 restarts=0",
                                "    workers running pid=0 restarts=0 window=1",
                                "      worker:a running pid=102 restarts=0",
                                "      worker:b running pid=104 restarts=1",
                                "  executors running pid=0 restarts=0 window=0"));
  const NodeStatus wb = d.Status(kWb);
  EXPECT_EQ(wb.started_at, d.t0() + 2s);
  EXPECT_EQ(wb.parent, kWorkersId);
  EXPECT_TRUE(wb.needs_ready);
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts, std::vector<TimePoint>{d.t0() + 2s});
  // The window forgets with time.
  d.Advance(10001ms);
  EXPECT_EQ(d.Status(kWorkersId).recent_restarts.size(), 0u);
  EXPECT_EQ(d.Status(kSubsystemId).strategy, Strategy::kRestForOne);
}

TEST(Snapshot, StopPendingWhileACascadeWaits) {
  Driver d(Sup("sup", Strategy::kRestForOne, {Child("a"), Child("b"), Child("c")}));
  d.SetOnTerm("c", OnTerm::kIgnore);
  d.Start();
  d.Crash("a");
  EXPECT_EQ(d.State("sup"), "restarting");
  EXPECT_EQ(d.State("c"), "stopping");
  EXPECT_EQ(d.State("b"), "running");
  EXPECT_TRUE(d.Status("b").stop_pending);
  EXPECT_FALSE(d.Status("a").stop_pending);
}

TEST(Stale, LateEventsAreIgnored) {
  Driver d(Sup("app", Strategy::kOneForOne, {Child("a"), Child("b")}));
  d.Start();
  d.Take();
  d.TakeLogs();
  d.Send(TimerFired{12345});
  d.Send(ChildSpawned{"a", 999});
  d.Send(ChildReady{"nope"});
  d.Send(ChildExited{"nope", ExitStatus::Exited(1)});
  d.Send(SpawnFailed{"b", "late"});
  EXPECT_THAT(d.Take(), IsEmpty());
  EXPECT_THAT(d.TakeLogs(), ElementsAre("debug ignored a", "debug ignored b"));
  // A timer cancelled by the core but already queued by the shell.
  d.SetOnTerm("b", OnTerm::kIgnore);
  d.Stop();
  d.Take();
  d.Exit("b", ExitStatus::Exited(0));  // cancels the shutdown timer ...
  d.Send(TimerFired{1});               // ... which fires anyway
  EXPECT_EQ(d.exit_code(), exit_code::kOk);
}

}  // namespace
}  // namespace hourglass::supervisor::core::fake_shell
