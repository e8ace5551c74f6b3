#include "supervisor/core/tree.h"

#include <algorithm>
#include <utility>

#include "ipc/exit_codes.h"

namespace hourglass::supervisor::core {

// One node: its spec and its run-time state. Children are owned by the
// tree's id map and listed here in start order.
struct Tree::Node {
  std::string id;
  NodeKind kind = NodeKind::kChild;
  Node* parent = nullptr;
  std::vector<Node*> children;
  RestartType restart = RestartType::kPermanent;
  ChildSpec child;     // kind == kChild
  SupervisorSpec sup;  // kind == kSupervisor; its children specs rebuild it on restart
  RestartIntensity intensity{0, Duration{1}};

  NodeState state = NodeState::kStopped;
  int starts = 0;
  int restart_count = 0;
  std::optional<TimePoint> started_at;

  // A stop claimed this node: its end is a stop, never a failure, and it is
  // not restarted by its own type. `stop_begun` once it is being stopped
  // (signals sent, or its children being stopped).
  bool stop_requested = false;
  bool stop_begun = false;
  // After the stop: start again (RestartChild under one_for_one), or forget.
  bool restart_after_stop = false;
  bool drop_after_stop = false;

  // Children.
  int pid = 0;
  ExitContext exit_context;
  bool kill_sent = false;
  std::string failure;  // why the core killed it as failed
  bool spawn_failed_last = false;
  // The delay before the next retry of a spawn that failed for want of
  // resources; doubles per such failure, back to zero once a spawn works.
  Duration resource_backoff{0};
  std::optional<TimePoint> last_spawn;
  TimerToken shutdown_timer = 0;
  TimerToken restart_timer = 0;
  TimerToken ready_timer = 0;

  // Supervisors: the start plan (children still to start, left to right,
  // and the one whose start the next waits for).
  std::deque<Node*> start_queue;
  Node* waiting_on = nullptr;
  bool cascading = false;
  bool gave_up = false;

  bool is_supervisor() const { return kind == NodeKind::kSupervisor; }
  bool alive() const { return state != NodeState::kStopped; }
  // Up for the start plan: the next sibling may start.
  bool up() const {
    return state == NodeState::kRunning || (is_supervisor() && state == NodeState::kRestarting);
  }
  size_t index_in_parent() const {
    const auto& siblings = parent->children;
    return static_cast<size_t>(std::find(siblings.begin(), siblings.end(), this) -
                               siblings.begin());
  }
};

namespace {

// Retries of a spawn that failed for want of resources: 100 ms, doubling,
// at most 5 s apart.
constexpr Duration kFirstResourceRetry{100};
constexpr Duration kMaxResourceRetry{5000};

std::string Quote(const std::string& s) { return "'" + s + "'"; }

std::string WithPid(const std::string& id, int pid) {
  return pid > 0 ? Quote(id) + " (pid " + std::to_string(pid) + ")" : Quote(id);
}

std::string Ms(Duration d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

// ---------------------------------------------------------------------------
// Construction and lookup

std::unique_ptr<Tree> Tree::Create(SupervisorSpec root, std::vector<std::string>* errors) {
  std::vector<std::string> problems = ValidateTree(root);
  if (!problems.empty()) {
    if (errors) *errors = std::move(problems);
    return nullptr;
  }
  return std::unique_ptr<Tree>(new Tree(std::move(root)));
}

Tree::Tree(SupervisorSpec root) { root_ = Build(NodeSpec(std::move(root)), nullptr); }

Tree::~Tree() = default;

Tree::Node* Tree::Build(const NodeSpec& spec, Node* parent) {
  auto node = std::make_unique<Node>();
  Node* n = node.get();
  n->parent = parent;
  if (const SupervisorSpec* sup = spec.supervisor()) {
    n->id = sup->id;
    n->kind = NodeKind::kSupervisor;
    n->restart = sup->restart;
    n->sup = *sup;
    n->intensity = RestartIntensity(sup->intensity, sup->period);
  } else {
    n->child = *spec.child();
    n->id = n->child.id;
    n->kind = NodeKind::kChild;
    n->restart = n->child.restart;
  }
  nodes_[n->id] = std::move(node);
  if (n->is_supervisor()) {
    for (const NodeSpec& child : n->sup.children) n->children.push_back(Build(child, n));
  }
  return n;
}

Tree::Node* Tree::Find(const std::string& id) const {
  auto it = nodes_.find(id);
  return it == nodes_.end() ? nullptr : it->second.get();
}

bool Tree::InStoppingSubtree(const Node& n) const {
  for (const Node* p = n.parent; p != nullptr; p = p->parent) {
    if (p->stop_requested || p->state == NodeState::kStopping) return true;
  }
  return false;
}

// A supervisor that will be stopped starts nothing more: its parent stops
// it in its turn, and whatever it would start now would only be stopped.
bool Tree::Frozen(const Node& sup) const {
  return sup.stop_requested || sup.state == NodeState::kStopping || InStoppingSubtree(sup);
}

// ---------------------------------------------------------------------------
// Entry points

std::vector<Action> Tree::Handle(const Event& event, TimePoint now) {
  out_.clear();
  if (finished()) return {};
  // The clock only moves forward, even if a caller slips.
  now_ = std::max(now_, now);
  std::visit(
      [this](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, StartTree>) {
          OnStartTree();
        } else if constexpr (std::is_same_v<E, ChildSpawned>) {
          OnSpawned(e);
        } else if constexpr (std::is_same_v<E, SpawnFailed>) {
          OnSpawnFailed(e);
        } else if constexpr (std::is_same_v<E, ChildReady>) {
          OnReady(e);
        } else if constexpr (std::is_same_v<E, ChildExited>) {
          OnExited(e);
        } else if constexpr (std::is_same_v<E, TimerFired>) {
          OnTimer(e);
        } else if constexpr (std::is_same_v<E, StopTree>) {
          OnStopTree();
        } else if constexpr (std::is_same_v<E, AddChild>) {
          OnAddChild(e);
        } else if constexpr (std::is_same_v<E, StopChild>) {
          OnStopChild(e);
        } else if constexpr (std::is_same_v<E, RestartChild>) {
          OnRestartChild(e);
        } else if constexpr (std::is_same_v<E, AdoptChild>) {
          OnAdoptChild(e);
        } else {
          static_assert(std::is_same_v<E, WatchdogExpired>);
          OnWatchdog(e);
        }
      },
      event);
  Settle();
  return std::move(out_);
}

std::vector<Action> Tree::HandleBatch(std::vector<Event> events, TimePoint now) {
  // Rank every node depth first in start order; unknown ids go last.
  std::map<std::string, size_t> rank;
  std::vector<const Node*> stack{root_};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    const size_t next = rank.size();
    rank[n->id] = next;
    for (auto it = n->children.rbegin(); it != n->children.rend(); ++it) stack.push_back(*it);
  }
  auto rank_of = [&rank](const Event& e) {
    auto it = rank.find(std::get<ChildExited>(e).id);
    return it == rank.end() ? rank.size() : it->second;
  };
  // Sort the exits among themselves, in the slots exits occupied.
  std::vector<size_t> slots;
  std::vector<Event> exits;
  for (size_t i = 0; i < events.size(); ++i) {
    if (std::holds_alternative<ChildExited>(events[i])) {
      slots.push_back(i);
      exits.push_back(events[i]);
    }
  }
  std::stable_sort(exits.begin(), exits.end(),
                   [&](const Event& a, const Event& b) { return rank_of(a) < rank_of(b); });
  for (size_t i = 0; i < slots.size(); ++i) events[slots[i]] = exits[i];

