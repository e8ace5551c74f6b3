#include "tests/testing/process.h"

#include <algorithm>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace hourglass::testing {

std::optional<ChildProcess> ChildProcess::Spawn(Options options) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  int out_pipe[2] = {-1, -1};
  if (options.capture_stdout) {
    if (::pipe2(out_pipe, O_CLOEXEC) != 0) return std::nullopt;
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  }
  if (!options.stderr_path.empty()) {
    posix_spawn_file_actions_addopen(&actions, 2, options.stderr_path.c_str(),
                                     O_WRONLY | O_CREAT | O_APPEND, 0600);
  }
  int highest = 2;
  for (const auto& [child_fd, parent_fd] : options.fd_map) {
    posix_spawn_file_actions_adddup2(&actions, parent_fd, child_fd);
    highest = std::max(highest, child_fd);
  }
  // Nothing else, not even fds the test runner leaked to us without
  // close-on-exec (ctest's pipes, a shell's fds).
  posix_spawn_file_actions_addclosefrom_np(&actions, highest + 1);
  std::vector<char*> argv;
  for (auto& a : options.argv) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (out_pipe[1] >= 0) ::close(out_pipe[1]);
  if (rc != 0) {
    if (out_pipe[0] >= 0) ::close(out_pipe[0]);
    return std::nullopt;
  }
  ChildProcess p;
  p.pid_ = pid;
  if (out_pipe[0] >= 0) p.stdout_.Reset(out_pipe[0]);
  return p;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      stdout_(std::move(other.stdout_)),
      buffered_(std::move(other.buffered_)),
      exited_(other.exited_),
      status_(other.status_) {}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !exited_) Stop();
}

std::optional<std::string> ChildProcess::WaitForLine(const std::string& needle,
                                                     std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t nl;
    while ((nl = buffered_.find('\n')) != std::string::npos) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      if (line.find(needle) != std::string::npos) return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !stdout_) return std::nullopt;
    pollfd pfd{stdout_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(left.count())) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(stdout_.get(), buf, sizeof(buf));
    if (n <= 0) return std::nullopt;
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

void ChildProcess::Kill(int signo) {
  if (pid_ > 0 && !exited_) ::kill(pid_, signo);
}

int ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (exited_) return status_;
  // A pidfd becomes readable when the process exits: wait on that.
  ipc::UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (pidfd) {
    pollfd pfd{pidfd.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) <= 0) return -1;
  }
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, pidfd ? 0 : WNOHANG);
  if (r != pid_) return -1;
  exited_ = true;
  status_ = status;
  return status;
}

int ChildProcess::Stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || exited_) return status_;
  ::kill(pid_, SIGTERM);
  const int st = Wait(grace);
  if (st != -1) return st;
  ::kill(pid_, SIGKILL);
  return Wait(std::chrono::milliseconds(10000));
}

std::string AddressFromReadyLine(const std::string& line) {
  const std::string marker = "ready on ";
  const auto pos = line.find(marker);
  return pos == std::string::npos ? "" : line.substr(pos + marker.size());
}

std::string BinDir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

}  // namespace hourglass::testing
