#pragma once

// Child output to log lines, sans-IO: bytes in, complete lines out. A line
// longer than the limit is cut (and marked) rather than buffered without
// bound: a child that writes megabytes without a newline must not grow the
// supervisor. What is left when the pipe closes comes out as a last line.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace hourglass::supervisor {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 16 * 1024) : max_line_(max_line) {}

  // Appends bytes; returns the lines they completed (without the newline).
  std::vector<std::string> Feed(std::string_view bytes);
  // The pipe closed: the unterminated rest, if any.
  std::vector<std::string> Finish();
  // Lines cut because they exceeded the limit.
  size_t truncated() const { return truncated_; }

 private:
  size_t max_line_;
  std::string partial_;
  bool cutting_ = false;  // dropping the rest of an over-long line
  size_t truncated_ = 0;
};

}  // namespace hourglass::supervisor
