#include "supervisor/process/child_log.h"

#include <gtest/gtest.h>

namespace hourglass::supervisor {
namespace {

TEST(ChildLog, SpdlogLine_ReloggedAtItsOwnLevelWithoutItsPrefix) {
  auto l = ParseChildLogLine(
      "[2026-11-22 08:11:06.816] [worker] [warning] bridge connection lost: EOF", true);
  EXPECT_EQ(l.level, spdlog::level::warn);
  EXPECT_EQ(l.text, "bridge connection lost: EOF");
  l = ParseChildLogLine("[2026-11-22 08:11:06.816] [bridgehost] [error] x [y] z", true);
  EXPECT_EQ(l.level, spdlog::level::err);
  EXPECT_EQ(l.text, "x [y] z");
  l = ParseChildLogLine("[2026-11-22 08:11:06.816] [devserver] [info] ", false);
  EXPECT_EQ(l.level, spdlog::level::info);
  EXPECT_EQ(l.text, "");
}

TEST(ChildLog, OtherLines_KeptWholeAtInfoOrWarning) {
  auto l = ParseChildLogLine("hourglass-devserver ready on 127.0.0.1:7233", false);
  EXPECT_EQ(l.level, spdlog::level::info);
  EXPECT_EQ(l.text, "hourglass-devserver ready on 127.0.0.1:7233");
  l = ParseChildLogLine("free(): double free detected in tcache 2", true);
  EXPECT_EQ(l.level, spdlog::level::warn);
  // Brackets that are not spdlog's shape stay as they are.
  for (const char* odd : {"[not a date] [x] [info] y", "[2026-11-22 08:11:06.816] [x] [loud] y",
                          "[2026-11-22 08:11:06.816] [x]", "[", "[]", ""}) {
    l = ParseChildLogLine(odd, true);
    EXPECT_EQ(l.text, odd);
    EXPECT_EQ(l.level, spdlog::level::warn);
  }
}

}  // namespace
}  // namespace hourglass::supervisor
