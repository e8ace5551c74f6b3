#pragma once

// Re-logging a child's output through the supervisor's spdlog. Hourglass's
// own children write spdlog's default pattern ("[2026-11-22 08:11:06.816]
// [worker] [warning] text"); printing that inside the supervisor's own prefix
// would stamp every line twice and lose its level. So a line in that shape is
// re-logged at its own level with only its text; anything else (a user
// worker's printf, a crash message from libc) is kept whole at info for
// stdout and warning for stderr. Pure, so it is unit-tested.

#include <spdlog/common.h>

#include <string>
#include <string_view>

namespace hourglass::supervisor {

struct ChildLogLine {
  spdlog::level::level_enum level = spdlog::level::info;
  std::string text;
};

ChildLogLine ParseChildLogLine(std::string_view line, bool is_stderr);

}  // namespace hourglass::supervisor
