#pragma once

// A fake shell for the supervision core: it answers Spawn with
// ChildSpawned (or SpawnFailed when told to), READY for children that need
// it, dies on SIGTERM/SIGKILL as told, keeps the timers the core arms and
// fires them when the fake clock passes their deadline. Every action is
// recorded as a short line so tests can assert exact sequences:
//   "spawn a", "TERM a", "CONT a", "KILL a", "arm shutdown a +5000ms",
//   "cancel shutdown a", "exit 9", "refused a: <reason>"
// Logs and node events are recorded apart ("error child_terminated a",
// "cascade_begun sub <- a").

#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "supervisor/core/tree.h"

namespace hourglass::supervisor::core::fake_shell {

using namespace std::chrono_literals;
using Lines = std::vector<std::string>;

// What a running child does with SIGTERM.
enum class OnTerm { kDieBySignal, kExitZero, kIgnore };

class Driver {
 public:
  explicit Driver(SupervisorSpec spec);

  Tree& tree() { return *tree_; }
  TimePoint now() const { return now_; }
  // The time the driver started at: tests measure from here.
  TimePoint t0() const { return t0_; }

  // --- Inputs (each one runs until nothing more happens on its own) ---
  void Start() { Send(StartTree{}); }
  void Stop() { Send(StopTree{}); }
  void Send(Event event);
  void SendBatch(std::vector<Event> events);
  // The child ends on its own.
  void Exit(const std::string& id, ExitStatus status);
  void Crash(const std::string& id) { Exit(id, ExitStatus::Signaled(SIGSEGV)); }
  void Ready(const std::string& id) { Send(ChildReady{id}); }
  // A process someone else spawned (a worker's executor) is adopted into
  // `group` with `pid`; it then behaves like the driver's own children.
  void Adopt(const std::string& group, ChildSpec spec, int pid);
  // Moves the clock, firing due timers in deadline order (also timers armed
  // meanwhile, when they fall due before the target).
  void Advance(Duration d);
  // One loop iteration without moving the clock: fires the timers already
  // due, not those they arm.
  void Tick();

  // --- Child behaviour ---
  void SetOnTerm(const std::string& id, OnTerm on_term) { on_term_[id] = on_term; }
  // SIGKILL does not end `id` at once (stuck in the kernel): the test ends
  // it with Exit().
  void IgnoreKill(const std::string& id) { ignore_kill_.insert(id); }
  // The next `times` spawns of `id` fail (-1: all of them).
  void FailSpawns(const std::string& id, int times) { fail_spawns_[id] = times; }
  // READY is not sent automatically for `id`; the test calls Ready().
  void ManualReady(const std::string& id) { manual_ready_.insert(id); }
  // Spawns of `id` stay unanswered until CompleteSpawn().
  void HoldSpawns(const std::string& id) { hold_spawns_.insert(id); }
  void CompleteSpawn(const std::string& id);

  // --- Records ---
  Lines Take();        // actions for processes, timers, refusals, exit
  Lines TakeLogs();    // "<severity> <report> <child or supervisor>"
  Lines TakeEvents();  // "<kind> <id>" (+ " <- <cause>" for cascades)
  const std::vector<Log>& logs() const { return raw_logs_; }
  std::optional<int> exit_code() const { return exit_code_; }
  int pid(const std::string& id) const;
  bool running(const std::string& id) const { return alive_.count(id) != 0; }
  size_t armed_timers() const { return timers_.size(); }
  NodeStatus Status(const std::string& id) const;
  std::string State(const std::string& id) const { return ToString(Status(id).state); }
  bool Exists(const std::string& id) const { return tree_->Status(id, now_).has_value(); }

 private:
  void Apply(const std::vector<Action>& actions);
  void Drain();

  std::unique_ptr<Tree> tree_;
  TimePoint t0_;
  TimePoint now_;
  std::deque<Event> queue_;
  int next_pid_ = 100;
  std::map<std::string, int> alive_;  // id -> pid of a live process
  std::map<TimerToken, TimePoint> timers_;
  std::map<std::string, OnTerm> on_term_;
  std::map<std::string, int> fail_spawns_;
  std::set<std::string> manual_ready_;
  std::set<std::string> ignore_kill_;
  std::set<std::string> hold_spawns_;
  std::set<std::string> held_;
  std::optional<int> exit_code_;
  Lines lines_, log_lines_, event_lines_;
  std::vector<Log> raw_logs_;
};

// Spec shorthands.
ChildSpec Child(const std::string& id, RestartType restart = RestartType::kPermanent,
                Shutdown shutdown = Shutdown::Timeout(5000ms));
ChildSpec ReadyChild(const std::string& id, RestartType restart = RestartType::kPermanent);
SupervisorSpec Sup(const std::string& id, Strategy strategy, std::vector<NodeSpec> children,
                   int intensity = 3, Duration period = 5000ms);

}  // namespace hourglass::supervisor::core::fake_shell
