#include "tree_driver.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <utility>

namespace hourglass::supervisor::core::fake_shell {

namespace {

std::string ShortSignal(int signo) {
  if (signo == kSigTerm) return "TERM";
  if (signo == kSigKill) return "KILL";
  if (signo == kSigCont) return "CONT";
  return SignalName(signo);
}

}  // namespace

Driver::Driver(SupervisorSpec spec) {
  std::vector<std::string> errors;
  tree_ = Tree::Create(std::move(spec), &errors);
  if (!tree_) {
    ADD_FAILURE() << "invalid spec: " << (errors.empty() ? "?" : errors.front());
  }
  // Far from the clock's epoch, so "now - period" never underflows.
  t0_ = TimePoint{} + std::chrono::hours(1000);
  now_ = t0_;
}

void Driver::Send(Event event) {
  queue_.push_back(std::move(event));
  Drain();
}

void Driver::SendBatch(std::vector<Event> events) {
  for (const Event& e : events) {
    if (const auto* exited = std::get_if<ChildExited>(&e)) alive_.erase(exited->id);
  }
  Apply(tree_->HandleBatch(std::move(events), now_));
  Drain();
}

void Driver::Drain() {
  while (!queue_.empty()) {
    Event event = std::move(queue_.front());
    queue_.pop_front();
    Apply(tree_->Handle(event, now_));
  }
}

void Driver::Exit(const std::string& id, ExitStatus status) {
  if (alive_.erase(id) == 0) ADD_FAILURE() << "Exit(" << id << "): no such running child";
  Send(ChildExited{id, status});
}

void Driver::Adopt(const std::string& group, ChildSpec spec, int pid) {
  const std::string id = spec.id;
  const bool existed = Exists(id);
  Send(AdoptChild{group, std::move(spec), pid});
  // Refused: the process is not ours to play.
  if (!existed && Exists(id)) alive_[id] = pid;
}

void Driver::CompleteSpawn(const std::string& id) {
  if (held_.erase(id) == 0) ADD_FAILURE() << "CompleteSpawn(" << id << "): no held spawn";
  hold_spawns_.erase(id);
  fail_spawns_.erase(id);
  const int pid = next_pid_++;
  alive_[id] = pid;
  Send(ChildSpawned{id, pid});
}

void Driver::Advance(Duration d) {
  const TimePoint target = now_ + d;
  while (true) {
    auto due = std::min_element(timers_.begin(), timers_.end(), [](const auto& a, const auto& b) {
      return a.second < b.second || (a.second == b.second && a.first < b.first);
    });
    if (due == timers_.end() || due->second > target) break;
    const TimerToken token = due->first;
    now_ = std::max(now_, due->second);
    timers_.erase(due);
    Send(TimerFired{token});
  }
  now_ = target;
}

void Driver::Tick() {
  std::vector<TimerToken> due;
  for (const auto& [token, deadline] : timers_) {
    if (deadline <= now_) due.push_back(token);
  }
  for (TimerToken token : due) {
    if (timers_.erase(token) != 0) Send(TimerFired{token});
  }
}

void Driver::Apply(const std::vector<Action>& actions) {
  for (const Action& action : actions) {
    if (const auto* spawn = std::get_if<Spawn>(&action)) {
      lines_.push_back("spawn " + spawn->id);
      if (hold_spawns_.count(spawn->id)) {
        held_.insert(spawn->id);
        continue;
      }
      auto fail = fail_spawns_.find(spawn->id);
      if (fail != fail_spawns_.end() && fail->second != 0) {
        if (fail->second > 0) --fail->second;
        queue_.push_back(SpawnFailed{spawn->id, "exec: No such file or directory"});
        continue;
      }
      const int pid = next_pid_++;
      alive_[spawn->id] = pid;
      queue_.push_back(ChildSpawned{spawn->id, pid});
      const auto status = tree_->Status(spawn->id, now_);
      if (status && status->needs_ready && !manual_ready_.count(spawn->id)) {
        queue_.push_back(ChildReady{spawn->id});
      }
    } else if (const auto* signal = std::get_if<SendSignal>(&action)) {
      lines_.push_back(ShortSignal(signal->signo) + " " + signal->id);
      auto it = alive_.find(signal->id);
      if (it == alive_.end()) continue;  // already dead: the signal finds nobody
      EXPECT_EQ(signal->pid, it->second) << "signal to the wrong pid of " << signal->id;
      if (signal->signo == kSigKill) {
        if (ignore_kill_.count(signal->id)) continue;
        alive_.erase(it);
        queue_.push_back(ChildExited{signal->id, ExitStatus::Signaled(SIGKILL)});
      } else if (signal->signo == kSigTerm) {
        auto behaviour = on_term_.find(signal->id);
        const OnTerm on_term =
            behaviour == on_term_.end() ? OnTerm::kDieBySignal : behaviour->second;
        if (on_term == OnTerm::kIgnore) continue;
        alive_.erase(it);
        queue_.push_back(ChildExited{signal->id, on_term == OnTerm::kExitZero
                                                     ? ExitStatus::Exited(0)
                                                     : ExitStatus::Signaled(SIGTERM)});
      }
    } else if (const auto* arm = std::get_if<ArmTimer>(&action)) {
      timers_[arm->token] = arm->deadline;
      const auto ms = std::chrono::duration_cast<Duration>(arm->deadline - now_).count();
      lines_.push_back(std::string("arm ") + ToString(arm->kind) + " " + arm->id + " +" +
                       std::to_string(ms) + "ms");
    } else if (const auto* cancel = std::get_if<CancelTimer>(&action)) {
      timers_.erase(cancel->token);
      lines_.push_back(std::string("cancel ") + ToString(cancel->kind) + " " + cancel->id);
    } else if (const auto* log = std::get_if<Log>(&action)) {
      raw_logs_.push_back(*log);
      log_lines_.push_back(std::string(ToString(log->severity)) + " " + ToString(log->report) +
                           " " + (log->child.empty() ? log->supervisor : log->child));
    } else if (const auto* event = std::get_if<NodeEvent>(&action)) {
      std::string line = std::string(ToString(event->kind)) + " " + event->id;
      if (event->kind == NodeEventKind::kCascadeBegun) line += " <- " + event->cause;
      event_lines_.push_back(line);
    } else if (const auto* refused = std::get_if<RequestRefused>(&action)) {
      lines_.push_back("refused " + refused->id + ": " + refused->reason);
    } else if (const auto* exit = std::get_if<core::Exit>(&action)) {
      EXPECT_FALSE(exit_code_.has_value()) << "a second Exit";
      exit_code_ = exit->code;
      lines_.push_back("exit " + std::to_string(exit->code));
    }
  }
}

Lines Driver::Take() { return std::exchange(lines_, {}); }
Lines Driver::TakeLogs() { return std::exchange(log_lines_, {}); }
Lines Driver::TakeEvents() { return std::exchange(event_lines_, {}); }

int Driver::pid(const std::string& id) const {
  auto it = alive_.find(id);
  return it == alive_.end() ? 0 : it->second;
}

NodeStatus Driver::Status(const std::string& id) const {
  auto status = tree_->Status(id, now_);
  if (!status) {
    ADD_FAILURE() << "no node " << id;
    return {};
  }
  return *status;
}

ChildSpec Child(const std::string& id, RestartType restart, Shutdown shutdown) {
  return ChildSpec{.id = id, .restart = restart, .shutdown = shutdown};
}

ChildSpec ReadyChild(const std::string& id, RestartType restart) {
  return ChildSpec{.id = id, .restart = restart, .needs_ready = true};
}

SupervisorSpec Sup(const std::string& id, Strategy strategy, std::vector<NodeSpec> children,
                   int intensity, Duration period) {
  return SupervisorSpec{.id = id,
                        .strategy = strategy,
                        .intensity = intensity,
                        .period = period,
                        .children = std::move(children)};
}

}  // namespace hourglass::supervisor::core::fake_shell
