#pragma once

// The supervision tree's policy, sans-IO: events in (Handle), actions out.
// No system calls, no clock reads (every call carries `now`, a monotonic
// time point), no threads. The supervisor process is a thin shell around it
// that spawns, signals, arms timers and reaps (docs/supervision.md, "Driving
// the core").
//
// Semantics are those of OTP's supervisor (supervisor.erl): restart types,
// exit classification (exit_classifier.h), intensity per supervisor as a
// sliding window with one cascade counting once, escalation by giving up,
// stops in reverse start order honouring each shutdown spec, and a failed
// restart retried from a timer so the loop never blocks. Deliberate
// differences for OS processes are listed in docs/supervision.md.

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "supervisor/core/actions.h"
#include "supervisor/core/child_spec.h"
#include "supervisor/core/events.h"
#include "supervisor/core/restart_intensity.h"

namespace hourglass::supervisor::core {

enum class NodeKind { kSupervisor, kChild };
const char* ToString(NodeKind k);

// A node's state, for both kinds (a supervisor uses kStopped, kStarting,
// kRunning, kRestarting and kStopping).
enum class NodeState {
  kStopped,       // not running: never started, stopped, or ended and not restarted
  kStarting,      // child: Spawn sent, no answer yet; supervisor: starting its children
  kWaitingReady,  // child: spawned, READY not yet reported
  kRunning,       // child: up (READY, or spawned when it needs no READY); supervisor: idle
  kRestarting,    // supervisor: a rest_for_one/one_for_all restart is under way
  kBackingOff,    // child: waiting for its restart timer (restart delay, failed spawn)
  kStopping,      // child: being stopped or killed; supervisor: stopping its children
};
const char* ToString(NodeState s);

// One node as `hourglass ctl status` shows it.
struct NodeStatus {
  std::string id;
  std::string parent;  // "" for the root
  int depth = 0;       // the root is 0
  NodeKind kind = NodeKind::kChild;
  NodeState state = NodeState::kStopped;
  RestartType restart = RestartType::kPermanent;
  // A stop or cascade has claimed this node and will stop it in its turn.
  bool stop_pending = false;
  int pid = 0;                          // a child with a process; 0 otherwise
  int restart_count = 0;                // starts after the first one
  std::optional<TimePoint> started_at;  // child: spawned at; supervisor: start began at

  // Children.
  bool needs_ready = false;
  Shutdown shutdown;

  // Supervisors.
  Strategy strategy = Strategy::kOneForOne;
  int intensity = 0;
  Duration period{0};
  bool dynamic = false;
  std::vector<TimePoint> recent_restarts;  // inside the intensity window, oldest first
};

class Tree {
 public:
  // Null, with `errors` filled, when the spec is invalid (ValidateTree).
  static std::unique_ptr<Tree> Create(SupervisorSpec root, std::vector<std::string>* errors);
  ~Tree();
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  // Applies one event at `now` (monotonic, never earlier than the previous
  // call's) and returns what the shell must do, in order.
  std::vector<Action> Handle(const Event& event, TimePoint now);
  // Applies events that the shell collected in one loop iteration. Exits are
  // handled in tree order (depth first, start order): when a bridge host and
  // the workers that lost it are reaped together, the bridge host's cascade
  // comes first, so the workers' exits are part of it and not failures of
  // their own (fault catalogue #2, #15). Other events keep their order.
  std::vector<Action> HandleBatch(std::vector<Event> events, TimePoint now);

  // Every node, depth first in start order.
  std::vector<NodeStatus> Snapshot(TimePoint now) const;
  std::optional<NodeStatus> Status(const std::string& id, TimePoint now) const;

  // Exit was returned; every later event is ignored.
  bool finished() const { return exit_code_.has_value(); }
  std::optional<int> exit_code() const { return exit_code_; }

 private:
  struct Node;
  struct TimerInfo {
    std::string id;
    TimerKind kind;
  };

  explicit Tree(SupervisorSpec root);
  Node* Build(const NodeSpec& spec, Node* parent);
  Node* Find(const std::string& id) const;

  // Event handlers.
  void OnStartTree();
  void OnSpawned(const ChildSpawned& e);
  void OnSpawnFailed(const SpawnFailed& e);
  void OnReady(const ChildReady& e);
  void OnExited(const ChildExited& e);
  void OnTimer(const TimerFired& e);
  void OnStopTree();
  void OnAddChild(const AddChild& e);
  void OnStopChild(const StopChild& e);
  void OnRestartChild(const RestartChild& e);
  void OnWatchdog(const WatchdogExpired& e);
  void OnAdoptChild(const AdoptChild& e);
  Node* JoinGroup(const std::string& group_id, const ChildSpec& spec);

  // Policy.
  void StartNode(Node& n);
  void SpawnOrDelay(Node& c);
  void EmitSpawn(Node& c);
  void Terminated(Node& c, ExitClass exit_class, const std::string& why, Report report);
  void Cascade(Node& sup, size_t from, Node& cause);
  void GiveUp(Node& sup);
  void BeginStop(Node& n);
  void SendStopSignals(Node& c);
  void KillAsFailed(Node& c, const std::string& why);
  void CompleteStop(Node& n);
  void FinishStop(Node& sup);
  void Remove(Node& n);
  void Drive(Node& sup);
  void MarkDirty(Node& sup);
  void Settle();

  // Effects.
  void Signal(Node& c, int signo, bool for_stop);
  TimerToken Arm(Node& n, TimerKind kind, TimePoint deadline);
  void Cancel(TimerToken& token);
  void Notify(NodeEventKind kind, const Node& n, const std::string& cause = "");
  void Emit(Severity severity, Report report, const Node& sup, const Node* child,
            const std::string& text);
  void Refuse(const std::string& id, const std::string& reason);

  bool InStoppingSubtree(const Node& n) const;
  bool Frozen(const Node& sup) const;
  void Collect(const Node& n, int depth, TimePoint now, std::vector<NodeStatus>& out) const;
  NodeStatus StatusOf(const Node& n, int depth, TimePoint now) const;

  std::map<std::string, std::unique_ptr<Node>> nodes_;
  Node* root_ = nullptr;
  bool started_ = false;
  std::optional<int> exit_code_;
  TimePoint now_{};
  std::vector<Action> out_;
  TimerToken next_token_ = 0;
  std::map<TimerToken, TimerInfo> timers_;
  // Supervisors to re-examine before Handle returns (by id: a node may be
  // removed meanwhile), in the order they were marked.
  std::deque<std::string> dirty_;
  std::set<std::string> dirty_set_;
  // During HandleBatch: children whose exit is in the batch but not handled
  // yet. They are already dead (reaped), so they are not signalled: a pid
  // the shell has reaped may belong to another process by now.
  std::set<std::string> reaped_;
};

}  // namespace hourglass::supervisor::core
