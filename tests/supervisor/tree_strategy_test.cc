// Strategy x restart type x exit reason, in the spirit of OTP's
// supervisor_SUITE normal_termination / shutdown_termination /
// abnormal_termination groups: the middle child of [a, b, c] ends on its
// own, and the exact restarts (or their absence), reports and intensity
// accounting are checked for every combination.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <tuple>

#include "ipc/exit_codes.h"
#include "tree_driver.h"

namespace hourglass::supervisor::core {
// Readable parameters in test names and failure messages (found by ADL).
void PrintTo(Strategy s, std::ostream* os) { *os << ToString(s); }
void PrintTo(RestartType r, std::ostream* os) { *os << ToString(r); }
}  // namespace hourglass::supervisor::core

namespace hourglass::supervisor::core::fake_shell {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

struct ExitCase {
  const char* name;
  ExitStatus status;
  ExitClass expected_class;
};

const ExitCase kExits[] = {
    {"exit0", ExitStatus::Exited(0), ExitClass::kNormal},
    {"shutdown_code", ExitStatus::Exited(exit_code::kShutdown), ExitClass::kShutdown},
    {"exit1", ExitStatus::Exited(exit_code::kInternal), ExitClass::kAbnormal},
    {"sigsegv", ExitStatus::Signaled(SIGSEGV, true), ExitClass::kAbnormal},
    // Not sent by the supervisor: a crash, not a shutdown.
    {"foreign_sigterm", ExitStatus::Signaled(SIGTERM), ExitClass::kAbnormal},
};

using Param = std::tuple<Strategy, RestartType, size_t>;

class StrategyTable : public ::testing::TestWithParam<Param> {};

TEST_P(StrategyTable, MiddleChildEndsOnItsOwn) {
  const auto [strategy, restart, exit_index] = GetParam();
  const ExitCase& exit = kExits[exit_index];
  Driver d(Sup("sup", strategy, {Child("a"), Child("b", restart), Child("c")}, 10));
  d.Start();
  ASSERT_THAT(d.Take(), ElementsAre("spawn a", "spawn b", "spawn c"));
  d.TakeLogs();
  d.TakeEvents();

  d.Exit("b", exit.status);

  const bool restarted = ShouldRestart(restart, exit.expected_class);
  Lines expected;
  if (restarted) {
    switch (strategy) {
      case Strategy::kOneForOne:
        expected = {"spawn b"};
        break;
      case Strategy::kRestForOne:
        expected = {"TERM c", "CONT c", "arm shutdown c +5000ms", "cancel shutdown c",
                    "spawn b", "spawn c"};
        break;
      case Strategy::kOneForAll:
        expected = {"TERM c", "CONT c", "arm shutdown c +5000ms", "cancel shutdown c",
                    "TERM a", "CONT a", "arm shutdown a +5000ms", "cancel shutdown a",
                    "spawn a",   "spawn b", "spawn c"};
        break;
    }
  }
  EXPECT_EQ(d.Take(), expected);

  // OTP reports every end of a permanent child and every abnormal end.
  const bool reported =
      restart == RestartType::kPermanent || exit.expected_class == ExitClass::kAbnormal;
  Lines logs = d.TakeLogs();
  EXPECT_EQ(std::count(logs.begin(), logs.end(), "error child_terminated b"), reported ? 1 : 0);

  // One failure is one restart, however many children it restarts.
  EXPECT_EQ(d.Status("sup").recent_restarts.size(), restarted ? 1u : 0u);
  EXPECT_EQ(d.Status("sup").state, NodeState::kRunning);

  if (restarted) {
    EXPECT_EQ(d.State("b"), "running");
    EXPECT_EQ(d.Status("b").restart_count, 1);
    EXPECT_TRUE(d.running("a") && d.running("b") && d.running("c"));
  } else if (restart == RestartType::kTemporary) {
    EXPECT_FALSE(d.Exists("b"));  // its spec is dropped when it dies
  } else {
    EXPECT_EQ(d.State("b"), "stopped");  // the spec stays, like OTP's pid = undefined
  }
  // Siblings untouched by one_for_one or by a child that is not restarted.
  if (!restarted || strategy == Strategy::kOneForOne) {
    EXPECT_EQ(d.Status("a").restart_count, 0);
    EXPECT_EQ(d.Status("c").restart_count, 0);
  }
}

std::string Name(const ::testing::TestParamInfo<Param>& info) {
  const auto [strategy, restart, exit_index] = info.param;
  return std::string(ToString(strategy)) + "_" + ToString(restart) + "_" + kExits[exit_index].name;
}

INSTANTIATE_TEST_SUITE_P(
    Restart, StrategyTable,
    ::testing::Combine(::testing::Values(Strategy::kOneForOne, Strategy::kRestForOne,
                                         Strategy::kOneForAll),
                       ::testing::Values(RestartType::kPermanent, RestartType::kTransient,
                                         RestartType::kTemporary),
                       ::testing::Range<size_t>(0, std::size(kExits))),
    Name);

std::string StrategyName(const ::testing::TestParamInfo<Strategy>& param_info) {
  return ToString(param_info.param);
}

// Each strategy escalates: with intensity 1 the second failure inside the
// period makes the supervisor stop the rest in reverse order and give up;
// at the root that is Exit{kGaveUp}.
class StrategyEscalation : public ::testing::TestWithParam<Strategy> {};

TEST_P(StrategyEscalation, SecondFailureInsideThePeriodGivesUp) {
  Driver d(Sup("sup", GetParam(), {Child("a"), Child("b"), Child("c")}, 1));
  d.Start();
  d.Take();
  d.Crash("b");
  d.Take();
  d.Advance(1s);
  d.Crash("b");
  // Whatever the strategy, giving up stops every child still running in
  // reverse start order, then the root exits.
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms",
                                    "cancel shutdown c", "TERM a", "CONT a",
                                    "arm shutdown a +5000ms", "cancel shutdown a", "exit 9"));
  EXPECT_EQ(d.exit_code(), exit_code::kGaveUp);
  Lines logs = d.TakeLogs();
  EXPECT_EQ(std::count(logs.begin(), logs.end(), "error reached_max_restart_intensity sup"), 1);
}

