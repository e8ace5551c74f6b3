// The shell's executors group: adopting the process-isolated activity
// executors workers report, watching them through pidfds, and signalling
// them (docs/supervision.md, "The executors group"). Part of Shell; split
// from shell.cc by concern.

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "supervisor/shell/shell.h"
#include "supervisor/shell/shell_internal.h"

namespace hourglass::supervisor {

namespace v1 = ipc::v1;
using core::Clock;
using shell_internal::IsExecutor;
using shell_internal::kExecutorPrefix;

namespace {

// The process behind `pidfd` has exited (a pidfd is readable from then on).
bool PidfdExited(int pidfd) {
  struct pollfd p {
    pidfd, POLLIN, 0
  };
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

}  // namespace

void Shell::OnExecutorStarted(const std::string& worker, const v1::ExecutorStarted& m) {
  if (!Registry::QueueOf(worker)) {
    spdlog::warn("{}: ExecutorStarted from a child that is not a worker: ignored", worker);
    return;
  }
  const pid_t pid = m.pid();
  const std::string id = kExecutorPrefix + std::to_string(pid);
  const std::string activity = m.activity_type() + " " + m.activity_id();
  if (pid <= 0 || executors_.count(id) != 0) {
    spdlog::warn("{}: ExecutorStarted with pid {} ({}): {}", worker, pid, activity,
                 pid <= 0 ? "no such pid" : "already adopted");
    return;
  }
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) {
    // ESRCH: it ended and its worker reaped it before the message reached
    // us (a fast attempt). Nothing to adopt, nothing to account.
    if (errno == ESRCH) {
      spdlog::debug("executor {} of {} ({}) already gone", pid, worker, activity);
    } else {
      spdlog::warn("executor {} of {}: pidfd_open: {}", pid, worker, std::strerror(errno));
    }
    return;
  }
  auto e = std::make_unique<AdoptedExecutor>();
  e->pid = pid;
  e->worker = worker;
  e->activity = activity;
  e->pidfd = ipc::UniqueFd(fd);
  // Executors lead a session of their own; anything else is not what the
  // worker says it is (a reused pid), and must not be signalled by us.
  if (const pid_t sid = ::getsid(pid); sid >= 0 && sid != pid) {
    spdlog::warn("{}: pid {} ({}) does not lead its own session: not adopted", worker, pid,
                 activity);
    return;
  }
  // Two ways its end reaches us, and exactly one is fed to the core
  // (OnExecutorExit): if its worker dies first it is reparented to us and
  // the Reaper's sweep reaps it, so the Reaper must hand the status here
  // instead of logging an orphan; while its worker lives, the worker reaps
  // it and the pidfd turning readable is the only sign.
  e->watch =
      loop_.WatchFd(e->pidfd.get(), ipc::kReadable, [this, id](short) { OnExecutorPidfd(id); });
  reaper_.Track(
      pid,
      [this, id](int status) { OnExecutorExit(id, core::ExitStatus::FromWaitStatus(status), ""); },
      Reaper::OnExit::kKillGroup);
  spdlog::info("{}: executor pid {} for activity {} ({}): adopting it as {}", worker, pid, activity,
               m.task_queue(), id);
  executors_[id] = std::move(e);
  Enqueue(core::AdoptChild{core::kExecutorsId, core::ExecutorSpec(id, tree_options_), pid});
}

void Shell::OnExecutorPidfd(const std::string& id) {
  auto it = executors_.find(id);
  if (it == executors_.end() || it->second->exited) return;
  AdoptedExecutor& e = *it->second;
  siginfo_t info{};
  const int rc = ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(e.pidfd.get()), &info,
                          WEXITED | WNOHANG | WNOWAIT);
  if (rc == 0 && info.si_pid != 0) {
    // Ours (reparented after its worker died), seen here before the SIGCHLD
    // sweep got to it: the sweep reaps it now (its group first) and hands
    // the status to the Track callback.
    reaper_.Sweep();
    return;
  }
  if (rc == 0) {
    // Our child but not collectable yet: the sweep will deliver its
    // status. Stop watching so a level-triggered readable fd does not spin.
    loop_.Post([this, id] {
      if (auto again = executors_.find(id); again != executors_.end()) again->second->watch.Reset();
    });
    return;
  }
  // ECHILD: not our child. Its worker collects (or collected) the status;
  // the worker reports a failed attempt itself, so what we owe the tree is
  // only that it ended.
  OnExecutorExit(id, core::ExitStatus::Exited(0), "status collected by its worker");
}

void Shell::OnExecutorExit(const std::string& id, const core::ExitStatus& status,
                           const std::string& detail) {
  auto it = executors_.find(id);
  if (it == executors_.end() || it->second->exited) return;
  AdoptedExecutor& e = *it->second;
  e.exited = true;
  // The core reports only abnormal ends of a temporary child; an executor's
  // every end is worth a line (which attempt, and who collected it).
  spdlog::info("{} (activity {} of {}) ended: {}{}", id, e.activity, e.worker,
               core::DescribeExit(status), detail.empty() ? "" : " (" + detail + ")");
  // From now on a late reparenting is only an orphan to log: the one exit
  // is on its way.
  reaper_.Untrack(e.pid);
  // The pidfd watch may be the callback running now: drop it (and the fd)
  // once it returned. Until then `exited` makes it a no-op.
  loop_.Post([this, id] { executors_.erase(id); });
  Enqueue(core::ChildExited{id, status, detail});
}

void Shell::OnAdoptionRefused(const std::string& id, const std::string& reason) {
  auto it = executors_.find(id);
  AdoptedExecutor& e = *it->second;
  auto group = tree_->Status(core::kExecutorsId, Clock::now());
  if (!e.exited && (!group || group->state != core::NodeState::kRunning || group->stop_pending)) {
    // The tree is going down and will not stop this one: it must not
    // outlive the supervisor unaccounted.
    spdlog::warn("{} (activity {} of {}) not adopted ({}): SIGTERM", id, e.activity, e.worker,
                 reason);
    SignalChild(e.pidfd.get(), SIGTERM);
  }
  reaper_.Untrack(e.pid);
  e.exited = true;
  loop_.Post([this, id] { executors_.erase(id); });
}

bool Shell::SignalExecutor(const core::SendSignal& s) {
  auto it = executors_.find(s.id);
  if (it == executors_.end()) return IsExecutor(s.id);  // already gone: nothing to signal
  AdoptedExecutor& e = *it->second;
  if (e.exited) return true;
  if (s.signo == SIGKILL && !PidfdExited(e.pidfd.get())) {
    // Its session, as for the other children: it leads it (setsid), so
    // whatever it started goes too. Checked alive first: a worker may have
    // reaped it already, and its pid could name another group by now.
    if (::kill(-e.pid, SIGKILL) != 0 && errno != ESRCH) {
      spdlog::warn("killpg {} ({}): {}", e.pid, s.id, std::strerror(errno));
    }
  }
  SignalChild(e.pidfd.get(), s.signo);
  return true;
}

}  // namespace hourglass::supervisor
