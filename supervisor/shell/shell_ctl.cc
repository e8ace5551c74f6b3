// The shell's control requests (`hourglass ctl`, docs/cli.md): status with
// the children's stats, which-children, whereis, start/stop-worker, restart,
// failpoint, stop, and the waiters that answer a request once its change has
// settled. Part of Shell; split from shell.cc by concern.

#include <spdlog/spdlog.h>

#include <algorithm>

#include "ipc/control_channel.h"
#include "ipc/failpoint.h"
#include "supervisor/shell/shell.h"
#include "supervisor/shell/shell_internal.h"

namespace hourglass::supervisor {

namespace v1 = ipc::v1;
using core::Clock;
using shell_internal::Done;
using shell_internal::IsExecutor;
using shell_internal::Millis;

void Shell::OnCtlRequest(ControlSocket::ConnectionId id, const v1::CtlRequest& request) {
  if (tree_ == nullptr || tree_->finished()) {
    control_.Reply(id,
                   ControlSocket::Error(v1::CTL_ERROR_KIND_REFUSED, "the supervisor is exiting"));
    return;
  }
  switch (request.kind_case()) {
    case v1::CtlRequest::kStatus:
      CtlStatus(id, request.status());
      return;
    case v1::CtlRequest::kWhichChildren:
      control_.Reply(id, CtlWhichChildren(request.which_children()));
      return;
    case v1::CtlRequest::kWhereis:
      control_.Reply(id, CtlWhereis(request.whereis()));
      return;
    case v1::CtlRequest::kStartWorker:
      CtlStartWorker(id, request.start_worker());
      return;
    case v1::CtlRequest::kStopWorker:
      CtlStopWorker(id, request.stop_worker());
      return;
    case v1::CtlRequest::kRestart:
      CtlRestart(id, request.restart().child_id());
      return;
    case v1::CtlRequest::kReloadBridge:
      CtlRestart(id, core::kBridgeHostId);
      return;
    case v1::CtlRequest::kStop:
      stop_waiters_.push_back(id);
      BeginStop("ctl stop");
      return;
    case v1::CtlRequest::kFailpoint:
      CtlFailpoint(id, request.failpoint());
      return;
    case v1::CtlRequest::KIND_NOT_SET:
      break;
  }
  control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_PROTOCOL, "unknown request"));
}

void Shell::OnCtlDisconnected(ControlSocket::ConnectionId id) {
  waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                [&](const Waiter& w) { return w.connection == id; }),
                 waiters_.end());
  stop_waiters_.erase(std::remove(stop_waiters_.begin(), stop_waiters_.end(), id),
                      stop_waiters_.end());
  for (auto it = gathers_.begin(); it != gathers_.end();) {
    it = it->second.connection == id ? gathers_.erase(it) : std::next(it);
  }
  for (auto it = failpoint_waits_.begin(); it != failpoint_waits_.end();) {
    it = it->second.connection == id ? failpoint_waits_.erase(it) : std::next(it);
  }
}

v1::CtlNode Shell::NodeToProto(const core::NodeStatus& s, Clock::time_point now) const {
  v1::CtlNode n;
  n.set_id(s.id);
  n.set_parent(s.parent);
  n.set_depth(s.depth);
  n.set_kind(core::ToString(s.kind));
  n.set_state(core::ToString(s.state));
  n.set_stop_pending(s.stop_pending);
  n.set_pid(s.pid);
  n.set_restart_count(s.restart_count);
  if (s.started_at && s.state != core::NodeState::kStopped)
    n.set_uptime_ms(Millis(now - *s.started_at));
  n.set_restart_type(core::ToString(s.restart));
  if (s.kind == core::NodeKind::kChild) {
    n.set_needs_ready(s.needs_ready);
    n.set_shutdown(core::ToString(s.shutdown));
  } else {
    n.set_strategy(core::ToString(s.strategy));
    n.set_intensity(s.intensity);
    n.set_period_ms(static_cast<uint64_t>(s.period.count()));
    n.set_dynamic(s.dynamic);
    n.set_restarts_in_period(static_cast<int32_t>(s.recent_restarts.size()));
  }
  return n;
}

v1::CtlRegistryEntry Shell::EntryToProto(const RegistryEntry& e) const {
  v1::CtlRegistryEntry out;
  out.set_task_queue(e.task_queue);
  out.set_child_id(e.child_id);
  out.set_pid(e.pid);
  out.set_ready(e.ready);
  out.set_exec(e.exec);
  return out;
}

