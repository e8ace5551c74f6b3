#pragma once

// The supervisor process's shell: one libevent loop driving the sans-IO tree
// (supervisor/core) with real processes. It turns the core's actions into
// syscalls (spawn with an explicit fd map, signals through pidfds, timers)
// and the world into the core's events (exits from the one Reaper, READY and
// heartbeats from control channels, watchdog expiry, SIGTERM, control-socket
// requests). It keeps the shell-side tables the core leaves to it: the
// registry (queue -> worker), the launcher (queues to re-establish after
// every cascade), and what each child told it (the dev server's address, the
// bridge host's socket and epoch).
//
// docs/supervision.md, "Driving the core", is the contract followed here.
// Single-threaded: the supervisor forks, so it never starts threads.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/control.pb.h"
#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/event_loop.h"
#include "ipc/result.h"
#include "supervisor/config/config.h"
#include "supervisor/config/launch_plan.h"
#include "supervisor/core/tree.h"
#include "supervisor/process/reaper.h"
#include "supervisor/process/supervised_process.h"
#include "supervisor/process/watchdog.h"
#include "supervisor/shell/control_socket.h"
#include "supervisor/shell/launcher.h"
#include "supervisor/shell/registry.h"

namespace hourglass::supervisor {

struct ShellOptions {
  Config config;
  std::string bin_dir;      // where hourglass-devserver/-bridgehost/-workerproc are
  std::string runtime_dir;  // resolved (never empty)
  // --user: children run as this uid/gid; it may also use the control socket.
  std::optional<uid_t> uid;
  std::optional<gid_t> gid;
};

class Shell : private ControlSocket::Handler {
 public:
  Shell(ipc::EventLoop& loop, ShellOptions options);
  ~Shell() override;
  Shell(const Shell&) = delete;
  Shell& operator=(const Shell&) = delete;

  // Prepares the runtime directory, takes the control socket (refused when
  // another supervisor owns the directory), and starts the tree. The loop
  // then runs until the tree exits.
  ipc::Status Start();
  // Set once the tree has exited (the core's Exit action).
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  using Clock = std::chrono::steady_clock;

  // What the shell knows of one child id across its incarnations.
  struct ChildRecord {
    int spawns = 0;
    int exits = 0;
    int spawn_failures = 0;
    bool ready = false;
    std::string last_end;  // "killed by SIGKILL", "exec ...: No such file"
    std::string exec;
  };

  // A control request answered once a condition holds (start-worker waits
  // for READY, restart for the node to run again) or its deadline passes.
  struct Waiter {
    ControlSocket::ConnectionId connection = 0;
    // Returns the reply once settled, nothing while it is not.
    std::function<std::optional<ipc::v1::CtlReply>()> check;
    std::string target;  // the node it waits on; a refusal for it fails the wait
    std::string what;    // for the timeout message
    Clock::time_point deadline;
  };

  // A worker's process-isolated activity executor, adopted into the tree's
  // executors group (docs/supervision.md, "The executors group"). Not a
  // SupervisedProcess: its worker spawned it, so there is no control
  // channel and no output pipe, only the pid the worker reported.
  struct AdoptedExecutor {
    pid_t pid = 0;
    std::string worker;    // the child id of the worker that reported it
    std::string activity;  // "<type> <id>", for the logs
    ipc::UniqueFd pidfd;
    ipc::EventHandle watch;  // after pidfd: destroyed before the fd closes
    bool exited = false;     // its one ChildExited was enqueued
  };

  // `ctl status` while the children's Stats are on their way.
  struct StatsGather {
    ControlSocket::ConnectionId connection = 0;
    std::map<uint64_t, std::string> outstanding;  // seq -> child id
    std::map<std::string, ipc::v1::Stats> stats;
    ipc::EventHandle timeout;
  };

  // `ctl failpoint` while the child's FailpointReply is on its way.
  struct FailpointWait {
    ControlSocket::ConnectionId connection = 0;
    std::string child;
    ipc::EventHandle timeout;
  };

