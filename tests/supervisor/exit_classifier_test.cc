#include "supervisor/core/exit_classifier.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include "ipc/exit_codes.h"

namespace hourglass::supervisor::core {
namespace {

ExitContext StoppedWith(std::initializer_list<int> signals) {
  ExitContext context;
  for (int s : signals) context.AddStopSignal(s);
  return context;
}

TEST(ExitClassifier, ExitZero_IsNormal) {
  EXPECT_EQ(ClassifyExit(ExitStatus::Exited(0), {}), ExitClass::kNormal);
  // Also when it answers the supervisor's SIGTERM by exiting 0, as our
  // processes do after a graceful stop.
  EXPECT_EQ(ClassifyExit(ExitStatus::Exited(0), StoppedWith({SIGTERM})), ExitClass::kNormal);
}

TEST(ExitClassifier, ShutdownExitCode_IsShutdown) {
  EXPECT_EQ(ClassifyExit(ExitStatus::Exited(exit_code::kShutdown), {}), ExitClass::kShutdown);
}

TEST(ExitClassifier, OtherExitCodes_AreAbnormal) {
  for (int code : {exit_code::kInternal, exit_code::kUsage, exit_code::kBridgeLost,
                   exit_code::kSupervisorGone, exit_code::kGaveUp, 255}) {
    EXPECT_EQ(ClassifyExit(ExitStatus::Exited(code), {}), ExitClass::kAbnormal) << code;
  }
}

TEST(ExitClassifier, DeathByTheSupervisorsOwnStopSignal_IsShutdown) {
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGTERM), StoppedWith({SIGTERM})),
            ExitClass::kShutdown);
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGKILL), StoppedWith({SIGTERM, SIGKILL})),
            ExitClass::kShutdown);
}

TEST(ExitClassifier, SignalTheSupervisorDidNotSend_IsAbnormal) {
  // An operator's kill -TERM is a crash like any other: only the
  // supervisor's own stop makes a signal death "shutdown".
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGTERM), {}), ExitClass::kAbnormal);
  // Stopped with SIGTERM, but something else SIGKILLed it first.
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGKILL), StoppedWith({SIGTERM})),
            ExitClass::kAbnormal);
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGSEGV, true), StoppedWith({SIGTERM})),
            ExitClass::kAbnormal);
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGABRT), {}), ExitClass::kAbnormal);
}

TEST(ExitClassifier, WatchdogKill_IsAbnormalWhateverTheStatus) {
  ExitContext context;
  context.killed_as_failed = true;
  EXPECT_EQ(ClassifyExit(ExitStatus::Signaled(SIGKILL), context), ExitClass::kAbnormal);
  // Raced the kill with a clean exit: still the failure the watchdog saw.
  EXPECT_EQ(ClassifyExit(ExitStatus::Exited(0), context), ExitClass::kAbnormal);
}

TEST(ExitClassifier, SigcontIsNotAStopSignalThatKills) {
  EXPECT_FALSE(StoppedWith({SIGTERM, SIGCONT}).SentForStop(SIGKILL));
  EXPECT_TRUE(StoppedWith({SIGTERM, SIGCONT}).SentForStop(SIGTERM));
  EXPECT_FALSE(ExitContext{}.SentForStop(0));
  EXPECT_FALSE(ExitContext{}.SentForStop(99));
}

TEST(ExitClassifier, RestartDecision_PerRestartType) {
  for (ExitClass c : {ExitClass::kNormal, ExitClass::kShutdown, ExitClass::kAbnormal}) {
    EXPECT_TRUE(ShouldRestart(RestartType::kPermanent, c)) << ToString(c);
    EXPECT_EQ(ShouldRestart(RestartType::kTransient, c), c == ExitClass::kAbnormal) << ToString(c);
    EXPECT_FALSE(ShouldRestart(RestartType::kTemporary, c)) << ToString(c);
  }
}

TEST(ExitClassifier, FromWaitStatus_ReadsExitAndSignal) {
  EXPECT_EQ(ExitStatus::FromWaitStatus(3 << 8), ExitStatus::Exited(3));
  EXPECT_EQ(ExitStatus::FromWaitStatus(SIGKILL), ExitStatus::Signaled(SIGKILL));
  EXPECT_EQ(ExitStatus::FromWaitStatus(SIGSEGV | 0x80), ExitStatus::Signaled(SIGSEGV, true));
}

TEST(ExitClassifier, Describe_SameWordsAsTheReaper) {
  EXPECT_EQ(DescribeExit(ExitStatus::Exited(3)), "exit 3");
  EXPECT_EQ(DescribeExit(ExitStatus::Signaled(SIGKILL)), "killed by SIGKILL");
  EXPECT_EQ(DescribeExit(ExitStatus::Signaled(SIGSEGV, true)), "killed by SIGSEGV (core dumped)");
  EXPECT_EQ(DescribeExit(ExitStatus::Signaled(40)), "killed by signal 40");
}

}  // namespace
}  // namespace hourglass::supervisor::core