INSTANTIATE_TEST_SUITE_P(Escalation, StrategyEscalation,
                         ::testing::Values(Strategy::kOneForOne, Strategy::kRestForOne,
                                           Strategy::kOneForAll),
                         StrategyName);

// OTP's rest_for_one_escalation / one_for_all_escalation: the crash of a
// restarts its siblings, one of them fails to start again, and that second
// failure inside the period makes the supervisor give up.
class StrategyOtherChildFailsRestart : public ::testing::TestWithParam<Strategy> {};

TEST_P(StrategyOtherChildFailsRestart, SupervisorGivesUp) {
  Driver d(Sup("sup", GetParam(), {Child("a"), Child("b"), Child("c")}, 1));
  d.Start();
  d.Take();
  d.FailSpawns("b", -1);
  d.Crash("a");
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms",
                                    "cancel shutdown c", "TERM b", "CONT b",
                                    "arm shutdown b +5000ms", "cancel shutdown b", "spawn a",
                                    "spawn b", "TERM a", "CONT a", "arm shutdown a +5000ms",
                                    "cancel shutdown a", "exit 9"));
  Lines logs = d.TakeLogs();
  EXPECT_THAT(logs, ::testing::Contains("error start_error b"));
  EXPECT_THAT(logs, ::testing::Contains("error reached_max_restart_intensity sup"));
}

INSTANTIATE_TEST_SUITE_P(Escalation, StrategyOtherChildFailsRestart,
                         ::testing::Values(Strategy::kRestForOne, Strategy::kOneForAll),
                         StrategyName);

// A sibling that exits while the strategy is stopping it (OTP's
// *_other_child_fails_restart spirit): rest_for_one and one_for_all must not
// restart it twice nor count it.
class StrategySiblingExitsDuringCascade : public ::testing::TestWithParam<Strategy> {};

TEST_P(StrategySiblingExitsDuringCascade, CountedOnceRestartedOnce) {
  Driver d(Sup("sup", GetParam(), {Child("a"), Child("b"), Child("c")}, 1));
  d.SetOnTerm("c", OnTerm::kIgnore);
  d.Start();
  d.Take();
  d.Crash("b");
  EXPECT_THAT(d.Take(), ElementsAre("TERM c", "CONT c", "arm shutdown c +5000ms"));
  d.Exit("c", ExitStatus::Exited(exit_code::kBridgeLost));  // c dies of b's death meanwhile
  Lines after = d.Take();
  if (GetParam() == Strategy::kRestForOne) {
    EXPECT_THAT(after, ElementsAre("cancel shutdown c", "spawn b", "spawn c"));
  } else {
    EXPECT_THAT(after, ElementsAre("cancel shutdown c", "TERM a", "CONT a",
                                   "arm shutdown a +5000ms", "cancel shutdown a", "spawn a",
                                   "spawn b", "spawn c"));
  }
  EXPECT_EQ(d.Status("sup").recent_restarts.size(), 1u);
  EXPECT_THAT(d.TakeLogs(), ::testing::Contains("warning shutdown_error c"));
  EXPECT_FALSE(d.exit_code().has_value());
}

INSTANTIATE_TEST_SUITE_P(Cascade, StrategySiblingExitsDuringCascade,
                         ::testing::Values(Strategy::kRestForOne, Strategy::kOneForAll),
                         StrategyName);

}  // namespace
}  // namespace hourglass::supervisor::core::fake_shell
