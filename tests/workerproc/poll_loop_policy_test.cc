#include "workerproc/sdk/src/poll_loop_policy.h"

#include <gtest/gtest.h>

#include "ipc/exit_codes.h"

namespace hourglass::sdk {
namespace {

using namespace std::chrono_literals;
using A = PollDecision::Action;
using Clock = PollLoopPolicy::Clock;

TEST(PollLoopPolicy, Transient_ShutdownEndsTheLoopNormally) {
  PollLoopPolicy p;
  EXPECT_EQ(p.OnOutcome(PollOutcome::kShutdown, false, Clock::time_point{}).action, A::kStop);
}

TEST(PollLoopPolicy, NotRegistered_RetriesWhileRegistrationPendingEndsOtherwise) {
  PollLoopPolicy p;
  auto d = p.OnOutcome(PollOutcome::kNotRegistered, true, Clock::time_point{});
  EXPECT_EQ(d.action, A::kBackOff);
  EXPECT_GT(d.delay, 0ms);
  EXPECT_EQ(p.restarts(), 0u);
  EXPECT_EQ(p.OnOutcome(PollOutcome::kNotRegistered, false, Clock::time_point{}).action, A::kStop);
}

TEST(PollLoopPolicy, BridgeGone_StaleEpochOrDisconnectExitsWithBridgeLost) {
  PollLoopPolicy p;
  for (auto o : {PollOutcome::kStaleEpoch, PollOutcome::kDisconnected}) {
    auto d = p.OnOutcome(o, false, Clock::time_point{});
    EXPECT_EQ(d.action, A::kExitProcess);
    EXPECT_EQ(d.exit_code, exit_code::kBridgeLost);
  }
}

TEST(PollLoopPolicy, Idle_LongPollTimeoutPollsAgainAtOnce) {
  PollLoopPolicy p;
  auto d = p.OnOutcome(PollOutcome::kIdle, false, Clock::time_point{});
  EXPECT_EQ(d.action, A::kPollAgain);
  EXPECT_EQ(d.delay, 0ms);
}

TEST(PollLoopPolicy, Unavailable_BacksOffExponentiallyBoundedAndResetsOnSuccess) {
  PollLoopPolicy p({.max_restarts = 5, .period = 10s, .min_backoff = 100ms, .max_backoff = 1s});
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 6; ++i) delays.push_back(p.OnOutcome(PollOutcome::kServerUnavailable, false, {}).delay);
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{100ms, 200ms, 400ms, 800ms, 1s, 1s}));
  p.OnOutcome(PollOutcome::kItem, false, {});
  EXPECT_EQ(p.OnOutcome(PollOutcome::kServerUnavailable, false, {}).delay, 100ms);
  EXPECT_EQ(p.restarts(), 0u);
}

TEST(PollLoopPolicy, Intensity_RestartsWithinPeriodThenExitsOnePastTheLimit) {
  PollLoopPolicy p({.max_restarts = 3, .period = 10s, .min_backoff = 10ms, .max_backoff = 10ms});
  Clock::time_point t{};
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(p.OnOutcome(PollOutcome::kUnexpected, false, t + std::chrono::seconds(i)).action, A::kRestart);
  }
  auto d = p.OnOutcome(PollOutcome::kUnexpected, false, t + 3s);
  EXPECT_EQ(d.action, A::kExitProcess);
  EXPECT_EQ(d.exit_code, exit_code::kPollLoopFailed);
}

TEST(PollLoopPolicy, Intensity_IsASlidingWindowOldRestartsAgeOut) {
  PollLoopPolicy p({.max_restarts = 2, .period = 10s, .min_backoff = 10ms, .max_backoff = 10ms});
  Clock::time_point t{};
  EXPECT_EQ(p.OnOutcome(PollOutcome::kUnexpected, false, t).action, A::kRestart);
  EXPECT_EQ(p.OnOutcome(PollOutcome::kUnexpected, false, t + 5s).action, A::kRestart);
  // The first restart is now older than the period.
  EXPECT_EQ(p.OnOutcome(PollOutcome::kUnexpected, false, t + 11s).action, A::kRestart);
  EXPECT_EQ(p.OnOutcome(PollOutcome::kUnexpected, false, t + 12s).action, A::kExitProcess);
  EXPECT_EQ(p.restarts(), 4u);
}

}  // namespace
}  // namespace hourglass::sdk
