#pragma once

// The one place the supervisor reaps: on SIGCHLD it collects every exited
// child with waitpid(-1, WNOHANG) until none is left (signals coalesce), and
// hands each status to whoever tracks that pid. The supervisor is a child
// subreaper, so orphaned descendants (a worker's executor processes, a
// daemonising grandchild) are reparented to it and reaped here too: to
// whoever tracks the pid (Track works for any pid, not only our children:
// the shell tracks each adopted executor), else logged as orphans. Reaping
// in one place keeps pids unique until their owner has been told: a tracked
// pid cannot be reused before its exit is delivered.
//
// A tracked child that leads its own process group (every child the
// supervisor spawns does: setsid) can have that group killed when it ends,
// however it ends (an outside SIGKILL, a crash, exit on its own): its other
// members (a daemonised grandchild) must not outlive it into the restart
// (fault catalogue #30). The sweep looks at an exited child first without
// reaping it (waitid WNOWAIT), signals its group, then reaps: while the
// leader is an unreaped zombie its pid cannot be reused, so the group id
// still names its group and nobody else's.

#include <sys/types.h>

#include <functional>
#include <unordered_map>

#include "ipc/event_loop.h"

namespace hourglass::supervisor {

class Reaper {
 public:
  using ExitCallback = std::function<void(int wait_status)>;
  using OrphanCallback = std::function<void(pid_t pid, int wait_status)>;

  // Becomes a child subreaper and watches SIGCHLD on `loop`.
  explicit Reaper(ipc::EventLoop& loop, OrphanCallback on_orphan = nullptr);

  enum class OnExit { kLeaveGroup, kKillGroup };
  // kKillGroup: `pid` leads its process group; SIGKILL the group when it
  // ends, before it is reaped (and before `on_exit` runs).
  void Track(pid_t pid, ExitCallback on_exit, OnExit group = OnExit::kLeaveGroup);
  void Untrack(pid_t pid) { tracked_.erase(pid); }
  size_t tracked() const { return tracked_.size(); }
  // Collects whatever has exited (also run on every SIGCHLD).
  void Sweep();

 private:
  ipc::EventHandle sigchld_;
  struct Tracked {
    ExitCallback on_exit;
    OnExit group;
  };
  std::unordered_map<pid_t, Tracked> tracked_;
  OrphanCallback on_orphan_;
};

// "exit 3", "killed by SIGKILL", "killed by SIGSEGV (core dumped)".
std::string DescribeWaitStatus(int wait_status);

}  // namespace hourglass::supervisor
