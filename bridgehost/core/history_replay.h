#pragma once

// Replays one recorded history through WorkflowMachines, one logical workflow
// task at a time, handing each activation to the language side and feeding its
// completion back (reference §7). Used by the replayer and by tests; sans-IO.
//
//   HistoryReplay replay("wf-id", history);
//   while (auto* activation = replay.activation()) {
//     replay.Complete(code(*activation));
//   }
//   replay.verdict();

#include <optional>
#include <string>

#include "bridgehost/core/workflow_machines.h"

namespace hourglass::bridgehost::core {

struct ReplayVerdict {
  bool ok = false;
  // "nondeterminism", "workflow_task_failed", "unsupported", "fatal" when not ok.
  std::string failure_cause;
  std::string message;
};

class HistoryReplay {
 public:
  HistoryReplay(std::string workflow_id, hist::History history);

  // The activation waiting for an answer, or nullptr once the replay is over.
  const act::WorkflowActivation* activation() const {
    return pending_ ? &*pending_ : nullptr;
  }
  // The language side's answer to activation().
  void Complete(const coresdk::workflow_completion::WorkflowActivationCompletion& completion);
  // Set once activation() is nullptr.
  const std::optional<ReplayVerdict>& verdict() const { return verdict_; }
  const std::string& run_id() const { return run_id_; }

 private:
  void Advance();
  void Evict(act::RemoveFromCache::EvictionReason reason, const std::string& message);
  void Fail(const MachinesError& error);

  std::string workflow_id_;
  std::string run_id_;
  std::vector<hist::HistoryEvent> events_;
  std::unique_ptr<WorkflowMachines> machines_;
  std::vector<std::pair<size_t, size_t>> sequences_;  // [begin, end) into history_
  size_t next_sequence_ = 0;
  size_t replay_until_ = 0;  // sequences before this index are replays
  std::optional<act::WorkflowActivation> pending_;
  bool evicting_ = false;
  std::optional<ReplayVerdict> pending_verdict_;
  std::optional<ReplayVerdict> verdict_;
};

}  // namespace hourglass::bridgehost::core
