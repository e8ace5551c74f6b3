#include "supervisor/shell/shell.h"

#include <signal.h>
#include <spdlog/spdlog.h>
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
#include "supervisor/shell/shell_internal.h"

namespace hourglass::supervisor {

namespace v1 = ipc::v1;
using core::Clock;
using shell_internal::Done;
using shell_internal::IsExecutor;

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
    Enqueue(core::SpawnFailed{id, started.error().message(),
                              started.error().kind() == v1::ERROR_KIND_UNAVAILABLE});
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
  // Every child has stopped. A bridge host that died during the stop (so was
  // not restarted) left its socket file; nothing serves it now, and the
  // runtime directory is this supervisor's alone (its owner lock).
  const std::string bridge_socket =
      bridge_socket_.empty() ? options_.runtime_dir + "/bridge.sock" : bridge_socket_;
  if (::unlink(bridge_socket.c_str()) == 0) {
    spdlog::info("removed {}, left by a bridge host that did not stop cleanly", bridge_socket);
  }
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

}  // namespace hourglass::supervisor
