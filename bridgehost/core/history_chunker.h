#pragma once

// Splitting a history into logical workflow tasks (reference §3.1) and the
// event classification that both the splitter and the state machines need
// (reference §3.3). Pure functions over events; no I/O.

#include <cstddef>
#include <span>
#include <vector>

#include "temporal/api/history/v1/message.pb.h"

namespace hourglass::bridgehost::core {

namespace hist = ::temporal::api::history::v1;

struct WftSequence {
  size_t begin = 0;   // index into events of the first event of the sequence
  size_t end = 0;     // one past the last event (the closing WorkflowTaskStarted, or a closing
                      // event, or history end)
  bool last = false;  // true when this is the last sequence available (nothing complete follows)
};

// Splits events[from..] into logical workflow-task sequences (sdk-core's
// chunking, reference §3.1). `history_complete` says the caller holds the whole
// history (replay, or a fetched full history), so a trailing partial sequence
// is returned as the final one; otherwise a trailing partial sequence is held
// back (not returned). The sequences are contiguous: the first begins at
// `from`, each next one begins where the previous ended.
//
// Update sequencing IS implemented: when a WorkflowTaskStarted is followed by
// WorkflowTaskCompleted and WorkflowExecutionUpdateAccepted, the sequence ends
// instead at the latest earlier WorkflowTaskStarted of the same scan that
// completed (a heartbeat we passed over) and whose id is below the accepted
// event's accepted_request_sequencing_event_id, so the update lands in the
// activation in which it was originally delivered.
std::vector<WftSequence> SplitIntoWorkflowTasks(std::span<const hist::HistoryEvent> events,
                                                size_t from, bool history_complete);

// True for events that record a command lang issued; they are matched FIFO
// against lang's commands (reference §3.3 item 2).
bool IsCommandEvent(const hist::HistoryEvent& e);

// True for the events after which a run has no more history:
// WorkflowExecution{Completed,Failed,TimedOut,Canceled,Terminated,ContinuedAsNew}.
bool IsWorkflowClosingEvent(const hist::HistoryEvent& e);

}  // namespace hourglass::bridgehost::core
