#include "supervisor/core/restart_intensity.h"

#include <gtest/gtest.h>

namespace hourglass::supervisor::core {
namespace {

using namespace std::chrono_literals;

const TimePoint t0 = TimePoint{} + std::chrono::hours(1);

TEST(RestartIntensity, GivesUpOnePastTheLimit) {
  RestartIntensity intensity(3, 5000ms);
  EXPECT_TRUE(intensity.AddRestart(t0));
  EXPECT_TRUE(intensity.AddRestart(t0 + 1s));
  EXPECT_TRUE(intensity.AddRestart(t0 + 2s));
  EXPECT_FALSE(intensity.AddRestart(t0 + 3s));  // the 4th inside 5 s
}

TEST(RestartIntensity, ZeroNeverAllowsARestart) {
  RestartIntensity intensity(0, 5000ms);
  EXPECT_FALSE(intensity.AddRestart(t0));
}

TEST(RestartIntensity, WindowSlides) {
  RestartIntensity intensity(2, 5000ms);
  EXPECT_TRUE(intensity.AddRestart(t0));
  EXPECT_TRUE(intensity.AddRestart(t0 + 4s));
  // t0 is now older than the period: forgotten.
  EXPECT_TRUE(intensity.AddRestart(t0 + 5001ms));
  EXPECT_EQ(intensity.Recent(t0 + 5001ms), (std::vector<TimePoint>{t0 + 4s, t0 + 5001ms}));
}

TEST(RestartIntensity, SustainedRateJustBelowTheLimitNeverGivesUp) {
  // Fault catalogue #14: 2 per 5 s, forever.
  RestartIntensity intensity(2, 5000ms);
  for (int i = 0; i < 100; ++i) {
    EXPECT_TRUE(intensity.AddRestart(t0 + i * 2501ms)) << i;
  }
  EXPECT_FALSE(intensity.AddRestart(t0 + 99 * 2501ms + 1ms));
}

TEST(RestartIntensity, ExactlyOnePeriodOldStillCounts) {
  // OTP keeps restarts with R >= now - period.
  RestartIntensity intensity(1, 5000ms);
  EXPECT_TRUE(intensity.AddRestart(t0));
  EXPECT_FALSE(intensity.AddRestart(t0 + 5000ms));
  RestartIntensity other(1, 5000ms);
  EXPECT_TRUE(other.AddRestart(t0));
  EXPECT_TRUE(other.AddRestart(t0 + 5001ms));
}

TEST(RestartIntensity, RecentAndReset) {
  RestartIntensity intensity(5, 1000ms);
  intensity.AddRestart(t0);
  intensity.AddRestart(t0 + 600ms);
  EXPECT_EQ(intensity.Recent(t0 + 1500ms), std::vector<TimePoint>{t0 + 600ms});
  intensity.Reset();
  EXPECT_TRUE(intensity.Recent(t0 + 1500ms).empty());
}

}  // namespace
}  // namespace hourglass::supervisor::core
