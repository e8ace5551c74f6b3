#pragma once

// Every Hourglass process logs to its stderr, and that stderr is a pipe or a
// socket someone else must drain: the supervisor's for its children, the
// journal's or a terminal's for the supervisor. A reader that stalls (a hung
// journald, a stopped pager, a full pipe nobody reads) must not stop the
// process that logs: a supervisor blocked in write(2) restarts nothing and
// stops draining its children's pipes, which then block in turn (fault
// catalogue #25). So a log line is written only if the descriptor can take
// it now; otherwise it is dropped and counted, and the next line that gets
// through is preceded by a line saying how many were lost. A failed write (a
// full disk: #24) is counted the same way and never throws.

#include <spdlog/logger.h>

#include <memory>
#include <string>

namespace hourglass::logging {

// The logger `name` writing to `fd` (by default stderr) as above, with
// spdlog's default pattern.
std::shared_ptr<spdlog::logger> NonBlockingLogger(const std::string& name, int fd = 2);

// Lines the logger's sink has dropped so far (for tests and stats).
uint64_t DroppedLines(const spdlog::logger& logger);

}  // namespace hourglass::logging
