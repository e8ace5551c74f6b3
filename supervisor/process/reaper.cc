#include "supervisor/process/reaper.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace hourglass::supervisor {

Reaper::Reaper(ipc::EventLoop& loop, OrphanCallback on_orphan) : on_orphan_(std::move(on_orphan)) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigchld_ = loop.WatchSignal(SIGCHLD, [this] { Sweep(); });
}

void Reaper::Track(pid_t pid, ExitCallback on_exit, OnExit group) {
  tracked_[pid] = Tracked{std::move(on_exit), group};
}

void Reaper::Sweep() {
  for (;;) {
    // Looked at, not reaped: the pid stays this child's until waitpid below.
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return;  // ECHILD: none left
    const pid_t pid = info.si_pid;
    if (pid == 0) return;  // children left, none exited
    auto it = tracked_.find(pid);
    if (it != tracked_.end() && it->second.group == OnExit::kKillGroup) {
      // ESRCH: the leader was alone in its group.
      if (::kill(-pid, SIGKILL) != 0 && errno != ESRCH) {
        spdlog::warn("killpg {}: {}", pid, std::strerror(errno));
      }
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) return;  // someone else reaped it (not expected)
    if (it == tracked_.end()) {
      if (on_orphan_) on_orphan_(pid, status);
      continue;
    }
    ExitCallback cb = std::move(it->second.on_exit);
    tracked_.erase(it);
    cb(status);
  }
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(wait_status));
    std::string out =
        "killed by " + (abbrev != nullptr ? std::string("SIG") + abbrev
                                          : "signal " + std::to_string(WTERMSIG(wait_status)));
    if (WCOREDUMP(wait_status)) out += " (core dumped)";
    return out;
  }
  return "status " + std::to_string(wait_status);
}

}  // namespace hourglass::supervisor
