#include "supervisor/process/watchdog.h"

#include <gtest/gtest.h>

namespace hourglass::supervisor {
namespace {

using namespace std::chrono_literals;
using Ids = std::vector<std::string>;

TEST(Watchdog, Silent_ChildReportedOncePastTheTimeout) {
  Watchdog w(1000ms);
  Watchdog::Clock::time_point t{};
  w.Watch("bridgehost", t);
  w.Watch("worker:a", t);
  w.Alive("worker:a", t + 800ms);
  EXPECT_EQ(w.Expired(t + 1000ms), Ids{});  // exactly the timeout is not past it
  EXPECT_EQ(w.Expired(t + 1001ms), Ids{"bridgehost"});
  EXPECT_EQ(w.Expired(t + 1500ms), Ids{});  // reported once
  EXPECT_EQ(w.Expired(t + 1801ms), Ids{"worker:a"});
}

TEST(Watchdog, Unwatched_StoppedChildrenAreNotReported) {
  Watchdog w(100ms);
  Watchdog::Clock::time_point t{};
  w.Watch("x", t);
  w.Unwatch("x");
  w.Alive("x", t + 50ms);  // a late message from a child already gone
  EXPECT_EQ(w.Expired(t + 1s), Ids{});
}

}  // namespace
}  // namespace hourglass::supervisor
