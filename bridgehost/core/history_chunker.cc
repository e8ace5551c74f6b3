#include "bridgehost/core/history_chunker.h"

#include <cstdint>
#include <optional>

#include "temporal/api/enums/v1/event_type.pb.h"

namespace hourglass::bridgehost::core {
namespace {

namespace enums = ::temporal::api::enums::v1;

// What the events after a WorkflowTaskStarted say about it.
enum class StartedVerdict {
  kCloses,     // the sequence ends at this started event
  kSkip,       // an attempt that folds into the next one, or a heartbeat: keep scanning
  kUndecided,  // a partial history ends too soon to tell: hold the rest back
};

bool Is(const hist::HistoryEvent& e, enums::EventType t) { return e.event_type() == t; }

// A started event followed by one of these never had its task completed, so
// the events the attempt saw are delivered again with the next attempt (or the
// run ended under it). The list is the reference's, verbatim; Canceled is in it
// although it normally follows a WorkflowTaskCompleted, because that is what
// sdk-core checks.
bool EndsAttemptAbruptly(const hist::HistoryEvent& e) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_TASK_FAILED:
    case enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
      return true;
    default:
      return false;
  }
}

// Scans one sequence starting at `begin`. Returns the index one past its end,
// or nullopt when the events run out before a sequence boundary is known.
std::optional<size_t> FindSequenceEnd(std::span<const hist::HistoryEvent> events, size_t begin,
                                      bool history_complete) {
  const size_t n = events.size();
  // Commands make a following Completed+Scheduled a real task rather than a
  // heartbeat; WorkflowExecutionStarted does not (a run whose first task only
  // starts a local activity heartbeats from its very first task).
  bool saw_command = false;
  bool saw_command_or_started = false;
  // Indices of started events passed over as heartbeats, i.e. attempts that
  // completed; only they can end a sequence for update sequencing.
  std::vector<size_t> completed_started;

  for (size_t i = begin; i < n; ++i) {
    const hist::HistoryEvent& e = events[i];
    if (IsCommandEvent(e)) {
      saw_command = true;
      saw_command_or_started = true;
    }
    if (Is(e, enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED)) saw_command_or_started = true;
    if (IsWorkflowClosingEvent(e)) return i + 1;
    if (!Is(e, enums::EVENT_TYPE_WORKFLOW_TASK_STARTED)) continue;

    const hist::HistoryEvent* next = i + 1 < n ? &events[i + 1] : nullptr;
    const hist::HistoryEvent* next_next = i + 2 < n ? &events[i + 2] : nullptr;
    StartedVerdict verdict = StartedVerdict::kSkip;
    if (next == nullptr) {
      // With a partial history the next page may begin with a failure that
      // folds this attempt away. With the whole history this is its end,
      // which closes the final sequence either way.
      verdict = history_complete ? StartedVerdict::kCloses : StartedVerdict::kUndecided;
    } else if (EndsAttemptAbruptly(*next)) {
      verdict = StartedVerdict::kSkip;
    } else if (Is(*next, enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED)) {
      if (next_next == nullptr) {
        // Only a Scheduled next could make this a heartbeat, and only while
        // no command was seen. Once one was, the answer is "closes" whatever
        // comes next.
        if (saw_command) {
          verdict = StartedVerdict::kCloses;
        } else if (!history_complete) {
          verdict = StartedVerdict::kUndecided;
        } else {
          verdict = saw_command_or_started ? StartedVerdict::kCloses : StartedVerdict::kSkip;
        }
      } else if (Is(*next_next, enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) && !saw_command) {
        // A WFT heartbeat: the task completed empty and the server scheduled
        // another at once (a local activity still running, or a server-forced
        // task). Lang has nothing new to see, so it is not woken.
        completed_started.push_back(i);
        verdict = StartedVerdict::kSkip;
      } else if (Is(*next_next, enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED)) {
        // The update was delivered in the task scheduled after event
        // `sequencing`: end at the last completed attempt before it, so the
        // update shows up in the activation that originally carried it. If
        // this scan passed over no such attempt, this started event is it.
        const int64_t sequencing = next_next->workflow_execution_update_accepted_event_attributes()
                                       .accepted_request_sequencing_event_id();
        for (auto it = completed_started.rbegin(); it != completed_started.rend(); ++it) {
          if (events[*it].event_id() < sequencing) return *it + 1;
        }
        verdict = StartedVerdict::kCloses;
      } else {
        // Completed and then something new (a command event, an
        // activity/timer/signal event...): a task lang worked on.
        verdict = StartedVerdict::kCloses;
      }
    } else {
      // A started event followed by neither a completion nor an abrupt end
      // does not occur in well-formed histories; close only if the sequence
      // already holds something lang must see, as the reference prescribes.
      verdict = saw_command_or_started ? StartedVerdict::kCloses : StartedVerdict::kSkip;
    }

    switch (verdict) {
      case StartedVerdict::kCloses:
        return i + 1;
      case StartedVerdict::kUndecided:
        return std::nullopt;
      case StartedVerdict::kSkip:
        break;
    }
  }
  // Out of events with no boundary found: the whole remainder is the final
  // sequence only when nothing more can arrive.
  if (history_complete && begin < n) return n;
  return std::nullopt;
}

}  // namespace

std::vector<WftSequence> SplitIntoWorkflowTasks(std::span<const hist::HistoryEvent> events,
                                                size_t from, bool history_complete) {
  std::vector<WftSequence> out;
  size_t begin = from;
  while (begin < events.size()) {
    const std::optional<size_t> end = FindSequenceEnd(events, begin, history_complete);
    if (!end) break;
    out.push_back(WftSequence{begin, *end, false});
    begin = *end;
  }
  if (!out.empty()) out.back().last = true;
  return out;
}

bool IsCommandEvent(const hist::HistoryEvent& e) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
    case enums::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED:
    case enums::EVENT_TYPE_MARKER_RECORDED:
    case enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
    case enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED:
    case enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
    case enums::EVENT_TYPE_TIMER_STARTED:
    case enums::EVENT_TYPE_TIMER_CANCELED:
    case enums::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
    case enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED:
    case enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED:
    case enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
      return true;
    default:
      return false;
  }
}

bool IsWorkflowClosingEvent(const hist::HistoryEvent& e) {
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
      return true;
    default:
      return false;
  }
}

}  // namespace hourglass::bridgehost::core
