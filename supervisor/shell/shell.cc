#include "supervisor/shell/shell.h"

#include <poll.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "ipc/control_channel.h"
#include "ipc/exit_codes.h"
#include "ipc/failpoint.h"
#include "ipc/unix_socket.h"
#include "supervisor/core/hourglass_tree.h"
#include "supervisor/process/sd_notify.h"

namespace hourglass::supervisor {

namespace v1 = ipc::v1;
using core::Clock;

namespace {

core::HourglassTreeOptions TreeOptionsFrom(const Config& c) {
  core::HourglassTreeOptions o;
  o.devserver = c.target.empty();
  auto limits = [](const Intensity& i) {
    return core::Limits{i.max_restarts, i.period, core::Duration{0}};
  };
  o.application = limits(c.application);
  o.subsystem = limits(c.subsystem);
  o.workers = limits(c.workers);
  o.shutdown = core::Shutdown::Timeout(c.shutdown_timeout);
  o.ready_timeout = c.ready_timeout;
  return o;
}

std::vector<QueueConfig> QueuesOrDefault(const Config& c) {
  if (!c.queues.empty()) return c.queues;
  QueueConfig q;
  q.name = "default";
  return {q};
}

spdlog::level::level_enum LevelOf(core::Severity s) {
  switch (s) {
    case core::Severity::kDebug:
      return spdlog::level::debug;
    case core::Severity::kInfo:
      return spdlog::level::info;
    case core::Severity::kWarning:
      return spdlog::level::warn;
    case core::Severity::kError:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

uint64_t Millis(Clock::duration d) {
  return static_cast<uint64_t>(
      std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(d).count()));
}

v1::CtlReply Done(const std::string& message) {
  v1::CtlReply reply;
  reply.mutable_done()->set_message(message);
  return reply;
}

// Executors are adopted under ids of their own making ("executor:<pid>");
// nothing else in the tree uses that prefix.
constexpr char kExecutorPrefix[] = "executor:";

bool IsExecutor(const std::string& id) { return id.rfind(kExecutorPrefix, 0) == 0; }

// waitid's siginfo as the core's exit status.
core::ExitStatus FromSiginfo(const siginfo_t& info) {
  switch (info.si_code) {
    case CLD_EXITED:
      return core::ExitStatus::Exited(info.si_status);
    case CLD_DUMPED:
      return core::ExitStatus::Signaled(info.si_status, true);
    default:
      return core::ExitStatus::Signaled(info.si_status);
  }
}

// The process behind `pidfd` has exited (a pidfd is readable from then on).
bool PidfdExited(int pidfd) {
  struct pollfd p {
    pidfd, POLLIN, 0
  };
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

}  // namespace

Shell::Shell(ipc::EventLoop& loop, ShellOptions options)
    : loop_(loop),
      options_(std::move(options)),
      config_(options_.config),
      paths_{options_.bin_dir, options_.runtime_dir},
      tree_options_(TreeOptionsFrom(options_.config)),
      reaper_(loop,
              [](pid_t pid, int status) {
                // A descendant reparented to us (we are the subreaper) and
                // then ended: not an adopted executor, whose status goes to
                // its node (OnExecutorStarted tracks it).
                spdlog::info("reaped orphan pid {} ({})", pid, DescribeWaitStatus(status));
              }),
      watchdog_(options_.config.watchdog_timeout),
      launcher_(QueuesOrDefault(options_.config), tree_options_),
      control_(loop, options_.runtime_dir + "/supervisor.sock",
               options_.uid ? std::vector<uid_t>{*options_.uid} : std::vector<uid_t>{}, *this),
      api_key_(ResolveApiKey(options_.config)),
      started_at_(Clock::now()) {}

Shell::~Shell() {
  // Destroying a SupervisedProcess untracks it; the children see their
  // control channels close and exit on their own.
  children_.clear();
}

ipc::Status Shell::Start() {
  if (auto st = ipc::EnsurePrivateDirectory(options_.runtime_dir); !st.ok()) return st;
  if (options_.uid) {
    // The children run as --user and bind their sockets here.
    if (::chown(options_.runtime_dir.c_str(), *options_.uid,
                options_.gid.value_or(static_cast<gid_t>(-1))) != 0) {
      return ipc::MakeError(v1::ERROR_KIND_INTERNAL, "chown " + options_.runtime_dir + ": " +
                                                         std::string(std::strerror(errno)));
    }
  }
  if (auto st = control_.Start(); !st.ok()) return st;

  std::vector<std::string> errors;
  tree_ = core::Tree::Create(core::HourglassTree(tree_options_), &errors);
  if (!tree_) {
    std::string all;
    for (const auto& e : errors) all += (all.empty() ? "" : "; ") + e;
    return ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT, "invalid tree: " + all);
  }

  sigterm_ = loop_.WatchSignal(SIGTERM, [this] { BeginStop("SIGTERM"); });
  sigint_ = loop_.WatchSignal(SIGINT, [this] { BeginStop("SIGINT"); });
  // A terminal hang-up must not kill the tree; reloading config is not
  // supported (restart the supervisor, or use ctl start-worker/stop-worker).
  sighup_ = loop_.WatchSignal(SIGHUP, [] { spdlog::info("SIGHUP ignored"); });

  // Polled on a fifth of the timeout: a silent child is killed at most 20 %
  // late, and an idle supervisor wakes five times per timeout, not per child.
  const auto tick = std::max(std::chrono::milliseconds(50), config_.watchdog_timeout / 5);
  watchdog_timer_ = loop_.AddPeriodicTimer(tick, [this] { WatchdogTick(); });
  waiter_timer_ =
      loop_.AddPeriodicTimer(std::chrono::milliseconds(250), [this] { CheckWaiters(); });
  if (auto period = SdWatchdogPeriod()) {
    sd_watchdog_timer_ = loop_.AddPeriodicTimer(*period, [] { SdNotify("WATCHDOG=1"); });
  }

  spdlog::info(
      "hourglass-supervisor pid {}: runtime dir {}, {}; queues: {}", ::getpid(),
      options_.runtime_dir,
      config_.target.empty() ? std::string("embedded dev server") : "target " + config_.target,
      [&] {
        std::string s;
        for (const auto& q : launcher_.queues()) s += (s.empty() ? "" : ", ") + q.name;
        return s;
      }());
  Enqueue(core::StartTree{});
  return ipc::OkStatus();
}

// --- Events and actions -------------------------------------------------------

void Shell::Enqueue(core::Event event) {
  pending_.push_back(std::move(event));
  if (flush_posted_) return;
  flush_posted_ = true;
  // Fed after the current callback (and whatever else is ready in this loop
  // iteration) returns: exits reaped in one sweep reach the core as one batch,
  // and an answer to Spawn is never fed from inside the loop over actions.
  loop_.Post([this] { Flush(); });
}

void Shell::Flush() {
  flush_posted_ = false;
  if (!tree_ || tree_->finished()) {
    pending_.clear();
    return;
  }
  std::vector<core::Event> events;
  events.swap(pending_);
  for (const auto& action : tree_->HandleBatch(std::move(events), Clock::now())) Perform(action);
  CheckWaiters();
}

void Shell::Perform(const core::Action& action) {
  std::visit(
      [this](const auto& a) {
        using T = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<T, core::Spawn>) {
          DoSpawn(a.id);
        } else if constexpr (std::is_same_v<T, core::SendSignal>) {
          DoSignal(a);
        } else if constexpr (std::is_same_v<T, core::ArmTimer>) {
          const auto delay =
              std::chrono::duration_cast<std::chrono::milliseconds>(a.deadline - Clock::now());
          const core::TimerToken token = a.token;
          timers_[token] =
              loop_.AddTimer(std::max(std::chrono::milliseconds(0), delay), [this, token] {
                // The handle must not be destroyed inside its own callback.
                loop_.Post([this, token] { timers_.erase(token); });
                Enqueue(core::TimerFired{token});
              });
        } else if constexpr (std::is_same_v<T, core::CancelTimer>) {
          timers_.erase(a.token);
        } else if constexpr (std::is_same_v<T, core::Log>) {
          // The core's text is complete: it names the supervisor and child.
          spdlog::log(LevelOf(a.severity), "{}", a.text);
        } else if constexpr (std::is_same_v<T, core::NodeEvent>) {
          OnNodeEvent(a);
        } else if constexpr (std::is_same_v<T, core::RequestRefused>) {
          spdlog::warn("request for {} refused: {}", a.id, a.reason);
          if (executors_.count(a.id) != 0) OnAdoptionRefused(a.id, a.reason);
          // A request for this id failed: its waiter is answered now. A
          // start-worker refused while the workers group restarts (a
          // cascade) is not failed: the launcher keeps the queue and adds it
          // when the group is back. Refused otherwise, the queue is
          // forgotten, so "refused" means it will not appear later.
          const auto queue = Registry::QueueOf(a.id);
          if (queue && launcher_.Find(*queue) != nullptr) {
            auto workers = tree_->Status(core::kWorkersId, Clock::now());
            if (workers && workers->state != core::NodeState::kRunning && !stopping_) return;
            launcher_.Forget(*queue);
          }
          for (auto it = waiters_.begin(); it != waiters_.end();) {
            if (it->target == a.id) {
              control_.Reply(it->connection,
                             ControlSocket::Error(v1::CTL_ERROR_KIND_REFUSED, a.reason));
              it = waiters_.erase(it);
            } else {
              ++it;
            }
          }
        } else if constexpr (std::is_same_v<T, core::Exit>) {
          OnExitAction(a.code);
        }
      },
      action);
}

std::optional<Command> Shell::CommandFor(const std::string& id, std::string* why) {
  if (id == core::kDevServerId) return DevServerCommand(config_, paths_);
  if (id == core::kBridgeHostId) {
    const std::string target = config_.target.empty() ? devserver_address_ : config_.target;
    if (target.empty()) {
      *why = "no Temporal address yet (the dev server has not reported one)";
      return std::nullopt;
    }
    return BridgeHostCommand(config_, paths_, target, api_key_);
  }
  if (auto queue = Registry::QueueOf(id)) {
    const QueueConfig* q = launcher_.Find(*queue);
    if (q == nullptr) {
      *why = "queue " + *queue + " is no longer kept";
      return std::nullopt;
    }
    const std::string socket =
        bridge_socket_.empty() ? options_.runtime_dir + "/bridge.sock" : bridge_socket_;
    return WorkerCommand(config_, *q, paths_, socket);
  }
  *why = "no launch plan for " + id;
  return std::nullopt;
}

void Shell::DoSpawn(const std::string& id) {
  std::string why;
  auto command = CommandFor(id, &why);
  if (!command) {
    records_[id].spawn_failures++;
    records_[id].last_end = why;
    Enqueue(core::SpawnFailed{id, why});
    return;
  }
  LaunchSpec spec;
  spec.id = id;
  spec.argv = command->argv;
  spec.env = command->env;
  // Fault points armed in our environment reach the first start of each
  // child only: a restart starts disarmed, so an armed crash fires once per
  // child and never turns into a crash loop (docs/fault-injection.md).
  if (records_[id].spawns > 0 && std::getenv(failpoint::kEnvVar) != nullptr) {
    spec.env.emplace_back(failpoint::kEnvVar, "");
  }
  spec.uid = options_.uid;
  spec.gid = options_.gid;
  records_[id].exec = spec.argv.front();

  SupervisedProcess::Callbacks callbacks;
  callbacks.on_control = [this, id](const v1::ControlMessage& m) { OnControlMessage(id, m); };
  callbacks.on_exit = [this, id](int status) {
    OnChildExit(id, core::ExitStatus::FromWaitStatus(status));
  };
  auto started = SupervisedProcess::Start(loop_, reaper_, std::move(spec), std::move(callbacks));
  if (!started.ok()) {
    records_[id].spawn_failures++;
    records_[id].last_end = started.error().message();
    Enqueue(core::SpawnFailed{id, started.error().message()});
    return;
  }
  const pid_t pid = (*started)->pid();
  if (id == core::kBridgeHostId) bridge_running_ = true;
  children_[id] = std::move(started).value();
  Enqueue(core::ChildSpawned{id, pid});
}

void Shell::OnChildExit(const std::string& id, const core::ExitStatus& status) {
  std::vector<uint64_t> unanswered;
  for (const auto& [seq, w] : failpoint_waits_) {
    if (w.child == id) unanswered.push_back(seq);
  }
  for (uint64_t seq : unanswered) {
    FinishFailpoint(
        seq, ControlSocket::Error(v1::CTL_ERROR_KIND_FAILED, id + " exited before it answered"));
  }
  const bool bridge_lost =
      status.kind == core::ExitStatus::Kind::kExited && status.code == exit_code::kBridgeLost;
  // Only while the bridge host's own exit is still to come: once it has
  // been seen, the cascade is under way and waits for this exit.
  if (bridge_lost && bridge_running_ && Registry::QueueOf(id)) {
    // A worker that lost its bridge host usually dies before the bridge host
    // does: a SIGKILLed bridge host closes its sockets at once but takes a
    // few ms to tear down its threads and become reapable. Fed alone, the
    // worker's exit would count as a crash of its own (a restart against a
    // dying bridge host, charged to the workers group's intensity). Held
    // until the bridge host's exit, it joins that batch and is part of the
    // cascade (fault catalogue #2, #15). If the bridge host lives on (a
    // broken connection only), it is fed alone after the grace.
    held_exits_.push_back(core::ChildExited{id, status});
    if (!held_timer_armed_) {
      held_timer_armed_ = true;
      held_timer_ = loop_.AddTimer(std::chrono::milliseconds(1000), [this] {
        held_timer_armed_ = false;
        ReleaseHeldExits();
      });
    }
    return;
  }
  Enqueue(core::ChildExited{id, status});
  if (id == core::kBridgeHostId) {
    bridge_running_ = false;
    ReleaseHeldExits();
  }
}

void Shell::ReleaseHeldExits() {
  for (auto& e : held_exits_) Enqueue(std::move(e));
  held_exits_.clear();
}

void Shell::DoSignal(const core::SendSignal& s) {
  if (SignalExecutor(s)) return;
  auto it = children_.find(s.id);
  if (it == children_.end() || !it->second->running()) return;
  if (s.signo == SIGKILL) {
    // The whole session: the child leads its own process group (setsid), so
    // its descendants go too. The core never signals a child it has seen
    // exit, so the group id is still this child's.
    if (::kill(-s.pid, SIGKILL) != 0 && errno != ESRCH) {
      spdlog::warn("killpg {} ({}): {}", s.pid, s.id, std::strerror(errno));
    }
    it->second->Signal(SIGKILL);
    return;
  }
  it->second->Signal(s.signo);
}

void Shell::OnNodeEvent(const core::NodeEvent& e) {
  const auto now = Clock::now();
  switch (e.kind) {
    case core::NodeEventKind::kSpawned: {
      // An adopted executor has no control channel to us, so it sends no
      // heartbeats: the watchdog would kill every one of them. Nor does it
      // belong in the per-child records, which live as long as the
      // supervisor (executors come and go by the thousand).
      if (IsExecutor(e.id)) break;
      auto& r = records_[e.id];
      r.spawns++;
      r.ready = false;
      registry_.Spawned(e.id, e.pid, r.exec);
      watchdog_.Watch(e.id, now);
      break;
    }
    case core::NodeEventKind::kReady:
      records_[e.id].ready = true;
      registry_.Ready(e.id);
      MaybeNotifyReady();
      break;
    case core::NodeEventKind::kExited: {
      if (IsExecutor(e.id)) break;
      auto& r = records_[e.id];
      r.exits++;
      r.ready = false;
      r.last_end = e.cause;
      registry_.Exited(e.id);
      watchdog_.Unwatch(e.id);
      if (auto it = children_.find(e.id); it != children_.end()) {
        // Its last words (a crash message) are often still in the pipe.
        it->second->DrainOutput();
        children_.erase(it);
      }
      if (e.id == core::kBridgeHostId) bridge_epoch_ = 0;
      break;
    }
    case core::NodeEventKind::kStarted:
      supervisor_starts_[e.id]++;
      if (e.id == core::kWorkersId) {
        // The first start, or a cascade restarted the group empty: bring
        // back every kept queue (the launcher's one job).
        for (auto& add : launcher_.StartAll()) Enqueue(std::move(add));
      }
      break;
    case core::NodeEventKind::kCascadeBegun:
      if (e.id == core::kSubsystemId) cascades_++;
      spdlog::warn("{}: cascade after {} ({})", e.id, e.cause,
                   "restarting the children started after it");
      break;
    case core::NodeEventKind::kCascadeDone:
      spdlog::info("{}: cascade done", e.id);
      break;
    case core::NodeEventKind::kGaveUp:
    case core::NodeEventKind::kStopped:
    case core::NodeEventKind::kRemoved:
      break;
  }
}

void Shell::BeginStop(const std::string& why) {
  spdlog::info("{}: stopping the tree", why);
  if (!stopping_) {
    stopping_ = true;
    // systemd: the service is on its way down from now, not at the exit.
    SdNotify("STOPPING=1");
  }
  Enqueue(core::StopTree{});
}

void Shell::OnExitAction(int code) {
  exit_code_ = code;
  if (!stopping_) SdNotify("STOPPING=1");  // the tree gave up
  spdlog::log(code == exit_code::kOk ? spdlog::level::info : spdlog::level::err,
              "hourglass-supervisor exits {}{}", code,
              code == exit_code::kGaveUp ? " (restart intensity exceeded)" : "");
  for (const auto& w : waiters_) {
    control_.Reply(w.connection,
                   ControlSocket::Error(v1::CTL_ERROR_KIND_REFUSED, "the supervisor is exiting"));
  }
  waiters_.clear();
  for (auto id : stop_waiters_) control_.ReplyAndFlush(id, Done("stopped"));
  stop_waiters_.clear();
  control_.Stop();
  loop_.Stop();
}

void Shell::OnControlMessage(const std::string& id, const v1::ControlMessage& m) {
  watchdog_.Alive(id, Clock::now());
  switch (m.kind_case()) {
    case v1::ControlMessage::kReady: {
      const auto& r = m.ready();
      if (id == core::kDevServerId && !r.address().empty()) {
        devserver_address_ = r.address();
        // Restarts bind the same port, so the bridge host's target stays
        // valid without a cascade.
        if (auto colon = r.address().rfind(':');
            colon != std::string::npos && config_.devserver_port == 0) {
          config_.devserver_port = static_cast<uint16_t>(std::stoi(r.address().substr(colon + 1)));
        }
      }
      if (id == core::kBridgeHostId) {
        if (!r.socket_path().empty()) bridge_socket_ = r.socket_path();
        bridge_epoch_ = r.bridge_epoch();
      }
      Enqueue(core::ChildReady{id});
      break;
    }
    case v1::ControlMessage::kExecutorStarted:
      OnExecutorStarted(id, m.executor_started());
      break;
    case v1::ControlMessage::kFailpointReply: {
      auto it = failpoint_waits_.find(m.seq());
      if (it == failpoint_waits_.end() || it->second.child != id) break;  // timed out already
      v1::CtlReply reply;
      *reply.mutable_failpoint()->mutable_reply() = m.failpoint_reply();
      FinishFailpoint(m.seq(), reply);
      break;
    }
    case v1::ControlMessage::kStats: {
      for (auto& [gid, g] : gathers_) {
        auto it = g.outstanding.find(m.seq());
        if (it == g.outstanding.end()) continue;
        g.stats[it->second] = m.stats();
        g.outstanding.erase(it);
        if (g.outstanding.empty()) {
          const uint64_t done = gid;
          loop_.Post([this, done] { FinishStatus(done); });
        }
        break;
      }
      break;
    }
    default:
      break;  // heartbeats only count as signs of life
  }
}

// --- Adopted executors -------------------------------------------------------------

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
  reaper_.Track(pid, [this, id](int status) {
    OnExecutorExit(id, core::ExitStatus::FromWaitStatus(status), "");
  });
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
                          WEXITED | WNOHANG);
  if (rc == 0 && info.si_pid != 0) {
    // Ours (reparented after its worker died), collected here before the
    // SIGCHLD sweep got to it.
    OnExecutorExit(id, FromSiginfo(info), "");
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

void Shell::WatchdogTick() {
  for (const auto& id : watchdog_.Expired(Clock::now())) {
    spdlog::error("{}: silent on its control channel for {} ms (stopped or hung): killing it", id,
                  config_.watchdog_timeout.count());
    Enqueue(core::WatchdogExpired{id});
  }
}

bool Shell::AllQueuesReady() const {
  for (const auto& q : launcher_.queues()) {
    const RegistryEntry* e = registry_.Find(q.name);
    if (e == nullptr || !e->ready) return false;
  }
  return true;
}

void Shell::MaybeNotifyReady() {
  if (notified_ready_ || !AllQueuesReady()) return;
  notified_ready_ = true;
  spdlog::info("tree ready: {} queue(s) served", launcher_.queues().size());
  SdNotify("READY=1\nSTATUS=serving " + std::to_string(launcher_.queues().size()) +
           " task queue(s)");
}

// --- Control requests -------------------------------------------------------------

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