void Shell::CtlStatus(ControlSocket::ConnectionId id, const v1::CtlStatusRequest& r) {
  const uint64_t gid = next_gather_++;
  StatsGather& g = gathers_[gid];
  g.connection = id;
  for (auto& [child_id, proc] : children_) {
    if (!proc->running()) continue;
    v1::ControlMessage m;
    m.set_seq(next_seq_++);
    m.mutable_stats_request();
    if (proc->SendControl(m)) g.outstanding[m.seq()] = child_id;
  }
  if (g.outstanding.empty()) {
    FinishStatus(gid);
    return;
  }
  const auto timeout =
      std::chrono::milliseconds(r.stats_timeout_ms() == 0 ? 500 : r.stats_timeout_ms());
  g.timeout =
      loop_.AddTimer(timeout, [this, gid] { loop_.Post([this, gid] { FinishStatus(gid); }); });
}

void Shell::FinishStatus(uint64_t gather_id) {
  auto it = gathers_.find(gather_id);
  if (it == gathers_.end()) return;
  StatsGather g = std::move(it->second);
  gathers_.erase(it);
  g.timeout.Reset();

  const auto now = Clock::now();
  v1::CtlReply reply;
  v1::CtlStatusReply& s = *reply.mutable_status();
  s.set_supervisor_pid(::getpid());
  s.set_supervisor_uptime_ms(Millis(now - started_at_));
  s.set_supervisor_rss_bytes(ipc::ResidentSetBytes());
  s.set_runtime_dir(options_.runtime_dir);
  s.set_target(config_.target.empty() ? devserver_address_ : config_.target);
  s.set_namespace_(config_.namespace_name);
  s.set_bridge_epoch(bridge_epoch_);
  s.set_bridge_socket(bridge_socket_.empty() ? options_.runtime_dir + "/bridge.sock"
                                             : bridge_socket_);
  for (const auto& node : tree_->Snapshot(now)) {
    v1::CtlNode& n = *s.add_nodes() = NodeToProto(node, now);
    if (auto st = g.stats.find(node.id); st != g.stats.end()) *n.mutable_stats() = st->second;
  }
  for (const auto& e : registry_.Entries()) *s.add_registry() = EntryToProto(e);
  for (const auto& q : launcher_.queues()) s.add_launcher_queues(q.name);
  s.set_cascades(cascades_);
  s.set_stopping(stopping_);
  control_.Reply(g.connection, reply);
}

void Shell::CtlFailpoint(ControlSocket::ConnectionId id, const v1::CtlFailpointRequest& r) {
  const auto& command = r.command();
  auto invalid = [&](const std::string& why) {
    control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_INVALID_ARGUMENT, why));
  };
  if (r.child_id().empty()) return invalid("child_id is empty");
  if (command.op() != v1::FailpointCommand::OP_SET &&
      command.op() != v1::FailpointCommand::OP_CLEAR &&
      command.op() != v1::FailpointCommand::OP_LIST) {
    return invalid("command.op must be OP_SET, OP_CLEAR or OP_LIST");
  }
  if (command.op() != v1::FailpointCommand::OP_LIST && command.name().empty()) {
    return invalid("command.name is empty");
  }
  // Checked here too, so a bad action is refused the same way whether the
  // child is up or not.
  std::string error;
  if (command.op() == v1::FailpointCommand::OP_SET &&
      !failpoint::ParseAction(command.action(), &error)) {
    return invalid(error);
  }
  auto it = children_.find(r.child_id());
  if (it == children_.end() || !it->second->running()) {
    std::string why = "no running child '" + r.child_id() + "'";
    if (IsExecutor(r.child_id())) {
      why +=
          " with a control channel (executors have none: arm executor.* points on their "
          "worker, which hands them on)";
    }
    control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_NOT_FOUND, why));
    return;
  }
  v1::ControlMessage m;
  m.set_seq(next_seq_++);
  *m.mutable_failpoint() = command;
  if (!it->second->SendControl(m)) {
    control_.Reply(id,
                   ControlSocket::Error(v1::CTL_ERROR_KIND_FAILED,
                                        "the control channel of " + r.child_id() + " is closed"));
    return;
  }
  const uint64_t seq = m.seq();
  FailpointWait& w = failpoint_waits_[seq];
  w.connection = id;
  w.child = r.child_id();
  w.timeout = loop_.AddTimer(std::chrono::seconds(2), [this, seq, child = r.child_id()] {
    // Posted: the timer must not be destroyed from inside its own callback.
    loop_.Post([this, seq, child] {
      FinishFailpoint(seq,
                      ControlSocket::Error(v1::CTL_ERROR_KIND_TIMEOUT,
                                           child + " did not answer within 2 s (stopped? hung?)"));
    });
  });
}

