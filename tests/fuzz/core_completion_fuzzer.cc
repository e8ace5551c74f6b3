// libFuzzer target: what a worker process sends the bridge host's Core as a
// workflow activation completion, against a run in the middle of its
// history. The bytes are parsed as a completion and applied; the run's next
// task is then applied too. Any crash, leak or sanitizer report is a bug;
// typed errors (nondeterminism, unsupported, fatal) are the expected outcome.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "bridgehost/core/workflow_machines.h"

namespace {

namespace core = hourglass::bridgehost::core;
namespace enums = temporal::api::enums::v1;
namespace hist = temporal::api::history::v1;

hist::HistoryEvent Event(int64_t id, enums::EventType type) {
  hist::HistoryEvent e;
  e.set_event_id(id);
  e.set_event_type(type);
  e.mutable_event_time()->set_seconds(1700000000 + id);
  return e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  coresdk::workflow_completion::WorkflowActivationCompletion completion;
  if (!completion.ParseFromArray(data, static_cast<int>(size))) return 0;
  core::WorkflowMachines machines("default", "wf", "run-1", "q");
  std::vector<hist::HistoryEvent> first;
  first.push_back(Event(1, enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED));
  first[0].mutable_workflow_execution_started_event_attributes()->set_original_execution_run_id("run-1");
  first.push_back(Event(2, enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED));
  first.push_back(Event(3, enums::EVENT_TYPE_WORKFLOW_TASK_STARTED));
  if (machines.ApplySequence(first, false, {})) return 0;
  machines.TakeActivation();
  if (machines.ApplyCompletion(completion.successful())) return 0;
  (void)machines.CommandsToSend();
  (void)machines.TakeQueryResults();
  // The server records a timer and fires it; whatever the completion said,
  // applying this must end in jobs or a typed error, never worse.
  std::vector<hist::HistoryEvent> next;
  next.push_back(Event(4, enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED));
  next.push_back(Event(5, enums::EVENT_TYPE_TIMER_STARTED));
  next[1].mutable_timer_started_event_attributes()->set_timer_id("1");
  next.push_back(Event(6, enums::EVENT_TYPE_TIMER_FIRED));
  next[2].mutable_timer_fired_event_attributes()->set_timer_id("1");
  next[2].mutable_timer_fired_event_attributes()->set_started_event_id(5);
  next.push_back(Event(7, enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED));
  next.push_back(Event(8, enums::EVENT_TYPE_WORKFLOW_TASK_STARTED));
  if (!machines.ApplySequence(next, false, {})) (void)machines.TakeActivation();
  return 0;
}