  // Events and actions.
  void Enqueue(core::Event event);
  void Flush();
  void Perform(const core::Action& action);
  void DoSpawn(const std::string& id);
  void DoSignal(const core::SendSignal& s);
  void OnChildExit(const std::string& id, const core::ExitStatus& status);
  void ReleaseHeldExits();
  void OnNodeEvent(const core::NodeEvent& e);
  void OnExitAction(int code);
  // SIGTERM, SIGINT, ctl stop: STOPPING=1 to systemd, StopTree to the core.
  void BeginStop(const std::string& why);
  void OnControlMessage(const std::string& id, const ipc::v1::ControlMessage& m);
  void OnExecutorStarted(const std::string& worker, const ipc::v1::ExecutorStarted& m);
  void OnExecutorPidfd(const std::string& id);
  void OnExecutorExit(const std::string& id, const core::ExitStatus& status,
                      const std::string& detail);
  void OnAdoptionRefused(const std::string& id, const std::string& reason);
  bool SignalExecutor(const core::SendSignal& s);
  std::optional<Command> CommandFor(const std::string& id, std::string* why);
  void WatchdogTick();
  void MaybeNotifyReady();

  // Control requests (ControlSocket::Handler).
  void OnCtlRequest(ControlSocket::ConnectionId id, const ipc::v1::CtlRequest& request) override;
  void OnCtlDisconnected(ControlSocket::ConnectionId id) override;
  void CtlStatus(ControlSocket::ConnectionId id, const ipc::v1::CtlStatusRequest& r);
  void FinishStatus(uint64_t gather_id);
  ipc::v1::CtlReply CtlWhichChildren(const ipc::v1::CtlWhichChildrenRequest& r);
  ipc::v1::CtlReply CtlWhereis(const ipc::v1::CtlWhereisRequest& r);
  void CtlStartWorker(ControlSocket::ConnectionId id, const ipc::v1::CtlStartWorkerRequest& r);
  void CtlStopWorker(ControlSocket::ConnectionId id, const ipc::v1::CtlStopWorkerRequest& r);
  void CtlRestart(ControlSocket::ConnectionId id, const std::string& child_id);
  void CtlFailpoint(ControlSocket::ConnectionId id, const ipc::v1::CtlFailpointRequest& r);
  // Answers the wait of `seq` with `reply`, or with `error` when unset.
  void FinishFailpoint(uint64_t seq, const ipc::v1::CtlReply& reply);
  void AddWaiter(ControlSocket::ConnectionId id, std::string target, std::string what,
                 Clock::duration timeout, std::function<std::optional<ipc::v1::CtlReply>()> check);
  void CheckWaiters();
  bool AllQueuesReady() const;
  ipc::v1::CtlNode NodeToProto(const core::NodeStatus& s, Clock::time_point now) const;
  ipc::v1::CtlRegistryEntry EntryToProto(const RegistryEntry& e) const;

  ipc::EventLoop& loop_;
  ShellOptions options_;
  Config& config_;  // options_.config; the dev server's port is pinned after its first READY
  LaunchPaths paths_;
  core::HourglassTreeOptions tree_options_;
  std::unique_ptr<core::Tree> tree_;
  Reaper reaper_;
  Watchdog watchdog_;
  Launcher launcher_;
  Registry registry_;
  ControlSocket control_;
  std::string api_key_;

  std::map<std::string, std::unique_ptr<SupervisedProcess>> children_;
  std::map<std::string, ChildRecord> records_;
  // By child id ("executor:<pid>"), from ExecutorStarted until the exit was
  // enqueued.
  std::map<std::string, std::unique_ptr<AdoptedExecutor>> executors_;
  std::map<core::TimerToken, ipc::EventHandle> timers_;
  std::vector<core::Event> pending_;
  // Workers' exits with kBridgeLost, waiting for the bridge host's own exit
  // (OnChildExit explains why).
  std::vector<core::Event> held_exits_;
  ipc::EventHandle held_timer_;
  bool held_timer_armed_ = false;
  bool bridge_running_ = false;  // spawned, and its exit not seen yet
  bool flush_posted_ = false;

  // From the children's READY.
  std::string devserver_address_;
  std::string bridge_socket_;
  uint64_t bridge_epoch_ = 0;
  uint32_t cascades_ = 0;
  std::map<std::string, int> supervisor_starts_;  // kStarted per supervisor id

  std::vector<Waiter> waiters_;
  std::vector<ControlSocket::ConnectionId> stop_waiters_;
  std::map<uint64_t, StatsGather> gathers_;
  std::map<uint64_t, FailpointWait> failpoint_waits_;  // by ControlMessage.seq
  uint64_t next_gather_ = 1;
  uint64_t next_seq_ = 1;
  bool stopping_ = false;
  bool notified_ready_ = false;

  std::optional<int> exit_code_;
  Clock::time_point started_at_;
  ipc::EventHandle sigterm_, sigint_, sighup_;
  ipc::EventHandle watchdog_timer_;
  ipc::EventHandle waiter_timer_;
  ipc::EventHandle sd_watchdog_timer_;
};

}  // namespace hourglass::supervisor