void Shell::FinishFailpoint(uint64_t seq, const v1::CtlReply& reply) {
  auto it = failpoint_waits_.find(seq);
  if (it == failpoint_waits_.end()) return;
  const ControlSocket::ConnectionId connection = it->second.connection;
  // Destroying the timer from its own callback is what Post avoided; here
  // the callback has returned (or never ran).
  failpoint_waits_.erase(it);
  control_.Reply(connection, reply);
}

v1::CtlReply Shell::CtlWhichChildren(const v1::CtlWhichChildrenRequest& r) {
  const std::string sup = r.supervisor().empty() ? core::kApplicationId : r.supervisor();
  const auto now = Clock::now();
  auto status = tree_->Status(sup, now);
  if (!status || status->kind != core::NodeKind::kSupervisor) {
    return ControlSocket::Error(v1::CTL_ERROR_KIND_NOT_FOUND, "no supervisor named '" + sup + "'");
  }
  v1::CtlReply reply;
  for (const auto& node : tree_->Snapshot(now)) {
    if (node.parent == sup)
      *reply.mutable_which_children()->add_children() = NodeToProto(node, now);
  }
  reply.mutable_which_children();
  return reply;
}

v1::CtlReply Shell::CtlWhereis(const v1::CtlWhereisRequest& r) {
  if (const RegistryEntry* e = registry_.Find(r.task_queue())) {
    v1::CtlReply reply;
    *reply.mutable_whereis()->mutable_entry() = EntryToProto(*e);
    return reply;
  }
  const bool kept = launcher_.Find(r.task_queue()) != nullptr;
  return ControlSocket::Error(
      v1::CTL_ERROR_KIND_NOT_FOUND,
      kept ? "queue '" + r.task_queue() + "' has no worker process right now (restarting?)"
           : "no worker for queue '" + r.task_queue() + "'");
}

void Shell::CtlStartWorker(ControlSocket::ConnectionId id, const v1::CtlStartWorkerRequest& r) {
  const std::string& name = r.task_queue();
  if (name.empty()) {
    control_.Reply(
        id, ControlSocket::Error(v1::CTL_ERROR_KIND_INVALID_ARGUMENT, "task queue name is empty"));
    return;
  }
  if (!r.isolation().empty() && r.isolation() != "thread" && r.isolation() != "process") {
    control_.Reply(id, ControlSocket::Error(
                           v1::CTL_ERROR_KIND_INVALID_ARGUMENT,
                           "isolation must be 'thread' or 'process', not '" + r.isolation() + "'"));
    return;
  }
  if (!r.exec().empty() && (r.exec().front() != '/' || ::access(r.exec().c_str(), X_OK) != 0)) {
    control_.Reply(
        id, ControlSocket::Error(v1::CTL_ERROR_KIND_INVALID_ARGUMENT,
                                 "--exec must be an absolute path to an executable: " + r.exec()));
    return;
  }
  if (stopping_) {
    control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_REFUSED, "the tree is stopping"));
    return;
  }
  QueueConfig q;
  q.name = name;
  q.exec = r.exec();
  q.args.assign(r.args().begin(), r.args().end());
  q.isolation = r.isolation();
  if (!launcher_.Keep(q)) {
    control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_REFUSED,
                                            "queue '" + name + "' is already served"));
    return;
  }
  const std::string child = core::WorkerId(name);
  const ChildRecord before = records_[child];
  spdlog::info("ctl start-worker {}", name);
  Enqueue(launcher_.StartOne(q));
  AddWaiter(id, child, "start-worker " + child, config_.ready_timeout + std::chrono::seconds(5),
            [this, name, child, before]() -> std::optional<v1::CtlReply> {
              const ChildRecord& now = records_[child];
              const RegistryEntry* e = registry_.Find(name);
              if (e != nullptr && e->ready) {
                return Done(child + " ready (pid " + std::to_string(e->pid) + ")");
              }
              if (now.exits > before.exits || now.spawn_failures > before.spawn_failures) {
                // A worker added by hand that cannot start must not crash-loop
                // its group into giving up and cascading the bridge host:
                // forget it and say why.
                const std::string why = now.last_end;
                launcher_.Forget(name);
                Enqueue(core::StopChild{child});
                return ControlSocket::Error(
                    v1::CTL_ERROR_KIND_FAILED,
                    child + " failed before READY: " + why + " (queue forgotten)");
              }
              return std::nullopt;
            });
}

