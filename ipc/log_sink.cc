#include "ipc/log_sink.h"

#include <poll.h>
#include <spdlog/sinks/base_sink.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <string_view>

namespace hourglass::logging {
namespace {

// Longer lines are cut: a write of at most PIPE_BUF bytes to a pipe that has
// room is all-or-nothing, so a line is never interleaved with another
// process's output nor left half-written.
constexpr size_t kMaxLineBytes = 4000;

class NonBlockingFdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit NonBlockingFdSink(int fd) : fd_(fd) {}

  uint64_t dropped_total() {
    std::lock_guard<std::mutex> lock(mutex_);
    return dropped_total_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string_view line(formatted.data(), formatted.size());
    if (line.size() > kMaxLineBytes) {
      // Cut, and still ends the line.
      cut_.assign(line.substr(0, kMaxLineBytes - 4));
      cut_ += "...\n";
      line = cut_;
    }
    if (dropped_since_ > 0) {
      const std::string notice = "[log] " + std::to_string(dropped_since_) +
                                 " line(s) dropped: the log reader did not keep up or the write "
                                 "failed\n";
      if (!TryWrite(notice)) {
        Drop();
        return;
      }
      dropped_since_ = 0;
    }
    if (!TryWrite(line)) Drop();
  }

  void flush_() override {}  // nothing is buffered

 private:
  void Drop() {
    ++dropped_since_;
    ++dropped_total_;
  }

  // Writes `bytes` if the descriptor can take them without blocking.
  bool TryWrite(std::string_view bytes) {
    while (!bytes.empty()) {
      struct pollfd p {
        fd_, POLLOUT, 0
      };
      int ready;
      while ((ready = ::poll(&p, 1, 0)) < 0 && errno == EINTR) {
      }
      if (ready != 1 || (p.revents & POLLOUT) == 0) return false;
      const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return false;  // EAGAIN (a non-blocking fd), ENOSPC, EPIPE, EIO...
      }
      // Partial only on a stream socket short of room: the rest once it
      // has room again, or the line stays cut.
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  const int fd_;
  std::string cut_;
  uint64_t dropped_since_ = 0;
  uint64_t dropped_total_ = 0;
};

}  // namespace

std::shared_ptr<spdlog::logger> NonBlockingLogger(const std::string& name, int fd) {
  return std::make_shared<spdlog::logger>(name, std::make_shared<NonBlockingFdSink>(fd));
}

uint64_t DroppedLines(const spdlog::logger& logger) {
  uint64_t total = 0;
  for (const auto& sink : logger.sinks()) {
    if (auto* s = dynamic_cast<NonBlockingFdSink*>(sink.get())) total += s->dropped_total();
  }
  return total;
}

}  // namespace hourglass::logging
