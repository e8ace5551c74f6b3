#include "supervisor/process/reaper.h"

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <string>

namespace hourglass::supervisor {

Reaper::Reaper(ipc::EventLoop& loop, OrphanCallback on_orphan) : on_orphan_(std::move(on_orphan)) {
  ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  sigchld_ = loop.WatchSignal(SIGCHLD, [this] { Sweep(); });
}

void Reaper::Track(pid_t pid, ExitCallback on_exit) { tracked_[pid] = std::move(on_exit); }

void Reaper::Sweep() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return;  // 0: children left, none exited; -1: none left (ECHILD)
    auto it = tracked_.find(pid);
    if (it == tracked_.end()) {
      if (on_orphan_) on_orphan_(pid, status);
      continue;
    }
    ExitCallback cb = std::move(it->second);
    tracked_.erase(it);
    cb(status);
  }
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exit " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const char* abbrev = ::sigabbrev_np(WTERMSIG(wait_status));
    std::string out = "killed by " + (abbrev != nullptr ? std::string("SIG") + abbrev
                                                        : "signal " + std::to_string(WTERMSIG(wait_status)));
    if (WCOREDUMP(wait_status)) out += " (core dumped)";
    return out;
  }
  return "status " + std::to_string(wait_status);
}

}  // namespace hourglass::supervisor
