#pragma once

// Real child processes for integration tests: spawned with an explicit fd map
// (posix_spawn, so nothing but the listed fds is inherited: everything else is
// close-on-exec), stopped with SIGTERM then SIGKILL on destruction.

#include <spawn.h>
#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "ipc/unique_fd.h"

namespace hourglass::testing {

class ChildProcess {
 public:
  struct Options {
    std::vector<std::string> argv;
    // (child fd, parent fd to dup into it)
    std::vector<std::pair<int, int>> fd_map;
    bool capture_stdout = false;
    std::string stderr_path;  // default: inherit
  };

  static std::optional<ChildProcess> Spawn(Options options);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Reads stdout until a line containing `needle` arrives; returns that line.
  std::optional<std::string> WaitForLine(const std::string& needle, std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the wait status.
  int Stop(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  void Kill(int signo);
  // Waits for exit (-1 on timeout).
  int Wait(std::chrono::milliseconds timeout);

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  ipc::UniqueFd stdout_;
  std::string buffered_;
  bool exited_ = false;
  int status_ = 0;
};

// The address printed on the dev server's ready line ("127.0.0.1:PORT").
std::string AddressFromReadyLine(const std::string& line);

// Directory of the test binary's sibling binaries (build/bin).
std::string BinDir();

}  // namespace hourglass::testing