void Shell::CtlStopWorker(ControlSocket::ConnectionId id, const v1::CtlStopWorkerRequest& r) {
  const std::string& name = r.task_queue();
  if (!launcher_.Forget(name)) {
    control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_NOT_FOUND,
                                            "no worker for queue '" + name + "'"));
    return;
  }
  const std::string child = core::WorkerId(name);
  spdlog::info("ctl stop-worker {}", name);
  if (!tree_->Status(child, Clock::now())) {
    control_.Reply(id, Done("queue '" + name + "' forgotten (no worker was running)"));
    return;
  }
  Enqueue(core::StopChild{child});
  AddWaiter(id, child, "stop-worker " + child, config_.shutdown_timeout + std::chrono::seconds(5),
            [this, child]() -> std::optional<v1::CtlReply> {
              auto s = tree_->Status(child, Clock::now());
              if (!s || s->state == core::NodeState::kStopped) return Done(child + " stopped");
              return std::nullopt;
            });
}

void Shell::CtlRestart(ControlSocket::ConnectionId id, const std::string& child_id) {
  auto status = tree_->Status(child_id, Clock::now());
  if (!status) {
    control_.Reply(
        id, ControlSocket::Error(v1::CTL_ERROR_KIND_NOT_FOUND, "no node named '" + child_id + "'"));
    return;
  }
  if (stopping_) {
    control_.Reply(id, ControlSocket::Error(v1::CTL_ERROR_KIND_REFUSED, "the tree is stopping"));
    return;
  }
  spdlog::info("ctl restart {}", child_id);
  const bool is_supervisor = status->kind == core::NodeKind::kSupervisor;
  const int spawns_before = records_[child_id].spawns;
  const int starts_before = supervisor_starts_[child_id];
  Enqueue(core::RestartChild{child_id});
  AddWaiter(id, child_id, "restart " + child_id,
            config_.shutdown_timeout + config_.ready_timeout * 2,
            [this, child_id, is_supervisor, spawns_before,
             starts_before]() -> std::optional<v1::CtlReply> {
              auto s = tree_->Status(child_id, Clock::now());
              if (!s)
                return ControlSocket::Error(v1::CTL_ERROR_KIND_FAILED, child_id + " left the tree");
              const bool restarted = is_supervisor ? supervisor_starts_[child_id] > starts_before
                                                   : records_[child_id].spawns > spawns_before;
              if (!restarted || s->state != core::NodeState::kRunning) return std::nullopt;
              // A bridge host is back only once every queue is served again.
              if (!AllQueuesReady()) return std::nullopt;
              std::string msg = child_id + " restarted";
              if (s->pid != 0) msg += " (pid " + std::to_string(s->pid) + ")";
              if (child_id == core::kBridgeHostId)
                msg += ", epoch " + std::to_string(bridge_epoch_);
              return Done(msg);
            });
}

void Shell::AddWaiter(ControlSocket::ConnectionId id, std::string target, std::string what,
                      Clock::duration timeout, std::function<std::optional<v1::CtlReply>()> check) {
  waiters_.push_back(
      Waiter{id, std::move(check), std::move(target), std::move(what), Clock::now() + timeout});
}

void Shell::CheckWaiters() {
  const auto now = Clock::now();
  // A check may enqueue events (a failed start-worker stops its child), never
  // add waiters, so iterating a moved-out list is safe.
  std::vector<Waiter> still;
  std::vector<Waiter> current;
  current.swap(waiters_);
  for (auto& w : current) {
    if (auto reply = w.check()) {
      control_.Reply(w.connection, *reply);
    } else if (now >= w.deadline) {
      control_.Reply(w.connection,
                     ControlSocket::Error(v1::CTL_ERROR_KIND_TIMEOUT,
                                          w.what + ": not settled in time; the tree keeps trying"));
    } else {
      still.push_back(std::move(w));
    }
  }
  for (auto& w : waiters_) still.push_back(std::move(w));
  waiters_.swap(still);
}

}  // namespace hourglass::supervisor
