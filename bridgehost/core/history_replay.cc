#include "bridgehost/core/history_replay.h"

#include "bridgehost/core/history_chunker.h"

namespace hourglass::bridgehost::core {

namespace enums = ::temporal::api::enums::v1;

HistoryReplay::HistoryReplay(std::string workflow_id, hist::History history)
    : workflow_id_(std::move(workflow_id)) {
  // Contiguous events, so each task can be handed out as a span.
  events_.assign(std::make_move_iterator(history.mutable_events()->begin()),
                 std::make_move_iterator(history.mutable_events()->end()));
  const auto& events = events_;
  if (events.empty() || events[0].event_type() != enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED) {
    verdict_ = ReplayVerdict{false, "fatal", "a history must begin with WorkflowExecutionStarted"};
    return;
  }
  const auto& started = events[0].workflow_execution_started_event_attributes();
  run_id_ = started.original_execution_run_id();
  machines_ = std::make_unique<WorkflowMachines>("default", workflow_id_, run_id_, started.task_queue().name());
  std::span<const hist::HistoryEvent> all(events.data(), events.size());
  for (const auto& seq : SplitIntoWorkflowTasks(all, 0, /*history_complete=*/true)) {
    sequences_.emplace_back(seq.begin, seq.end);
  }
  // A history ending in WorkflowTaskStarted has one task that never
  // completed: it runs as new work. Everything else replays.
  replay_until_ = sequences_.size();
  if (events.back().event_type() == enums::EVENT_TYPE_WORKFLOW_TASK_STARTED && !sequences_.empty()) {
    replay_until_ = sequences_.size() - 1;
  }
  Advance();
}

void HistoryReplay::Fail(const MachinesError& error) {
  switch (error.kind) {
    case MachinesError::Kind::kNondeterminism:
      Evict(act::RemoveFromCache::NONDETERMINISM, error.message);
      pending_verdict_ = ReplayVerdict{false, "nondeterminism", error.message};
      return;
    case MachinesError::Kind::kUnsupported:
      Evict(act::RemoveFromCache::FATAL, error.message);
      pending_verdict_ = ReplayVerdict{false, "unsupported", error.message};
      return;
    case MachinesError::Kind::kFatal:
      Evict(act::RemoveFromCache::FATAL, error.message);
      pending_verdict_ = ReplayVerdict{false, "fatal", error.message};
      return;
  }
}

void HistoryReplay::Evict(act::RemoveFromCache::EvictionReason reason, const std::string& message) {
  act::WorkflowActivation a;
  a.set_run_id(run_id_);
  auto* r = a.add_jobs()->mutable_remove_from_cache();
  r->set_reason(reason);
  r->set_message(message);
  pending_ = std::move(a);
  evicting_ = true;
}

void HistoryReplay::Advance() {
  const auto& events = events_;
  while (next_sequence_ < sequences_.size()) {
    const auto [begin, end] = sequences_[next_sequence_];
    std::span<const hist::HistoryEvent> seq(events.data() + begin, end - begin);
    std::span<const hist::HistoryEvent> lookahead;
    if (next_sequence_ + 1 < sequences_.size()) {
      const auto [nb, ne] = sequences_[next_sequence_ + 1];
      lookahead = std::span<const hist::HistoryEvent>(events.data() + nb, ne - nb);
    }
    const bool replaying = next_sequence_ < replay_until_;
    ++next_sequence_;
    if (auto err = machines_->ApplySequence(seq, replaying, lookahead)) {
      Fail(*err);
      return;
    }
    if (machines_->HasPendingJobs()) {
      pending_ = machines_->TakeActivation();
      return;
    }
  }
  // Caught up: the run leaves the cache, which is success (LANG_REQUESTED).
  Evict(act::RemoveFromCache::LANG_REQUESTED, "replay finished");
  pending_verdict_ = ReplayVerdict{true, "", ""};
}

void HistoryReplay::Complete(const coresdk::workflow_completion::WorkflowActivationCompletion& completion) {
  if (!pending_) return;
  pending_.reset();
  if (evicting_) {
    verdict_ = pending_verdict_;
    return;
  }
  if (completion.has_failed()) {
    Evict(act::RemoveFromCache::LANG_FAIL, completion.failed().failure().message());
    pending_verdict_ = ReplayVerdict{false, "workflow_task_failed", completion.failed().failure().message()};
    return;
  }
  if (auto err = machines_->ApplyCompletion(completion.successful())) {
    Fail(*err);
    return;
  }
  // Immediate resolutions (a TRY_CANCEL, say) are owed before the next task.
  if (machines_->HasPendingJobs()) {
    pending_ = machines_->TakeActivation();
    return;
  }
  Advance();
}

}  // namespace hourglass::bridgehost::core