  for (const Event& e : exits) reaped_.insert(std::get<ChildExited>(e).id);
  std::vector<Action> all;
  for (const Event& e : events) {
    std::vector<Action> some = Handle(e, now);
    all.insert(all.end(), std::make_move_iterator(some.begin()),
               std::make_move_iterator(some.end()));
  }
  reaped_.clear();
  return all;
}

// ---------------------------------------------------------------------------
// Event handlers

void Tree::OnStartTree() {
  if (started_) {
    Refuse(root_->id, "the tree is already started");
    return;
  }
  started_ = true;
  Emit(Severity::kInfo, Report::kProgress, *root_, nullptr, "starting the tree");
  StartNode(*root_);
}

void Tree::OnSpawned(const ChildSpawned& e) {
  Node* c = Find(e.id);
  if (c == nullptr || c->is_supervisor() || c->state != NodeState::kStarting) {
    if (c != nullptr && c->parent != nullptr) {
      Emit(Severity::kDebug, Report::kIgnored, *c->parent, c,
           "spawned " + WithPid(e.id, e.pid) + " while " + ToString(c->state) + ": ignored");
    }
    return;
  }
  c->pid = e.pid;
  c->spawn_failed_last = false;
  c->resource_backoff = Duration{0};
  c->started_at = now_;
  Notify(NodeEventKind::kSpawned, *c);
  Emit(Severity::kInfo, Report::kProgress, *c->parent, c, "started " + WithPid(c->id, c->pid));
  if (c->stop_begun) {
    // Its stop came while the spawn was under way.
    c->state = NodeState::kRunning;
    SendStopSignals(*c);
    return;
  }
  if (c->child.needs_ready) {
    c->state = NodeState::kWaitingReady;
    if (c->child.ready_timeout) {
      c->ready_timer = Arm(*c, TimerKind::kReady, now_ + *c->child.ready_timeout);
    }
  } else {
    c->state = NodeState::kRunning;
  }
  MarkDirty(*c->parent);
}

void Tree::OnSpawnFailed(const SpawnFailed& e) {
  Node* c = Find(e.id);
  if (c == nullptr || c->is_supervisor() || c->state != NodeState::kStarting) {
    if (c != nullptr && c->parent != nullptr) {
      Emit(Severity::kDebug, Report::kIgnored, *c->parent, c,
           "spawn failure of " + Quote(e.id) + " while " + ToString(c->state) + ": ignored");
    }
    return;
  }
  c->state = NodeState::kStopped;
  c->spawn_failed_last = true;
  if (c->stop_requested || InStoppingSubtree(*c)) {
    Emit(Severity::kWarning, Report::kStartError, *c->parent, c,
         "start_error: " + Quote(c->id) + ": " + e.reason + "; not retried: it is being stopped");
    CompleteStop(*c);
    return;
  }
  if (e.short_of_resources) {
    // The supervisor itself is short of processes, descriptors or memory:
    // nothing about the child, and nothing a restart of its siblings or an
    // escalation would fix (they need the same resources). Counted, a blip
    // would use up every level's intensity in a millisecond of immediate
    // retries and stop the whole tree (it did: fault catalogue #26). So it
    // is retried after a growing delay, uncounted, while the rest of the
    // tree runs on; the log says so at each retry.
    c->resource_backoff = c->resource_backoff == Duration{0}
                              ? kFirstResourceRetry
                              : std::min(c->resource_backoff * 2, kMaxResourceRetry);
    c->state = NodeState::kBackingOff;
    c->restart_timer = Arm(*c, TimerKind::kRestart, now_ + c->resource_backoff);
    Emit(Severity::kWarning, Report::kStartError, *c->parent, c,
         "start_error: " + Quote(c->id) + " " + e.reason +
             " (the supervisor is short of resources); retrying in " + Ms(c->resource_backoff) +
             ", not counted against intensity");
    return;
  }
  // A spawn that fails is an abnormal end before the process existed: the
  // child's restart type and its supervisor's strategy decide, and a retry
  // counts against intensity like OTP's try_again_restart.
  Terminated(*c, ExitClass::kAbnormal, e.reason, Report::kStartError);
}

void Tree::OnReady(const ChildReady& e) {
  Node* c = Find(e.id);
  if (c == nullptr || c->is_supervisor()) return;
  if (c->state != NodeState::kWaitingReady) {
    if (c->state != NodeState::kRunning) {
      Emit(Severity::kDebug, Report::kIgnored, *c->parent, c,
           "READY from " + Quote(c->id) + " while " + ToString(c->state) + ": ignored");
    }
    return;
  }
  Cancel(c->ready_timer);
  c->state = NodeState::kRunning;
  Notify(NodeEventKind::kReady, *c);
  Emit(Severity::kInfo, Report::kProgress, *c->parent, c, WithPid(c->id, c->pid) + " is ready");
  MarkDirty(*c->parent);
}

void Tree::OnExited(const ChildExited& e) {
  reaped_.erase(e.id);
  Node* c = Find(e.id);
  if (c == nullptr || c->is_supervisor() ||
      (c->state != NodeState::kWaitingReady && c->state != NodeState::kRunning &&
       c->state != NodeState::kStopping)) {
    if (c != nullptr && c->parent != nullptr) {
      Emit(Severity::kDebug, Report::kIgnored, *c->parent, c,
           "exit of " + Quote(e.id) + " while " + ToString(c->state) + ": ignored");
    }
    return;
  }
  Cancel(c->shutdown_timer);
  Cancel(c->ready_timer);
  const ExitClass exit_class = ClassifyExit(e.status, c->exit_context);
  std::string how = DescribeExit(e.status);
  if (!e.detail.empty()) how += " (" + e.detail + ")";
  if (!c->failure.empty()) how = c->failure + " (" + how + ")";
  const int pid = c->pid;
  c->state = NodeState::kStopped;
  Notify(NodeEventKind::kExited, *c, how);
  Node& sup = *c->parent;
  if (c->stop_requested || InStoppingSubtree(*c)) {
    if (exit_class == ExitClass::kAbnormal) {
      Emit(Severity::kWarning, Report::kShutdownError, sup, c,
           "shutdown_error: " + WithPid(c->id, pid) + " " + how + " while being stopped");
    } else {
      Emit(Severity::kInfo, Report::kProgress, sup, c,
           "stopped " + WithPid(c->id, pid) + ": " + how);
    }
    c->pid = 0;
    CompleteStop(*c);
    return;
  }
  Terminated(*c, exit_class, how, Report::kChildTerminated);
}

void Tree::OnTimer(const TimerFired& e) {
  auto it = timers_.find(e.token);
  if (it == timers_.end()) return;  // cancelled meanwhile: the shell may still deliver it
  const TimerInfo info = it->second;
  timers_.erase(it);
  Node* c = Find(info.id);
  if (c == nullptr) return;
  switch (info.kind) {
    case TimerKind::kShutdown:
      c->shutdown_timer = 0;
      if (c->state == NodeState::kStopping && !c->kill_sent) {
        Emit(Severity::kWarning, Report::kKilled, *c->parent, c,
             WithPid(c->id, c->pid) + " did not stop within its shutdown " +
                 ToString(c->child.shutdown) + ": SIGKILL");
        Signal(*c, kSigKill, /*for_stop=*/true);
      }
      return;
    case TimerKind::kReady:
      c->ready_timer = 0;
      if (c->state == NodeState::kWaitingReady) {
        KillAsFailed(*c, "no READY within " + Ms(*c->child.ready_timeout));
      }
      return;
    case TimerKind::kRestart:
      c->restart_timer = 0;
      if (c->state != NodeState::kBackingOff) return;
      if (c->stop_requested || InStoppingSubtree(*c)) {
        c->state = NodeState::kStopped;
        CompleteStop(*c);
        return;
      }
      EmitSpawn(*c);
      return;
  }
}

void Tree::OnStopTree() {
  if (!started_) {
    // Nothing runs: the stop is already complete.
    started_ = true;
    exit_code_ = exit_code::kOk;
    out_.push_back(Exit{exit_code::kOk});
    return;
  }
  if (root_->state == NodeState::kStopping) {
    // A second SIGTERM changes nothing: every child already has its bounded
    // stop under way (and a giving-up root keeps its kGaveUp exit).
    Emit(Severity::kInfo, Report::kRequest, *root_, nullptr,
         root_->gave_up ? "stop requested while giving up: already stopping"
                        : "stop requested again: already stopping");
    return;
  }
  Emit(Severity::kInfo, Report::kRequest, *root_, nullptr,
       "stopping the tree in reverse start order");
  BeginStop(*root_);
}

// The checks AddChild and AdoptChild share; the new node, or null (refused).
Tree::Node* Tree::JoinGroup(const std::string& group_id, const ChildSpec& spec) {
  Node* group = Find(group_id);
  if (group == nullptr || !group->is_supervisor() || !group->sup.dynamic) {
    Refuse(spec.id, Quote(group_id) + " is not a dynamic group");
    return nullptr;
  }
  if (std::vector<std::string> errors = ValidateChild(spec); !errors.empty()) {
    Refuse(spec.id, errors.front());
    return nullptr;
  }
  if (Find(spec.id) != nullptr) {
    Refuse(spec.id, Quote(spec.id) + " already exists");
    return nullptr;
  }
  if (group->state != NodeState::kRunning || Frozen(*group)) {
    Refuse(spec.id, "group " + Quote(group->id) + " is " +
                        (Frozen(*group) ? "stopping" : ToString(group->state)));
    return nullptr;
  }
  Node* c = Build(NodeSpec(spec), group);
  group->children.push_back(c);
  return c;
}

void Tree::OnAddChild(const AddChild& e) {
  Node* c = JoinGroup(e.group, e.spec);
  if (c == nullptr) return;
  Emit(Severity::kInfo, Report::kRequest, *c->parent, c, "adding " + Quote(c->id));
  StartNode(*c);
}

void Tree::OnAdoptChild(const AdoptChild& e) {
  if (e.pid <= 0) {
    Refuse(e.spec.id, "no pid to adopt");
    return;
  }
  if (e.spec.needs_ready) {
    // Nobody would send it: an adopted process has no control channel.
    Refuse(e.spec.id, "an adopted child cannot be READY-gated");
    return;
  }
  Node* c = JoinGroup(e.group, e.spec);
  if (c == nullptr) return;
  // What StartNode + ChildSpawned would have done, minus the Spawn: the
  // process exists already.
  ++c->starts;
  c->started_at = now_;
  c->last_spawn = now_;
  c->pid = e.pid;
  c->state = NodeState::kRunning;
  Notify(NodeEventKind::kSpawned, *c);
  Emit(Severity::kInfo, Report::kRequest, *c->parent, c, "adopted " + WithPid(c->id, c->pid));
  MarkDirty(*c->parent);
}

void Tree::OnStopChild(const StopChild& e) {
  Node* n = Find(e.id);
  if (n == nullptr || n == root_) {
    Refuse(e.id, n == nullptr ? "no such node" : "the root is stopped with StopTree");
    return;
  }
  Node& sup = *n->parent;
  if (sup.state != NodeState::kRunning || Frozen(sup)) {
    Refuse(e.id, "supervisor " + Quote(sup.id) + " is " +
                     (Frozen(sup) ? "stopping" : ToString(sup.state)));
    return;
  }
  if (n->stop_requested) {
    Refuse(e.id, Quote(e.id) + " is already being stopped");
    return;
  }
  Emit(Severity::kInfo, Report::kRequest, sup, n, "stopping " + Quote(n->id) + " on request");
  if (!n->alive()) {
    if (sup.sup.dynamic) Remove(*n);
    return;
  }
  n->stop_requested = true;
  n->drop_after_stop = sup.sup.dynamic;
  MarkDirty(sup);
}

void Tree::OnRestartChild(const RestartChild& e) {
  Node* n = Find(e.id);
  if (n == nullptr || n == root_) {
    Refuse(e.id, n == nullptr ? "no such node" : "the root cannot be restarted");
    return;
  }
  Node& sup = *n->parent;
  if (sup.state != NodeState::kRunning || Frozen(sup)) {
    Refuse(e.id, "supervisor " + Quote(sup.id) + " is " +
                     (Frozen(sup) ? "stopping" : ToString(sup.state)));
    return;
  }
  if (n->restart == RestartType::kTemporary) {
    Refuse(e.id, "a temporary child is never restarted");
    return;
  }
  const bool settled = n->state == NodeState::kStopped || n->state == NodeState::kRunning ||
                       n->state == NodeState::kWaitingReady;
  if (n->stop_requested || !settled) {
    // OTP answers {error, restarting}: one restart at a time.
    Refuse(e.id, Quote(e.id) + " is " + (n->stop_requested ? "stopping" : ToString(n->state)));
    return;
  }
  Emit(Severity::kInfo, Report::kRequest, sup, n,
       "restarting " + Quote(n->id) + " on request (not counted against intensity)");
  switch (sup.sup.strategy) {
    case Strategy::kOneForOne:
      if (n->alive()) {
        n->stop_requested = true;
        n->restart_after_stop = true;
      } else {
        StartNode(*n);
      }
      MarkDirty(sup);
      return;
    case Strategy::kRestForOne:
      Cascade(sup, n->index_in_parent(), *n);
      return;
    case Strategy::kOneForAll:
      Cascade(sup, 0, *n);
      return;
  }
}

void Tree::OnWatchdog(const WatchdogExpired& e) {
  Node* c = Find(e.id);
  if (c == nullptr || c->is_supervisor()) return;
  switch (c->state) {
    case NodeState::kWaitingReady:
    case NodeState::kRunning:
      KillAsFailed(*c, "watchdog: no heartbeat");
      return;
    case NodeState::kStopping:
      // SIGTERM does nothing to a stopped or hung process: do not wait out
      // the shutdown timeout.
      if (!c->kill_sent) {
        Cancel(c->shutdown_timer);
        Emit(Severity::kWarning, Report::kKilled, *c->parent, c,
             WithPid(c->id, c->pid) + " silent while stopping: SIGKILL");
        Signal(*c, kSigKill, /*for_stop=*/true);
      }
      return;
    case NodeState::kStopped:
    case NodeState::kStarting:
    case NodeState::kRestarting:
    case NodeState::kBackingOff:
      return;
  }
}

// ---------------------------------------------------------------------------
// Policy

void Tree::StartNode(Node& n) {
  ++n.starts;
  if (n.starts > 1) ++n.restart_count;
  n.started_at = now_;
  n.stop_requested = n.stop_begun = false;
  n.restart_after_stop = n.drop_after_stop = false;
  if (!n.is_supervisor()) {
    SpawnOrDelay(n);
    return;
  }
  if (n.starts > 1) {
    // A supervisor starts again from its spec, as a restarted OTP
    // supervisor re-runs init/1: static children as specified (temporary
    // ones that ended come back), dynamic children gone, a fresh restart
    // history. Everything below it is stopped, so nothing is lost; nodes
    // still there are kept, with their restart counts.
    std::vector<Node*> rebuilt;
    for (const NodeSpec& spec : n.sup.children) {
      Node* existing = Find(spec.id());
      rebuilt.push_back(existing != nullptr && existing->parent == &n ? existing : Build(spec, &n));
    }
    std::vector<Node*> old = n.children;
    for (Node* c : old) {
      if (std::find(rebuilt.begin(), rebuilt.end(), c) == rebuilt.end()) Remove(*c);
    }
    n.children = std::move(rebuilt);
  }
  n.intensity.Reset();
  n.gave_up = false;
  n.cascading = false;
  n.state = NodeState::kStarting;
  n.start_queue.assign(n.children.begin(), n.children.end());
  n.waiting_on = nullptr;
  MarkDirty(n);
}

void Tree::SpawnOrDelay(Node& c) {
  const Duration delay = c.parent->sup.restart_delay;
  TimePoint at = now_;
  if (c.last_spawn && delay > Duration{0}) at = std::max(now_, *c.last_spawn + delay);
  if (c.spawn_failed_last || at > now_) {
    // After a failed spawn the retry always goes through a timer, even with
    // no delay: the loop gets to handle stops and other children first
    // (OTP's try_again_restart is a message to itself for the same reason).
    c.state = NodeState::kBackingOff;
    c.restart_timer = Arm(c, TimerKind::kRestart, at);
    return;
  }
  EmitSpawn(c);
}

void Tree::EmitSpawn(Node& c) {
  c.state = NodeState::kStarting;
  c.last_spawn = now_;
  c.exit_context = {};
  c.failure.clear();
  c.kill_sent = false;
  out_.push_back(Spawn{c.id});
}

// `c` ended on its own (a process exit or failed spawn, or a supervisor that
// gave up): report it, then restart per its type and its supervisor's
// strategy, within intensity.
void Tree::Terminated(Node& c, ExitClass exit_class, const std::string& why, Report report) {
  Node& sup = *c.parent;
  const bool restart = ShouldRestart(c.restart, exit_class);
  // OTP reports every end of a permanent child and every abnormal end.
  if (report == Report::kStartError || c.restart == RestartType::kPermanent ||
      exit_class == ExitClass::kAbnormal) {
    const char* what = report == Report::kStartError ? "start_error" : "child_terminated";
    Emit(Severity::kError, report, sup, &c,
         std::string(what) + ": " + WithPid(c.id, c.pid) + " " + why + " (" + ToString(exit_class) +
             ", " + ToString(c.restart) + "); " + (restart ? "restarting" : "not restarted"));
  }
  c.pid = 0;
  if (!restart) {
    if (c.restart == RestartType::kTemporary || sup.sup.dynamic) {
      Remove(c);
    }
    MarkDirty(sup);  // a start plan waiting for it goes on
    return;
  }
  if (!sup.intensity.AddRestart(now_)) {
    GiveUp(sup);
    return;
  }
  switch (sup.sup.strategy) {
    case Strategy::kOneForOne:
      StartNode(c);
      MarkDirty(sup);
      return;
    case Strategy::kRestForOne:
      Cascade(sup, c.index_in_parent(), c);
      return;
    case Strategy::kOneForAll:
      Cascade(sup, 0, c);
      return;
  }
}

// Stops the children of `sup` from index `from` on (reverse order, when
// Drive gets to them), then starts them again in order. Temporary children
// that have run are stopped and forgotten, not restarted.
void Tree::Cascade(Node& sup, size_t from, Node& cause) {
  Notify(NodeEventKind::kCascadeBegun, sup, cause.id);
  if (sup.state == NodeState::kRunning) sup.state = NodeState::kRestarting;
  sup.cascading = true;
  sup.start_queue.clear();
  sup.waiting_on = nullptr;
  for (size_t i = from; i < sup.children.size(); ++i) {
    Node* x = sup.children[i];
    if (x->alive()) x->stop_requested = true;
    if (x->restart == RestartType::kTemporary && x->starts > 0) continue;
    sup.start_queue.push_back(x);
  }
  MarkDirty(sup);
}

void Tree::GiveUp(Node& sup) {
  const auto recent = sup.intensity.Recent(now_);
  Emit(Severity::kError, Report::kReachedMaxRestartIntensity, sup, nullptr,
       "reached_max_restart_intensity: " + std::to_string(recent.size()) + " restarts within " +
           Ms(sup.intensity.period()) + " (intensity " + std::to_string(sup.intensity.intensity()) +
           "); stopping its children" +
           (sup.parent ? "" : " and exiting with " + std::to_string(exit_code::kGaveUp)));
  Notify(NodeEventKind::kGaveUp, sup);
  sup.gave_up = true;
  sup.state = NodeState::kStopping;
  sup.cascading = false;
  sup.start_queue.clear();
  sup.waiting_on = nullptr;
  for (Node* x : sup.children) {
    if (x->alive()) x->stop_requested = true;
  }
  MarkDirty(sup);
}

void Tree::BeginStop(Node& n) {
  n.stop_requested = true;
  n.stop_begun = true;
  if (!n.is_supervisor()) {
    switch (n.state) {
      case NodeState::kStarting:  // signalled once the spawn is answered
      case NodeState::kStopping:  // already being killed
        return;
      case NodeState::kBackingOff:
        Cancel(n.restart_timer);
        n.state = NodeState::kStopped;
        CompleteStop(n);
        return;
      case NodeState::kWaitingReady:
      case NodeState::kRunning:
        SendStopSignals(n);
        return;
      case NodeState::kStopped:
      case NodeState::kRestarting:
        CompleteStop(n);
        return;
    }
    return;
  }
  if (n.state == NodeState::kStopped) {
    if (n.parent != nullptr) CompleteStop(n);
    return;
  }
  n.state = NodeState::kStopping;
  n.cascading = false;
  n.start_queue.clear();
  n.waiting_on = nullptr;
  for (Node* x : n.children) {
    if (x->alive()) x->stop_requested = true;
  }
  MarkDirty(n);
}

void Tree::SendStopSignals(Node& c) {
  c.state = NodeState::kStopping;
  Cancel(c.ready_timer);
  if (reaped_.count(c.id) != 0) return;  // dead already; its exit completes the stop
  const Shutdown& shutdown = c.child.shutdown;
  switch (shutdown.kind) {
    case Shutdown::Kind::kBrutalKill:
      Signal(c, kSigKill, /*for_stop=*/true);
      return;
    case Shutdown::Kind::kTimeout:
      Signal(c, kSigTerm, /*for_stop=*/true);
      // A SIGSTOPped child would hold the SIGTERM until continued (s6 and
      // systemd send SIGCONT after the stop signal for the same reason).
      Signal(c, kSigCont, /*for_stop=*/true);
      c.shutdown_timer = Arm(c, TimerKind::kShutdown, now_ + shutdown.timeout);
      return;
    case Shutdown::Kind::kInfinity:
      Signal(c, kSigTerm, /*for_stop=*/true);
      Signal(c, kSigCont, /*for_stop=*/true);
      return;
  }
}

void Tree::KillAsFailed(Node& c, const std::string& why) {
  Cancel(c.ready_timer);
  c.exit_context.killed_as_failed = true;
  c.failure = why;
  c.state = NodeState::kStopping;
  Emit(Severity::kWarning, Report::kKilled, *c.parent, &c,
       WithPid(c.id, c.pid) + " failed (" + why + "): SIGKILL");
  Signal(c, kSigKill, /*for_stop=*/false);
}

// `n` is stopped after a stop (requested, or its supervisor's): forget it,
// start it again, or just let its supervisor go on.
void Tree::CompleteStop(Node& n) {
  n.stop_requested = n.stop_begun = false;
  // Whatever start comes next is a fresh one, not a retry of a failed spawn.
  n.spawn_failed_last = false;
  Node& sup = *n.parent;
  if (n.restart_after_stop) {
    n.restart_after_stop = false;
    if (!Frozen(sup)) {
      StartNode(n);
      MarkDirty(sup);
      return;
    }
  }
  // Temporary specs are dropped when their child dies; a dynamic group
  // forgets children it no longer runs (OTP simple_one_for_one).
  if (n.drop_after_stop || n.restart == RestartType::kTemporary || sup.sup.dynamic) {
    Remove(n);
  }
  MarkDirty(sup);
}

void Tree::FinishStop(Node& sup) {
  sup.state = NodeState::kStopped;
  sup.start_queue.clear();
  sup.waiting_on = nullptr;
  if (sup.sup.dynamic) {
    std::vector<Node*> left = sup.children;
    for (Node* c : left) Remove(*c);
  }
  Notify(NodeEventKind::kStopped, sup);
  const bool gave_up = sup.gave_up;
  sup.gave_up = false;
  if (&sup == root_) {
    exit_code_ = gave_up ? exit_code::kGaveUp : exit_code::kOk;
    Emit(gave_up ? Severity::kError : Severity::kInfo, Report::kProgress, sup, nullptr,
         "tree stopped; exiting with " + std::to_string(*exit_code_));
    out_.push_back(Exit{*exit_code_});
    return;
  }
  if (sup.stop_requested || InStoppingSubtree(sup)) {
    CompleteStop(sup);
    return;
  }
  // A supervisor only stops unasked when it gave up. OTP's supervisor then
  // exits with reason `shutdown`: its parent restarts it when it is
  // permanent (escalation), not when transient or temporary.
  Terminated(sup, ExitClass::kShutdown, "reached_max_restart_intensity", Report::kChildTerminated);
}

void Tree::Remove(Node& n) {
  std::vector<Node*> children = n.children;
  for (Node* c : children) Remove(*c);
  Cancel(n.shutdown_timer);
  Cancel(n.restart_timer);
  Cancel(n.ready_timer);
  if (Node* sup = n.parent) {
    auto& siblings = sup->children;
    siblings.erase(std::remove(siblings.begin(), siblings.end(), &n), siblings.end());
    auto& queue = sup->start_queue;
    queue.erase(std::remove(queue.begin(), queue.end(), &n), queue.end());
    if (sup->waiting_on == &n) sup->waiting_on = nullptr;
  }
  Notify(NodeEventKind::kRemoved, n);
  nodes_.erase(n.id);  // destroys n
}

// Moves a supervisor's plan forward as far as it goes without waiting:
// first stops (one child at a time in reverse start order; a dynamic group
// all at once), then starts (left to right, each waiting for the previous
// one to be up), then reports the plan done.
void Tree::Drive(Node& sup) {
  if (!sup.is_supervisor() || sup.state == NodeState::kStopped) return;
  if (sup.state == NodeState::kStopping) {
    for (Node* x : sup.children) {
      if (x->alive()) x->stop_requested = true;
    }
  }
  while (true) {
    std::vector<Node*> pending;
    for (Node* x : sup.children) {
      if (x->alive() && x->stop_requested) pending.push_back(x);
    }
    if (pending.empty()) break;
    Node* next = nullptr;
    if (sup.sup.dynamic) {
      for (auto it = pending.rbegin(); it != pending.rend(); ++it) {
        if (!(*it)->stop_begun) {
          next = *it;
          break;
        }
      }
    } else if (std::none_of(pending.begin(), pending.end(),
                            [](const Node* x) { return x->stop_begun; })) {
      next = pending.back();
    }
    if (next == nullptr) return;  // waiting for exits
    BeginStop(*next);
  }
  if (sup.state == NodeState::kStopping) {
    if (std::none_of(sup.children.begin(), sup.children.end(),
                     [](const Node* x) { return x->alive(); })) {
      FinishStop(sup);
    }
    return;
  }
  if (Frozen(sup)) return;
  while (true) {
    if (Node* w = sup.waiting_on) {
      if (!w->up() && w->state != NodeState::kStopped) return;
      sup.waiting_on = nullptr;
    }
    if (sup.start_queue.empty()) break;
    Node* x = sup.start_queue.front();
    sup.start_queue.pop_front();
    if (x->state == NodeState::kStopped) StartNode(*x);
    sup.waiting_on = x;  // already started by a one_for_one restart: wait all the same
  }
  if (sup.cascading) {
    sup.cascading = false;
    Notify(NodeEventKind::kCascadeDone, sup);
  }
  if (sup.state == NodeState::kRestarting) {
    sup.state = NodeState::kRunning;
  } else if (sup.state == NodeState::kStarting) {
    sup.state = NodeState::kRunning;
    Notify(NodeEventKind::kStarted, sup);
    Emit(Severity::kInfo, Report::kProgress, sup, nullptr, "started");
    if (sup.parent) MarkDirty(*sup.parent);
  }
}

void Tree::MarkDirty(Node& sup) {
  if (dirty_set_.insert(sup.id).second) dirty_.push_back(sup.id);
}

void Tree::Settle() {
  while (!dirty_.empty() && !finished()) {
    std::string id = std::move(dirty_.front());
    dirty_.pop_front();
    dirty_set_.erase(id);
    if (Node* n = Find(id)) Drive(*n);
  }
  dirty_.clear();
  dirty_set_.clear();
}

// ---------------------------------------------------------------------------
// Effects

void Tree::Signal(Node& c, int signo, bool for_stop) {
  if (reaped_.count(c.id) != 0) return;
  if (for_stop) c.exit_context.AddStopSignal(signo);
  if (signo == kSigKill) c.kill_sent = true;
  out_.push_back(SendSignal{c.id, c.pid, signo});
}

TimerToken Tree::Arm(Node& n, TimerKind kind, TimePoint deadline) {
  const TimerToken token = ++next_token_;
  timers_[token] = TimerInfo{n.id, kind};
  out_.push_back(ArmTimer{token, deadline, n.id, kind});
  return token;
}

void Tree::Cancel(TimerToken& token) {
  if (token == 0) return;
  auto it = timers_.find(token);
  if (it != timers_.end()) {
    out_.push_back(CancelTimer{token, it->second.id, it->second.kind});
    timers_.erase(it);
  }
  token = 0;
}

void Tree::Notify(NodeEventKind kind, const Node& n, const std::string& cause) {
  out_.push_back(NodeEvent{kind, n.id, n.pid, cause});
}

void Tree::Emit(Severity severity, Report report, const Node& sup, const Node* child,
                const std::string& text) {
  out_.push_back(Log{severity, report, sup.id, child ? child->id : "",
                     "supervisor " + Quote(sup.id) + ": " + text});
}

void Tree::Refuse(const std::string& id, const std::string& reason) {
  out_.push_back(RequestRefused{id, reason});
}

// ---------------------------------------------------------------------------
// Status

NodeStatus Tree::StatusOf(const Node& n, int depth, TimePoint now) const {
  NodeStatus s;
  s.id = n.id;
  s.parent = n.parent ? n.parent->id : "";
  s.depth = depth;
  s.kind = n.kind;
  s.state = n.state;
  s.restart = n.restart;
  s.stop_pending = n.alive() && (n.stop_requested || InStoppingSubtree(n));
  s.pid = n.pid;
  s.restart_count = n.restart_count;
  s.started_at = n.started_at;
  if (n.is_supervisor()) {
    s.strategy = n.sup.strategy;
    s.intensity = n.sup.intensity;
    s.period = n.sup.period;
    s.dynamic = n.sup.dynamic;
    s.recent_restarts = n.intensity.Recent(now);
  } else {
    s.needs_ready = n.child.needs_ready;
    s.shutdown = n.child.shutdown;
  }
  return s;
}

void Tree::Collect(const Node& n, int depth, TimePoint now, std::vector<NodeStatus>& out) const {
  out.push_back(StatusOf(n, depth, now));
  for (const Node* c : n.children) Collect(*c, depth + 1, now, out);
}

std::vector<NodeStatus> Tree::Snapshot(TimePoint now) const {
  std::vector<NodeStatus> out;
  Collect(*root_, 0, now, out);
  return out;
}

std::optional<NodeStatus> Tree::Status(const std::string& id, TimePoint now) const {
  const Node* n = Find(id);
  if (n == nullptr) return std::nullopt;
  int depth = 0;
  for (const Node* p = n->parent; p != nullptr; p = p->parent) ++depth;
  return StatusOf(*n, depth, now);
}

// ---------------------------------------------------------------------------
// Names

const char* ToString(NodeKind k) {
  switch (k) {
    case NodeKind::kSupervisor:
      return "supervisor";
    case NodeKind::kChild:
      return "child";
  }
  return "?";
}

const char* ToString(NodeState s) {
  switch (s) {
    case NodeState::kStopped:
      return "stopped";
    case NodeState::kStarting:
      return "starting";
    case NodeState::kWaitingReady:
      return "waiting_ready";
    case NodeState::kRunning:
      return "running";
    case NodeState::kRestarting:
      return "restarting";
    case NodeState::kBackingOff:
      return "backing_off";
    case NodeState::kStopping:
      return "stopping";
  }
  return "?";
}

const char* ToString(TimerKind k) {
  switch (k) {
    case TimerKind::kShutdown:
      return "shutdown";
    case TimerKind::kRestart:
      return "restart";
    case TimerKind::kReady:
      return "ready";
  }
  return "?";
}

const char* ToString(Severity s) {
  switch (s) {
    case Severity::kDebug:
      return "debug";
    case Severity::kInfo:
      return "info";
    case Severity::kWarning:
      return "warning";
    case Severity::kError:
      return "error";
  }
  return "?";
}

const char* ToString(Report r) {
  switch (r) {
    case Report::kProgress:
      return "progress";
    case Report::kChildTerminated:
      return "child_terminated";
    case Report::kStartError:
      return "start_error";
    case Report::kShutdownError:
      return "shutdown_error";
    case Report::kReachedMaxRestartIntensity:
      return "reached_max_restart_intensity";
    case Report::kKilled:
      return "killed";
    case Report::kRequest:
      return "request";
    case Report::kIgnored:
      return "ignored";
  }
  return "?";
}

const char* ToString(NodeEventKind k) {
  switch (k) {
    case NodeEventKind::kSpawned:
      return "spawned";
    case NodeEventKind::kReady:
      return "ready";
    case NodeEventKind::kExited:
      return "exited";
    case NodeEventKind::kStarted:
      return "started";
    case NodeEventKind::kCascadeBegun:
      return "cascade_begun";
    case NodeEventKind::kCascadeDone:
      return "cascade_done";
    case NodeEventKind::kGaveUp:
      return "gave_up";
    case NodeEventKind::kStopped:
      return "stopped";
    case NodeEventKind::kRemoved:
      return "removed";
  }
  return "?";
}

}  // namespace hourglass::supervisor::core
