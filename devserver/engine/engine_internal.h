#pragma once

// Types shared by the engine's translation units; not part of its interface.

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "devserver/engine/engine.h"
#include "devserver/engine/errors.h"
#include "devserver/engine/time_util.h"

namespace hourglass::devserver {

using temporal::api::failure::v1::Failure;

// One unit of work: what changed, and what to do once it is committed.
struct Engine::Txn {
  std::vector<Run*> runs;
  std::vector<std::pair<Run*, int64_t>> events;  // (run, event id)
  std::vector<std::tuple<std::string, std::string, std::string>> current_runs;
  std::vector<const v1::NamespaceRecord*> namespaces;
  std::vector<std::function<void()>> after_commit;
  std::vector<Run*> closed;  // their in-memory history is dropped after commit

  void Touch(Run* run) {
    if (std::find(runs.begin(), runs.end(), run) == runs.end()) runs.push_back(run);
  }
};

struct Engine::Waiter {
  uint64_t id = 0;
  QueueKey key;
  std::string identity;
  Done<wsv::PollWorkflowTaskQueueResponse> workflow_done;
  Done<wsv::PollActivityTaskQueueResponse> activity_done;
  PollerGone gone;
};

struct Engine::HistoryWaiter {
  uint64_t id = 0;
  std::string run_id;
  wsv::GetWorkflowExecutionHistoryRequest request;
  int64_t next_event_id = 1;
  bool close_only = false;
  Done<wsv::GetWorkflowExecutionHistoryResponse> done;
};

struct Engine::PendingQuery {
  std::string id;
  std::string run_id;
  temporal::api::query::v1::WorkflowQuery query;
  Done<wsv::QueryWorkflowResponse> done;
  // Sent in a workflow task's `queries`, or as a direct query task.
  bool dispatched = false;
};

struct Engine::StartParams {
  std::string ns;
  std::string workflow_id;
  std::string request_id;
  std::string identity;
  common::WorkflowType type;
  temporal::api::taskqueue::v1::TaskQueue task_queue;
  const common::Payloads* input = nullptr;
  int64_t execution_timeout_ms = 0;
  int64_t run_timeout_ms = 0;
  int64_t task_timeout_ms = 0;
  enums::WorkflowIdReusePolicy reuse = enums::WORKFLOW_ID_REUSE_POLICY_ALLOW_DUPLICATE;
  enums::WorkflowIdConflictPolicy conflict = enums::WORKFLOW_ID_CONFLICT_POLICY_FAIL;
  const common::RetryPolicy* retry_policy = nullptr;
  const common::Memo* memo = nullptr;
  const common::SearchAttributes* search_attributes = nullptr;
  const common::Header* header = nullptr;
  int64_t start_delay_ms = 0;
  // Follow-on runs (continue-as-new, retry).
  std::string continued_execution_run_id;
  std::string first_execution_run_id;
  enums::ContinueAsNewInitiator initiator = enums::CONTINUE_AS_NEW_INITIATOR_UNSPECIFIED;
  int32_t attempt = 1;
  const Failure* continued_failure = nullptr;
  const common::Payloads* last_completion_result = nullptr;
  int64_t execution_expiration_ms = 0;  // inherited across a chain
  const v1::ParentInfo* parent = nullptr;
  const common::WorkflowExecution* root = nullptr;
  // Signal-with-start: the signal lands right after WES.
  bool with_signal = false;
  std::string signal_name;
  const common::Payloads* signal_input = nullptr;
  const common::Header* signal_header = nullptr;
  std::string signal_request_id;
};

// Whether an event type closes a run.
bool IsCloseEvent(enums::EventType type);
// Activity and child completion events: flushed after the others.
bool IsCompletionEvent(enums::EventType type);
std::string StatusName(enums::WorkflowExecutionStatus status);
// Validation helpers: an error message naming the field, or "".
std::string CheckNonNegative(const google::protobuf::Duration& d, const std::string& field);
std::string CheckPayloads(const common::Payloads& payloads, const std::string& field);

inline constexpr size_t kMaxIdLength = 1000;
inline constexpr size_t kMaxPayloadBytes = 2u << 20;  // Temporal's blob size limit

}  // namespace hourglass::devserver
