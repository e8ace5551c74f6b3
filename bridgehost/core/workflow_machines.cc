#include "bridgehost/core/workflow_machines.h"

#include <algorithm>

#include "bridgehost/core/randomness_seed.h"
#include "temporal/sdk/core/activity_result/activity_result.pb.h"
#include "temporal/sdk/core/child_workflow/child_workflow.pb.h"

namespace hourglass::bridgehost::core {

namespace enums = ::temporal::api::enums::v1;
namespace common = ::temporal::api::common::v1;
using temporal::api::failure::v1::Failure;

namespace {

constexpr const char* kPatchMarkerName = "core_patch";
constexpr const char* kLocalActivityMarkerName = "core_local_activity";
constexpr const char* kPatchDetailsKey = "patch-data";
constexpr const char* kChangeVersionSearchAttribute = "TemporalChangeVersion";

int64_t TimestampMs(const google::protobuf::Timestamp& t) { return t.seconds() * 1000 + t.nanos() / 1000000; }

google::protobuf::Timestamp MsToTimestamp(int64_t ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
  return t;
}

common::Payloads ToPayloads(const google::protobuf::RepeatedPtrField<common::Payload>& list) {
  common::Payloads out;
  for (const auto& p : list) *out.add_payloads() = p;
  return out;
}

common::Header ToHeader(const google::protobuf::Map<std::string, common::Payload>& fields) {
  common::Header h;
  for (const auto& [k, v] : fields) (*h.mutable_fields())[k] = v;
  return h;
}

// Finds `"key": value` in a tiny JSON object written by an SDK; enough for the
// patch marker's {"id": "...", "deprecated": bool}.
std::string JsonStringField(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\"";
  auto pos = json.find(needle);
  if (pos == std::string::npos) return "";
  pos = json.find(':', pos + needle.size());
  if (pos == std::string::npos) return "";
  pos = json.find('"', pos);
  if (pos == std::string::npos) return "";
  const auto end = json.find('"', pos + 1);
  return end == std::string::npos ? "" : json.substr(pos + 1, end - pos - 1);
}

bool JsonBoolField(const std::string& json, const std::string& key) {
  const std::string needle = "\"" + key + "\"";
  auto pos = json.find(needle);
  if (pos == std::string::npos) return false;
  pos = json.find(':', pos + needle.size());
  return pos != std::string::npos && json.compare(json.find_first_not_of(" \t", pos + 1), 4, "true") == 0;
}

// A patch marker's id and deprecation, from the current or the old encoding.
bool ParsePatchMarker(const hist::MarkerRecordedEventAttributes& m, std::string* id, bool* deprecated) {
  const auto& details = m.details();
  if (auto it = details.find(kPatchDetailsKey); it != details.end() && it->second.payloads_size() > 0) {
    const std::string& json = it->second.payloads(0).data();
    *id = JsonStringField(json, "id");
    *deprecated = JsonBoolField(json, "deprecated");
    return !id->empty();
  }
  // The old format: "patch_id" and "deprecated" as separate payloads.
  if (auto it = details.find("patch_id"); it != details.end() && it->second.payloads_size() > 0) {
    *id = it->second.payloads(0).data();
    if (id->size() >= 2 && id->front() == '"') *id = id->substr(1, id->size() - 2);
    auto dep = details.find("deprecated");
    *deprecated = dep != details.end() && dep->second.payloads_size() > 0 &&
                  dep->second.payloads(0).data() == "true";
    return !id->empty();
  }
  return false;
}

int JobRank(const act::WorkflowActivationJob& job) {
  switch (job.variant_case()) {
    case act::WorkflowActivationJob::kInitializeWorkflow:
      return 0;
    case act::WorkflowActivationJob::kNotifyHasPatch:
      return 1;
    case act::WorkflowActivationJob::kUpdateRandomSeed:
      return 2;
    case act::WorkflowActivationJob::kSignalWorkflow:
    case act::WorkflowActivationJob::kDoUpdate:
      return 3;
    case act::WorkflowActivationJob::kResolveActivity:
      return job.resolve_activity().is_local() ? 5 : 4;
    case act::WorkflowActivationJob::kQueryWorkflow:
      return 6;
    case act::WorkflowActivationJob::kRemoveFromCache:
      return 7;
    default:
      return 4;
  }
}

bool IsTerminal(const wfc::WorkflowCommand& c) {
  return c.has_complete_workflow_execution() || c.has_fail_workflow_execution() ||
         c.has_cancel_workflow_execution() || c.has_continue_as_new_workflow_execution();
}

}  // namespace

struct WorkflowMachines::Machine {
  Kind kind;
  uint32_t seq = 0;
  api_cmd::Command command;
  bool sent_or_recorded = false;  // matched to its command event
  bool resolved = false;
  bool cancelled_before_sent = false;
  int64_t command_event_id = 0;
  int64_t started_event_id = 0;
  // Activity / child bookkeeping.
  std::string id;    // activity id, child workflow id, timer id, patch id
  std::string type;  // activity type, child workflow type
  std::string run_id;  // a started child's run
  int cancellation_type = 0;
  bool cancel_requested = false;
  Machine* target = nullptr;  // cancel machines: what they cancel
};

WorkflowMachines::WorkflowMachines(std::string ns, std::string workflow_id, std::string run_id,
                                   std::string task_queue)
    : namespace_(std::move(ns)),
      workflow_id_(std::move(workflow_id)),
      run_id_(std::move(run_id)),
      task_queue_(std::move(task_queue)) {}

WorkflowMachines::~WorkflowMachines() = default;

std::optional<MachinesError> WorkflowMachines::Nondeterminism(const std::string& what) {
  return MachinesError{MachinesError::Kind::kNondeterminism, "[TMPRL1100] Nondeterminism error: " + what};
}

void WorkflowMachines::Push(act::WorkflowActivationJob job) { jobs_.push_back(std::move(job)); }

WorkflowMachines::Machine* WorkflowMachines::FindBySeq(Kind kind, uint32_t seq) {
  for (auto& m : machines_) {
    if (m->kind == kind && m->seq == seq) return m.get();
  }
  return nullptr;
}

WorkflowMachines::Machine* WorkflowMachines::FindByEvent(int64_t event_id) {
  auto it = by_event_.find(event_id);
  return it == by_event_.end() ? nullptr : it->second;
}

WorkflowMachines::Machine& WorkflowMachines::NewMachine(Kind kind, uint32_t seq, api_cmd::Command command) {
  auto m = std::make_unique<Machine>();
  m->kind = kind;
  m->seq = seq;
  m->command = std::move(command);
  Machine& ref = *m;
  machines_.push_back(std::move(m));
  pending_.push_back(&ref);
  return ref;
}

void WorkflowMachines::DropPending(Machine* m) {
  pending_.erase(std::remove(pending_.begin(), pending_.end(), m), pending_.end());
  m->cancelled_before_sent = true;
}

// --- history ------------------------------------------------------------------

std::optional<MachinesError> WorkflowMachines::ApplySequence(std::span<const hist::HistoryEvent> events,
                                                            bool replaying,
                                                            std::span<const hist::HistoryEvent> lookahead) {
  replaying_ = replaying;
  for (const auto& e : events) {
    if (e.event_id() != last_event_id_ + 1) {
      return MachinesError{MachinesError::Kind::kFatal,
                           "history event id " + std::to_string(e.event_id()) + " follows " +
                               std::to_string(last_event_id_) + ": ids must be consecutive"};
    }
    if (auto err = HandleEvent(e)) return err;
    last_event_id_ = e.event_id();
  }
  // Patches recorded in the next task are announced in this activation.
  for (const auto& e : lookahead) {
    if (e.event_type() != enums::EVENT_TYPE_MARKER_RECORDED) continue;
    const auto& m = e.marker_recorded_event_attributes();
    if (m.marker_name() != kPatchMarkerName) continue;
    std::string id;
    bool deprecated = false;
    if (ParsePatchMarker(m, &id, &deprecated) && patches_seen_.insert(id).second) {
      act::WorkflowActivationJob job;
      job.mutable_notify_has_patch()->set_patch_id(id);
      Push(std::move(job));
    }
  }
  return std::nullopt;
}

std::optional<MachinesError> WorkflowMachines::HandleEvent(const hist::HistoryEvent& e) {
  const bool after_patch = last_event_was_patch_marker_;
  last_event_was_patch_marker_ = false;
  switch (e.event_type()) {
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: {
      started_ = e.workflow_execution_started_event_attributes();
      clock_ms_ = TimestampMs(e.event_time());
      act::WorkflowActivationJob job;
      auto* init = job.mutable_initialize_workflow();
      init->set_workflow_type(started_.workflow_type().name());
      init->set_workflow_id(workflow_id_);
      for (const auto& p : started_.input().payloads()) *init->add_arguments() = p;
      init->set_randomness_seed(RandomnessSeedFor(started_.original_execution_run_id()));
      for (const auto& [k, v] : started_.header().fields()) (*init->mutable_headers())[k] = v;
      init->set_identity(started_.identity());
      if (started_.has_parent_workflow_execution()) {
        auto* parent = init->mutable_parent_workflow_info();
        parent->set_namespace_(started_.parent_workflow_namespace());
        parent->set_workflow_id(started_.parent_workflow_execution().workflow_id());
        parent->set_run_id(started_.parent_workflow_execution().run_id());
      }
      if (started_.has_workflow_execution_timeout()) *init->mutable_workflow_execution_timeout() = started_.workflow_execution_timeout();
      if (started_.has_workflow_run_timeout()) *init->mutable_workflow_run_timeout() = started_.workflow_run_timeout();
      if (started_.has_workflow_task_timeout()) *init->mutable_workflow_task_timeout() = started_.workflow_task_timeout();
      init->set_continued_from_execution_run_id(started_.continued_execution_run_id());
      init->set_continued_initiator(started_.initiator());
      if (started_.has_continued_failure()) *init->mutable_continued_failure() = started_.continued_failure();
      if (started_.has_last_completion_result()) *init->mutable_last_completion_result() = started_.last_completion_result();
      init->set_first_execution_run_id(started_.first_execution_run_id());
      if (started_.has_retry_policy()) *init->mutable_retry_policy() = started_.retry_policy();
      init->set_attempt(started_.attempt());
      init->set_cron_schedule(started_.cron_schedule());
      if (started_.has_workflow_execution_expiration_time()) {
        *init->mutable_workflow_execution_expiration_time() = started_.workflow_execution_expiration_time();
      }
      if (started_.has_first_workflow_task_backoff()) {
        *init->mutable_cron_schedule_to_schedule_interval() = started_.first_workflow_task_backoff();
      }
      if (started_.has_memo()) *init->mutable_memo() = started_.memo();
      if (started_.has_search_attributes()) *init->mutable_search_attributes() = started_.search_attributes();
      *init->mutable_start_time() = e.event_time();
      if (started_.has_root_workflow_execution()) *init->mutable_root_workflow() = started_.root_workflow_execution();
      init->set_original_execution_run_id(started_.original_execution_run_id());
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
    case enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT:
      return std::nullopt;
    case enums::EVENT_TYPE_WORKFLOW_TASK_STARTED: {
      const auto& a = e.workflow_task_started_event_attributes();
      clock_ms_ = std::max(clock_ms_, TimestampMs(e.event_time()));
      history_size_bytes_ = static_cast<uint64_t>(a.history_size_bytes());
      continue_as_new_suggested_ = a.suggest_continue_as_new();
      return std::nullopt;
    }
    case enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
      const auto& md = e.workflow_task_completed_event_attributes().sdk_metadata();
      for (uint32_t f : md.core_used_flags()) recorded_core_flags_.insert(f);
      for (uint32_t f : md.lang_used_flags()) recorded_lang_flags_.insert(f);
      return std::nullopt;
    }
    case enums::EVENT_TYPE_WORKFLOW_TASK_FAILED: {
      const auto& a = e.workflow_task_failed_event_attributes();
      if (a.cause() == enums::WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW && !a.new_run_id().empty()) {
        act::WorkflowActivationJob job;
        job.mutable_update_random_seed()->set_randomness_seed(RandomnessSeedFor(a.new_run_id()));
        Push(std::move(job));
      }
      return std::nullopt;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: {
      const auto& a = e.workflow_execution_signaled_event_attributes();
      act::WorkflowActivationJob job;
      auto* s = job.mutable_signal_workflow();
      s->set_signal_name(a.signal_name());
      for (const auto& p : a.input().payloads()) *s->add_input() = p;
      s->set_identity(a.identity());
      for (const auto& [k, v] : a.header().fields()) (*s->mutable_headers())[k] = v;
      s->set_originating_event_id(e.event_id());
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED: {
      act::WorkflowActivationJob job;
      job.mutable_cancel_workflow()->set_reason(e.workflow_execution_cancel_requested_event_attributes().cause());
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
      closed_ = true;
      return std::nullopt;

    // --- follow-up events: resolve the machine named by their id ---------------
    case enums::EVENT_TYPE_ACTIVITY_TASK_STARTED: {
      Machine* m = FindByEvent(e.activity_task_started_event_attributes().scheduled_event_id());
      if (m == nullptr || m->kind != Kind::kActivity) {
        return Nondeterminism("ActivityTaskStarted for unknown scheduled event " +
                              std::to_string(e.activity_task_started_event_attributes().scheduled_event_id()));
      }
      m->started_event_id = e.event_id();
      return std::nullopt;
    }
    case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
    case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED:
    case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
    case enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED: {
      int64_t scheduled = 0;
      switch (e.event_type()) {
        case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
          scheduled = e.activity_task_completed_event_attributes().scheduled_event_id();
          break;
        case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED:
          scheduled = e.activity_task_failed_event_attributes().scheduled_event_id();
          break;
        case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
          scheduled = e.activity_task_timed_out_event_attributes().scheduled_event_id();
          break;
        default:
          scheduled = e.activity_task_canceled_event_attributes().scheduled_event_id();
          break;
      }
      Machine* m = FindByEvent(scheduled);
      if (m == nullptr || m->kind != Kind::kActivity) {
        return Nondeterminism("activity outcome for unknown scheduled event " + std::to_string(scheduled));
      }
      if (m->resolved) return std::nullopt;  // TRY_CANCEL / ABANDON resolved it already
      m->resolved = true;
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_activity();
      r->set_seq(m->seq);
      auto wrap = [&](const char* message, const Failure* cause, enums::RetryState retry_state) {
        Failure f;
        f.set_message(message);
        if (cause != nullptr) *f.mutable_cause() = *cause;
        auto* info = f.mutable_activity_failure_info();
        info->set_scheduled_event_id(scheduled);
        info->set_started_event_id(m->started_event_id);
        info->mutable_activity_type()->set_name(m->type);
        info->set_activity_id(m->id);
        info->set_retry_state(retry_state);
        return f;
      };
      switch (e.event_type()) {
        case enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
          const auto& result = e.activity_task_completed_event_attributes().result();
          if (result.payloads_size() > 1) {
            return MachinesError{MachinesError::Kind::kFatal, "an activity result holds more than one payload"};
          }
          auto* completed = r->mutable_result()->mutable_completed();
          if (result.payloads_size() == 1) *completed->mutable_result() = result.payloads(0);
          break;
        }
        case enums::EVENT_TYPE_ACTIVITY_TASK_FAILED: {
          const auto& a = e.activity_task_failed_event_attributes();
          auto f = wrap("Activity task failed", &a.failure(), a.retry_state());
          f.mutable_activity_failure_info()->set_identity(a.identity());
          *r->mutable_result()->mutable_failed()->mutable_failure() = std::move(f);
          break;
        }
        case enums::EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT: {
          const auto& a = e.activity_task_timed_out_event_attributes();
          *r->mutable_result()->mutable_failed()->mutable_failure() =
              wrap("Activity task timed out", &a.failure(), a.retry_state());
          break;
        }
        default: {
          const auto& a = e.activity_task_canceled_event_attributes();
          Failure cancelled;
          cancelled.set_message("Activity cancelled");
          *cancelled.mutable_canceled_failure_info()->mutable_details() = a.details();
          *r->mutable_result()->mutable_cancelled()->mutable_failure() =
              wrap("Activity cancelled", &cancelled, enums::RETRY_STATE_CANCEL_REQUESTED);
          break;
        }
      }
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_TIMER_FIRED: {
      const auto& a = e.timer_fired_event_attributes();
      Machine* m = FindByEvent(a.started_event_id());
      if (m == nullptr || m->kind != Kind::kTimer) {
        return Nondeterminism("TimerFired for unknown TimerStarted event " + std::to_string(a.started_event_id()));
      }
      if (a.timer_id() != m->id) {
        return Nondeterminism("TimerFired for timer " + a.timer_id() + " but timer " + m->id + " was started");
      }
      if (m->resolved) return std::nullopt;
      m->resolved = true;
      act::WorkflowActivationJob job;
      job.mutable_fire_timer()->set_seq(m->seq);
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
      const auto& a = e.child_workflow_execution_started_event_attributes();
      Machine* m = FindByEvent(a.initiated_event_id());
      if (m == nullptr || m->kind != Kind::kChild) {
        return Nondeterminism("ChildWorkflowExecutionStarted for unknown initiated event");
      }
      m->started_event_id = e.event_id();
      m->run_id = a.workflow_execution().run_id();  // needed to cancel the child later
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_child_workflow_execution_start();
      r->set_seq(m->seq);
      r->mutable_succeeded()->set_run_id(a.workflow_execution().run_id());
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_FAILED: {
      const auto& a = e.start_child_workflow_execution_failed_event_attributes();
      Machine* m = FindByEvent(a.initiated_event_id());
      if (m == nullptr || m->kind != Kind::kChild) {
        return Nondeterminism("StartChildWorkflowExecutionFailed for unknown initiated event");
      }
      m->resolved = true;
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_child_workflow_execution_start();
      r->set_seq(m->seq);
      r->mutable_failed()->set_workflow_id(a.workflow_id());
      r->mutable_failed()->set_workflow_type(a.workflow_type().name());
      r->mutable_failed()->set_cause(
          a.cause() == enums::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
              ? coresdk::child_workflow::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_WORKFLOW_ALREADY_EXISTS
              : coresdk::child_workflow::START_CHILD_WORKFLOW_EXECUTION_FAILED_CAUSE_UNSPECIFIED);
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
    case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TERMINATED: {
      int64_t initiated = 0;
      common::WorkflowExecution exec;
      switch (e.event_type()) {
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED:
          initiated = e.child_workflow_execution_completed_event_attributes().initiated_event_id();
          exec = e.child_workflow_execution_completed_event_attributes().workflow_execution();
          break;
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED:
          initiated = e.child_workflow_execution_failed_event_attributes().initiated_event_id();
          exec = e.child_workflow_execution_failed_event_attributes().workflow_execution();
          break;
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED:
          initiated = e.child_workflow_execution_canceled_event_attributes().initiated_event_id();
          exec = e.child_workflow_execution_canceled_event_attributes().workflow_execution();
          break;
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT:
          initiated = e.child_workflow_execution_timed_out_event_attributes().initiated_event_id();
          exec = e.child_workflow_execution_timed_out_event_attributes().workflow_execution();
          break;
        default:
          initiated = e.child_workflow_execution_terminated_event_attributes().initiated_event_id();
          exec = e.child_workflow_execution_terminated_event_attributes().workflow_execution();
          break;
      }
      Machine* m = FindByEvent(initiated);
      if (m == nullptr || m->kind != Kind::kChild) {
        return Nondeterminism("child workflow outcome for unknown initiated event " + std::to_string(initiated));
      }
      if (m->resolved) return std::nullopt;
      m->resolved = true;
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_child_workflow_execution();
      r->set_seq(m->seq);
      auto wrap = [&](const Failure& cause, enums::RetryState retry_state) {
        Failure f;
        f.set_message("Child Workflow execution failed");
        *f.mutable_cause() = cause;
        auto* info = f.mutable_child_workflow_execution_failure_info();
        info->set_namespace_(namespace_);
        *info->mutable_workflow_execution() = exec;
        info->mutable_workflow_type()->set_name(m->type);
        info->set_initiated_event_id(initiated);
        info->set_started_event_id(m->started_event_id);
        info->set_retry_state(retry_state);
        return f;
      };
      switch (e.event_type()) {
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_COMPLETED: {
          const auto& result = e.child_workflow_execution_completed_event_attributes().result();
          auto* completed = r->mutable_result()->mutable_completed();
          if (result.payloads_size() > 0) *completed->mutable_result() = result.payloads(0);
          break;
        }
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_FAILED: {
          const auto& a = e.child_workflow_execution_failed_event_attributes();
          *r->mutable_result()->mutable_failed()->mutable_failure() = wrap(a.failure(), a.retry_state());
          break;
        }
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_CANCELED: {
          Failure cancelled;
          cancelled.set_message("Child Workflow execution cancelled");
          *cancelled.mutable_canceled_failure_info()->mutable_details() =
              e.child_workflow_execution_canceled_event_attributes().details();
          *r->mutable_result()->mutable_cancelled()->mutable_failure() =
              wrap(cancelled, enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
          break;
        }
        case enums::EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_TIMED_OUT: {
          Failure timeout;
          timeout.set_message("Child Workflow execution timed out");
          timeout.mutable_timeout_failure_info()->set_timeout_type(enums::TIMEOUT_TYPE_START_TO_CLOSE);
          *r->mutable_result()->mutable_failed()->mutable_failure() =
              wrap(timeout, e.child_workflow_execution_timed_out_event_attributes().retry_state());
          break;
        }
        default: {
          Failure terminated;
          terminated.set_message("Child Workflow execution terminated");
          terminated.mutable_terminated_failure_info();
          *r->mutable_result()->mutable_failed()->mutable_failure() =
              wrap(terminated, enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
          break;
        }
      }
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED:
    case enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: {
      const bool ok = e.event_type() == enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_SIGNALED;
      const int64_t initiated = ok ? e.external_workflow_execution_signaled_event_attributes().initiated_event_id()
                                   : e.signal_external_workflow_execution_failed_event_attributes().initiated_event_id();
      Machine* m = FindByEvent(initiated);
      if (m == nullptr || m->kind != Kind::kSignalExternal) {
        return Nondeterminism("external signal outcome for unknown initiated event");
      }
      if (m->resolved) return std::nullopt;
      m->resolved = true;
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_signal_external_workflow();
      r->set_seq(m->seq);
      if (!ok) {
        auto* f = r->mutable_failure();
        f->set_message("Unable to signal external workflow because it was not found");
        f->mutable_application_failure_info()->set_type(enums::SignalExternalWorkflowExecutionFailedCause_Name(
            e.signal_external_workflow_execution_failed_event_attributes().cause()));
      }
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED:
    case enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_FAILED: {
      const bool ok = e.event_type() == enums::EVENT_TYPE_EXTERNAL_WORKFLOW_EXECUTION_CANCEL_REQUESTED;
      const int64_t initiated =
          ok ? e.external_workflow_execution_cancel_requested_event_attributes().initiated_event_id()
             : e.request_cancel_external_workflow_execution_failed_event_attributes().initiated_event_id();
      Machine* m = FindByEvent(initiated);
      if (m == nullptr || (m->kind != Kind::kCancelExternal && m->kind != Kind::kCancelChildInternal)) {
        return Nondeterminism("external cancel outcome for unknown initiated event");
      }
      if (m->resolved) return std::nullopt;
      m->resolved = true;
      if (m->kind == Kind::kCancelChildInternal) return std::nullopt;  // hidden from the code
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_request_cancel_external_workflow();
      r->set_seq(m->seq);
      if (!ok) {
        auto* f = r->mutable_failure();
        f->set_message("Unable to cancel external workflow because it was not found");
        f->mutable_application_failure_info()->set_type(enums::CancelExternalWorkflowExecutionFailedCause_Name(
            e.request_cancel_external_workflow_execution_failed_event_attributes().cause()));
      }
      Push(std::move(job));
      return std::nullopt;
    }
    case enums::EVENT_TYPE_MARKER_RECORDED: {
      const auto& m = e.marker_recorded_event_attributes();
      if (m.marker_name() == kLocalActivityMarkerName) {
        return MachinesError{MachinesError::Kind::kUnsupported,
                             "history has a local-activity marker: local activities are not supported "
                             "by Hourglass's Core yet"};
      }
      if (m.marker_name() == kPatchMarkerName) {
        std::string id;
        bool deprecated = false;
        if (!ParsePatchMarker(m, &id, &deprecated)) {
          return MachinesError{MachinesError::Kind::kFatal, "a core_patch marker without a patch id"};
        }
        patches_seen_.insert(id);
        last_event_was_patch_marker_ = true;
        // Matched against a SetPatchMarker command when one is pending for it;
        // a deprecated marker with none is skipped.
        if (!pending_.empty() && pending_.front()->kind == Kind::kPatch && pending_.front()->id == id) {
          return MatchCommandEvent(e);
        }
        if (deprecated) return std::nullopt;
        return Nondeterminism("history recorded patch " + id + " but the workflow did not check it");
      }
      return MatchCommandEvent(e);
    }
    case enums::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: {
      const auto& fields = e.upsert_workflow_search_attributes_event_attributes().search_attributes().indexed_fields();
      const bool change_version_only = fields.size() == 1 && fields.contains(kChangeVersionSearchAttribute);
      // Core-originated after a patch marker (flag 2): not a command of the code.
      if (change_version_only && after_patch &&
          (pending_.empty() || pending_.front()->kind != Kind::kUpsertSearchAttributes)) {
        return std::nullopt;
      }
      return MatchCommandEvent(e);
    }
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ADMITTED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED:
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_REJECTED:
      return MachinesError{MachinesError::Kind::kUnsupported,
                           "history has workflow updates: updates are not supported by Hourglass's Core yet"};
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_OPTIONS_UPDATED:
    case enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED_EXTERNALLY:
    case enums::EVENT_TYPE_ACTIVITY_PROPERTIES_MODIFIED_EXTERNALLY:
      return std::nullopt;
    default:
      if (e.event_type() >= enums::EVENT_TYPE_NEXUS_OPERATION_SCHEDULED &&
          e.event_type() <= enums::EVENT_TYPE_NEXUS_OPERATION_CANCEL_REQUESTED) {
        return MachinesError{MachinesError::Kind::kUnsupported,
                             "history has Nexus operations: not supported by Hourglass's Core"};
      }
      return MatchCommandEvent(e);
  }
}

std::optional<MachinesError> WorkflowMachines::MatchCommandEvent(const hist::HistoryEvent& e) {
  const auto type = e.event_type();
  Kind want;
  switch (type) {
    case enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: want = Kind::kActivity; break;
    case enums::EVENT_TYPE_ACTIVITY_TASK_CANCEL_REQUESTED: want = Kind::kCancelActivity; break;
    case enums::EVENT_TYPE_TIMER_STARTED: want = Kind::kTimer; break;
    case enums::EVENT_TYPE_TIMER_CANCELED: want = Kind::kCancelTimer; break;
    case enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED: want = Kind::kChild; break;
    case enums::EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: want = Kind::kSignalExternal; break;
    case enums::EVENT_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED: want = Kind::kCancelExternal; break;
    case enums::EVENT_TYPE_MARKER_RECORDED: want = Kind::kPatch; break;
    case enums::EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: want = Kind::kUpsertSearchAttributes; break;
    case enums::EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED: want = Kind::kModifyProperties; break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED: want = Kind::kComplete; break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED: want = Kind::kFail; break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED: want = Kind::kCancelWorkflow; break;
    case enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW: want = Kind::kContinueAsNew; break;
    default:
      return MachinesError{MachinesError::Kind::kFatal,
                           "unexpected history event " + enums::EventType_Name(type)};
  }
  // A pending patch command facing a different event was not taken on the
  // path that recorded this history: drop it (Core does the same).
  while (!pending_.empty() && pending_.front()->kind == Kind::kPatch && want != Kind::kPatch) {
    pending_.front()->cancelled_before_sent = true;
    pending_.pop_front();
  }
  if (pending_.empty()) {
    return Nondeterminism("No command scheduled for event " + enums::EventType_Name(type) + " (id " +
                          std::to_string(e.event_id()) + ")");
  }
  Machine* m = pending_.front();
  const bool cancel_child_matches = want == Kind::kCancelExternal && m->kind == Kind::kCancelChildInternal;
  if (m->kind != want && !cancel_child_matches) {
    return Nondeterminism("event " + enums::EventType_Name(type) + " (id " + std::to_string(e.event_id()) +
                          ") does not match the workflow's next command (" +
                          enums::CommandType_Name(m->command.command_type()) + ")");
  }
  // Ids and types must agree (Core flag 1).
  const bool check_ids = replaying_ ? recorded_core_flags_.contains(kIdAndTypeDeterminismChecks) : true;
  if (check_ids) {
    if (want == Kind::kActivity) {
      const auto& a = e.activity_task_scheduled_event_attributes();
      if (a.activity_id() != m->id || a.activity_type().name() != m->type) {
        return Nondeterminism("activity " + a.activity_id() + "/" + a.activity_type().name() +
                              " in history, the workflow scheduled " + m->id + "/" + m->type);
      }
    } else if (want == Kind::kChild) {
      const auto& a = e.start_child_workflow_execution_initiated_event_attributes();
      if (a.workflow_id() != m->id || a.workflow_type().name() != m->type) {
        return Nondeterminism("child " + a.workflow_id() + "/" + a.workflow_type().name() +
                              " in history, the workflow started " + m->id + "/" + m->type);
      }
    }
  }
  if (want == Kind::kTimer && e.timer_started_event_attributes().timer_id() != m->id) {
    return Nondeterminism("timer " + e.timer_started_event_attributes().timer_id() +
                          " started in history, the workflow started timer " + m->id);
  }
  if (want == Kind::kPatch) {
    std::string id;
    bool deprecated = false;
    ParsePatchMarker(e.marker_recorded_event_attributes(), &id, &deprecated);
    if (id != m->id) return Nondeterminism("patch marker " + id + " in history, the workflow set " + m->id);
  }
  pending_.pop_front();
  m->sent_or_recorded = true;
  m->command_event_id = e.event_id();
  by_event_[e.event_id()] = m;
  switch (want) {
    case Kind::kComplete:
    case Kind::kFail:
    case Kind::kCancelWorkflow:
    case Kind::kContinueAsNew:
      closed_ = true;
      break;
    case Kind::kCancelTimer:
    case Kind::kCancelActivity:
    case Kind::kUpsertSearchAttributes:
    case Kind::kModifyProperties:
    case Kind::kPatch:
      m->resolved = true;
      break;
    default:
      break;
  }
  return std::nullopt;
}

// --- activations ------------------------------------------------------------------

act::WorkflowActivation WorkflowMachines::TakeActivation() {
  act::WorkflowActivation a;
  a.set_run_id(run_id_);
  *a.mutable_timestamp() = MsToTimestamp(clock_ms_);
  bool only_queries = !jobs_.empty();
  for (const auto& j : jobs_) only_queries = only_queries && j.has_query_workflow();
  a.set_is_replaying(replaying_ || only_queries);
  a.set_history_length(static_cast<uint32_t>(last_event_id_));
  std::stable_sort(jobs_.begin(), jobs_.end(),
                   [](const auto& x, const auto& y) { return JobRank(x) < JobRank(y); });
  for (auto& j : jobs_) *a.add_jobs() = std::move(j);
  jobs_.clear();
  for (uint32_t f : recorded_lang_flags_) a.add_available_internal_flags(f);
  a.set_history_size_bytes(history_size_bytes_);
  a.set_continue_as_new_suggested(continue_as_new_suggested_);
  return a;
}

void WorkflowMachines::AddQuery(act::QueryWorkflow query) {
  act::WorkflowActivationJob job;
  *job.mutable_query_workflow() = std::move(query);
  Push(std::move(job));
}

std::vector<wfc::QueryResult> WorkflowMachines::TakeQueryResults() { return std::exchange(query_results_, {}); }

// --- completions ------------------------------------------------------------------

std::optional<MachinesError> WorkflowMachines::ApplyCompletion(const coresdk::workflow_completion::Success& success) {
  for (uint32_t f : success.used_internal_flags()) used_lang_flags_.insert(f);
  // Terminal commands go last; later terminal commands are dropped (flag 3).
  const wfc::WorkflowCommand* terminal = nullptr;
  for (const auto& c : success.commands()) {
    if (c.has_respond_to_query()) {
      query_results_.push_back(c.respond_to_query());
      continue;
    }
    if (IsTerminal(c)) {
      if (terminal == nullptr) terminal = &c;
      continue;
    }
    if (auto err = HandleCommand(c)) return err;
  }
  if (terminal != nullptr) return HandleCommand(*terminal);
  return std::nullopt;
}

std::optional<MachinesError> WorkflowMachines::HandleCommand(const wfc::WorkflowCommand& c) {
  api_cmd::Command cmd;
  if (c.has_user_metadata()) *cmd.mutable_user_metadata() = c.user_metadata();
  switch (c.variant_case()) {
    case wfc::WorkflowCommand::kStartTimer: {
      const auto& in = c.start_timer();
      cmd.set_command_type(enums::COMMAND_TYPE_START_TIMER);
      cmd.mutable_start_timer_command_attributes()->set_timer_id(std::to_string(in.seq()));
      *cmd.mutable_start_timer_command_attributes()->mutable_start_to_fire_timeout() = in.start_to_fire_timeout();
      Machine& m = NewMachine(Kind::kTimer, in.seq(), std::move(cmd));
      m.id = std::to_string(in.seq());
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kCancelTimer: {
      Machine* timer = FindBySeq(Kind::kTimer, c.cancel_timer().seq());
      if (timer == nullptr || timer->resolved) return std::nullopt;
      timer->resolved = true;
      if (!timer->sent_or_recorded) {
        DropPending(timer);  // never sent: no command, no event
        return std::nullopt;
      }
      cmd.set_command_type(enums::COMMAND_TYPE_CANCEL_TIMER);
      cmd.mutable_cancel_timer_command_attributes()->set_timer_id(timer->id);
      NewMachine(Kind::kCancelTimer, c.cancel_timer().seq(), std::move(cmd));
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kScheduleActivity: {
      const auto& in = c.schedule_activity();
      cmd.set_command_type(enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
      auto* a = cmd.mutable_schedule_activity_task_command_attributes();
      a->set_activity_id(in.activity_id());
      a->mutable_activity_type()->set_name(in.activity_type());
      a->mutable_task_queue()->set_name(in.task_queue().empty() ? task_queue_ : in.task_queue());
      *a->mutable_header() = ToHeader(in.headers());
      *a->mutable_input() = ToPayloads(in.arguments());
      *a->mutable_schedule_to_close_timeout() = in.schedule_to_close_timeout();
      *a->mutable_schedule_to_start_timeout() = in.schedule_to_start_timeout();
      *a->mutable_start_to_close_timeout() = in.start_to_close_timeout();
      *a->mutable_heartbeat_timeout() = in.heartbeat_timeout();
      if (in.has_retry_policy()) *a->mutable_retry_policy() = in.retry_policy();
      if (in.has_priority()) *a->mutable_priority() = in.priority();
      a->set_request_eager_execution(false);
      Machine& m = NewMachine(Kind::kActivity, in.seq(), std::move(cmd));
      m.id = in.activity_id();
      m.type = in.activity_type();
      m.cancellation_type = in.cancellation_type();
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kRequestCancelActivity: {
      Machine* m = FindBySeq(Kind::kActivity, c.request_cancel_activity().seq());
      if (m == nullptr) {
        return MachinesError{MachinesError::Kind::kFatal, "cancel of unknown activity seq " +
                                                              std::to_string(c.request_cancel_activity().seq())};
      }
      if (m->resolved || m->cancel_requested) return std::nullopt;
      m->cancel_requested = true;
      auto resolve_cancelled = [&] {
        m->resolved = true;
        act::WorkflowActivationJob job;
        auto* r = job.mutable_resolve_activity();
        r->set_seq(m->seq);
        Failure f;
        f.set_message("Activity cancelled");
        auto* cause = f.mutable_cause();
        cause->set_message("Activity cancelled");
        cause->mutable_canceled_failure_info();
        auto* info = f.mutable_activity_failure_info();
        info->set_scheduled_event_id(m->command_event_id);
        info->set_started_event_id(m->started_event_id);
        info->mutable_activity_type()->set_name(m->type);
        info->set_activity_id(m->id);
        info->set_retry_state(enums::RETRY_STATE_CANCEL_REQUESTED);
        *r->mutable_result()->mutable_cancelled()->mutable_failure() = std::move(f);
        Push(std::move(job));
      };
      if (!m->sent_or_recorded) {
        DropPending(m);
        resolve_cancelled();
        return std::nullopt;
      }
      if (m->cancellation_type == wfc::ABANDON) {
        resolve_cancelled();
        return std::nullopt;
      }
      cmd.set_command_type(enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
      cmd.mutable_request_cancel_activity_task_command_attributes()->set_scheduled_event_id(m->command_event_id);
      NewMachine(Kind::kCancelActivity, m->seq, std::move(cmd));
      if (m->cancellation_type == wfc::TRY_CANCEL) resolve_cancelled();
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kCompleteWorkflowExecution: {
      cmd.set_command_type(enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
      auto* a = cmd.mutable_complete_workflow_execution_command_attributes();
      if (c.complete_workflow_execution().has_result()) {
        *a->mutable_result()->add_payloads() = c.complete_workflow_execution().result();
      }
      NewMachine(Kind::kComplete, 0, std::move(cmd));
      terminal_issued_ = true;
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kFailWorkflowExecution:
      cmd.set_command_type(enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION);
      *cmd.mutable_fail_workflow_execution_command_attributes()->mutable_failure() =
          c.fail_workflow_execution().failure();
      NewMachine(Kind::kFail, 0, std::move(cmd));
      terminal_issued_ = true;
      return std::nullopt;
    case wfc::WorkflowCommand::kCancelWorkflowExecution:
      cmd.set_command_type(enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION);
      *cmd.mutable_cancel_workflow_execution_command_attributes()->mutable_details() =
          c.cancel_workflow_execution().details();
      NewMachine(Kind::kCancelWorkflow, 0, std::move(cmd));
      terminal_issued_ = true;
      return std::nullopt;
    case wfc::WorkflowCommand::kContinueAsNewWorkflowExecution: {
      const auto& in = c.continue_as_new_workflow_execution();
      cmd.set_command_type(enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION);
      auto* a = cmd.mutable_continue_as_new_workflow_execution_command_attributes();
      a->mutable_workflow_type()->set_name(in.workflow_type().empty() ? started_.workflow_type().name()
                                                                      : in.workflow_type());
      a->mutable_task_queue()->set_name(in.task_queue().empty() ? task_queue_ : in.task_queue());
      *a->mutable_input() = ToPayloads(in.arguments());
      if (in.has_workflow_run_timeout()) *a->mutable_workflow_run_timeout() = in.workflow_run_timeout();
      if (in.has_workflow_task_timeout()) *a->mutable_workflow_task_timeout() = in.workflow_task_timeout();
      if (in.has_backoff_start_interval()) *a->mutable_backoff_start_interval() = in.backoff_start_interval();
      // Memo and retry policy default to the run's, as Core fills them.
      if (!in.memo().empty()) {
        for (const auto& [k, v] : in.memo()) (*a->mutable_memo()->mutable_fields())[k] = v;
      } else if (started_.has_memo()) {
        *a->mutable_memo() = started_.memo();
      }
      if (!in.headers().empty()) *a->mutable_header() = ToHeader(in.headers());
      if (in.has_retry_policy()) {
        *a->mutable_retry_policy() = in.retry_policy();
      } else if (started_.has_retry_policy()) {
        *a->mutable_retry_policy() = started_.retry_policy();
      }
      if (in.has_search_attributes()) {
        *a->mutable_search_attributes() = in.search_attributes();
      } else if (started_.has_search_attributes()) {
        *a->mutable_search_attributes() = started_.search_attributes();
      }
      NewMachine(Kind::kContinueAsNew, 0, std::move(cmd));
      terminal_issued_ = true;
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kSetPatchMarker: {
      const auto& in = c.set_patch_marker();
      // One command per patch id per run.
      if (!patches_commanded_.insert(in.patch_id()).second) return std::nullopt;
      // While replaying, a patch that history does not have was not taken
      // when it ran: nothing to record.
      if (replaying_ && !patches_seen_.contains(in.patch_id())) return std::nullopt;
      cmd.set_command_type(enums::COMMAND_TYPE_RECORD_MARKER);
      auto* a = cmd.mutable_record_marker_command_attributes();
      a->set_marker_name(kPatchMarkerName);
      auto* p = (*a->mutable_details())[kPatchDetailsKey].add_payloads();
      (*p->mutable_metadata())["encoding"] = "json/plain";
      p->set_data(std::string("{\"id\":\"") + in.patch_id() + "\",\"deprecated\":" +
                  (in.deprecated() ? "true" : "false") + "}");
      Machine& m = NewMachine(Kind::kPatch, 0, std::move(cmd));
      m.id = in.patch_id();
      patches_seen_.insert(in.patch_id());
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kStartChildWorkflowExecution: {
      const auto& in = c.start_child_workflow_execution();
      cmd.set_command_type(enums::COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION);
      auto* a = cmd.mutable_start_child_workflow_execution_command_attributes();
      a->set_namespace_(in.namespace_().empty() ? namespace_ : in.namespace_());
      a->set_workflow_id(in.workflow_id());
      a->mutable_workflow_type()->set_name(in.workflow_type());
      a->mutable_task_queue()->set_name(in.task_queue().empty() ? task_queue_ : in.task_queue());
      *a->mutable_input() = ToPayloads(in.input());
      *a->mutable_workflow_execution_timeout() = in.workflow_execution_timeout();
      *a->mutable_workflow_run_timeout() = in.workflow_run_timeout();
      *a->mutable_workflow_task_timeout() = in.workflow_task_timeout();
      a->set_parent_close_policy(static_cast<enums::ParentClosePolicy>(in.parent_close_policy()));
      a->set_workflow_id_reuse_policy(in.workflow_id_reuse_policy());
      if (in.has_retry_policy()) *a->mutable_retry_policy() = in.retry_policy();
      a->set_cron_schedule(in.cron_schedule());
      if (!in.headers().empty()) *a->mutable_header() = ToHeader(in.headers());
      if (!in.memo().empty()) {
        for (const auto& [k, v] : in.memo()) (*a->mutable_memo()->mutable_fields())[k] = v;
      }
      if (in.has_search_attributes()) *a->mutable_search_attributes() = in.search_attributes();
      Machine& m = NewMachine(Kind::kChild, in.seq(), std::move(cmd));
      m.id = in.workflow_id();
      m.type = in.workflow_type();
      m.cancellation_type = in.cancellation_type();
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kCancelChildWorkflowExecution: {
      const auto& in = c.cancel_child_workflow_execution();
      Machine* m = FindBySeq(Kind::kChild, in.child_workflow_seq());
      if (m == nullptr) {
        return MachinesError{MachinesError::Kind::kFatal,
                             "cancel of unknown child workflow seq " + std::to_string(in.child_workflow_seq())};
      }
      if (m->resolved || m->cancel_requested) return std::nullopt;
      m->cancel_requested = true;
      Failure cancelled;
      cancelled.set_message("Child Workflow execution cancelled");
      cancelled.mutable_canceled_failure_info();
      if (!m->sent_or_recorded) {
        // Never initiated: the start resolves as cancelled, nothing is sent.
        DropPending(m);
        m->resolved = true;
        act::WorkflowActivationJob job;
        auto* r = job.mutable_resolve_child_workflow_execution_start();
        r->set_seq(m->seq);
        *r->mutable_cancelled()->mutable_failure() = cancelled;
        Push(std::move(job));
        return std::nullopt;
      }
      if (m->cancellation_type != coresdk::child_workflow::ABANDON) {
        cmd.set_command_type(enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION);
        auto* a = cmd.mutable_request_cancel_external_workflow_execution_command_attributes();
        a->set_namespace_(namespace_);
        a->set_workflow_id(m->id);
        a->set_run_id(m->run_id);
        a->set_child_workflow_only(true);
        a->set_reason(in.reason());
        Machine& internal = NewMachine(Kind::kCancelChildInternal, m->seq, std::move(cmd));
        internal.target = m;
      }
      if (m->cancellation_type == coresdk::child_workflow::ABANDON ||
          m->cancellation_type == coresdk::child_workflow::TRY_CANCEL) {
        m->resolved = true;
        act::WorkflowActivationJob job;
        auto* r = job.mutable_resolve_child_workflow_execution();
        r->set_seq(m->seq);
        *r->mutable_result()->mutable_cancelled()->mutable_failure() = cancelled;
        Push(std::move(job));
      }
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kRequestCancelExternalWorkflowExecution: {
      const auto& in = c.request_cancel_external_workflow_execution();
      cmd.set_command_type(enums::COMMAND_TYPE_REQUEST_CANCEL_EXTERNAL_WORKFLOW_EXECUTION);
      auto* a = cmd.mutable_request_cancel_external_workflow_execution_command_attributes();
      a->set_namespace_(in.workflow_execution().namespace_().empty() ? namespace_
                                                                      : in.workflow_execution().namespace_());
      a->set_workflow_id(in.workflow_execution().workflow_id());
      a->set_run_id(in.workflow_execution().run_id());
      a->set_reason(in.reason());
      NewMachine(Kind::kCancelExternal, in.seq(), std::move(cmd));
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kSignalExternalWorkflowExecution: {
      const auto& in = c.signal_external_workflow_execution();
      cmd.set_command_type(enums::COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION);
      auto* a = cmd.mutable_signal_external_workflow_execution_command_attributes();
      if (in.has_workflow_execution()) {
        a->set_namespace_(in.workflow_execution().namespace_().empty() ? namespace_
                                                                        : in.workflow_execution().namespace_());
        a->mutable_execution()->set_workflow_id(in.workflow_execution().workflow_id());
        a->mutable_execution()->set_run_id(in.workflow_execution().run_id());
      } else {
        a->set_namespace_(namespace_);
        a->mutable_execution()->set_workflow_id(in.child_workflow_id());
        a->set_child_workflow_only(true);
      }
      a->set_signal_name(in.signal_name());
      *a->mutable_input() = ToPayloads(in.args());
      if (!in.headers().empty()) *a->mutable_header() = ToHeader(in.headers());
      NewMachine(Kind::kSignalExternal, in.seq(), std::move(cmd));
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kCancelSignalWorkflow: {
      Machine* m = FindBySeq(Kind::kSignalExternal, c.cancel_signal_workflow().seq());
      if (m == nullptr || m->resolved || m->sent_or_recorded) return std::nullopt;
      DropPending(m);
      m->resolved = true;
      act::WorkflowActivationJob job;
      auto* r = job.mutable_resolve_signal_external_workflow();
      r->set_seq(m->seq);
      r->mutable_failure()->set_message("Signal was cancelled before being sent");
      r->mutable_failure()->mutable_canceled_failure_info();
      Push(std::move(job));
      return std::nullopt;
    }
    case wfc::WorkflowCommand::kUpsertWorkflowSearchAttributes:
      cmd.set_command_type(enums::COMMAND_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES);
      *cmd.mutable_upsert_workflow_search_attributes_command_attributes()->mutable_search_attributes() =
          c.upsert_workflow_search_attributes().search_attributes();
      NewMachine(Kind::kUpsertSearchAttributes, 0, std::move(cmd));
      return std::nullopt;
    case wfc::WorkflowCommand::kModifyWorkflowProperties:
      cmd.set_command_type(enums::COMMAND_TYPE_MODIFY_WORKFLOW_PROPERTIES);
      *cmd.mutable_modify_workflow_properties_command_attributes()->mutable_upserted_memo() =
          c.modify_workflow_properties().upserted_memo();
      NewMachine(Kind::kModifyProperties, 0, std::move(cmd));
      return std::nullopt;
    case wfc::WorkflowCommand::kScheduleLocalActivity:
    case wfc::WorkflowCommand::kRequestCancelLocalActivity:
      return MachinesError{MachinesError::Kind::kUnsupported,
                           "local activities are not supported by Hourglass's Core yet"};
    case wfc::WorkflowCommand::kUpdateResponse:
      return MachinesError{MachinesError::Kind::kUnsupported,
                           "workflow updates are not supported by Hourglass's Core yet"};
    case wfc::WorkflowCommand::kScheduleNexusOperation:
    case wfc::WorkflowCommand::kRequestCancelNexusOperation:
      return MachinesError{MachinesError::Kind::kUnsupported, "Nexus is not supported by Hourglass's Core"};
    default:
      return MachinesError{MachinesError::Kind::kFatal, "a workflow command with no variant"};
  }
}

std::vector<api_cmd::Command> WorkflowMachines::CommandsToSend() const {
  std::vector<api_cmd::Command> out;
  for (const Machine* m : pending_) out.push_back(m->command);
  // The terminal command must be last (flag 3); it is already the last one
  // issued, but cancel commands issued afterwards in the same completion
  // would follow it: move it to the end.
  auto it = std::find_if(out.begin(), out.end(), [](const api_cmd::Command& c) {
    return c.command_type() == enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION ||
           c.command_type() == enums::COMMAND_TYPE_FAIL_WORKFLOW_EXECUTION ||
           c.command_type() == enums::COMMAND_TYPE_CANCEL_WORKFLOW_EXECUTION ||
           c.command_type() == enums::COMMAND_TYPE_CONTINUE_AS_NEW_WORKFLOW_EXECUTION;
  });
  if (it != out.end()) std::rotate(it, it + 1, out.end());
  return out;
}

std::vector<uint32_t> WorkflowMachines::NewCoreFlags() const {
  std::vector<uint32_t> out;
  for (uint32_t f : {kIdAndTypeDeterminismChecks, kMoveTerminalCommands}) {
    if (!recorded_core_flags_.contains(f)) out.push_back(f);
  }
  return out;
}

std::vector<uint32_t> WorkflowMachines::NewLangFlags() const {
  std::vector<uint32_t> out;
  for (uint32_t f : used_lang_flags_) {
    if (!recorded_lang_flags_.contains(f)) out.push_back(f);
  }
  return out;
}

void WorkflowMachines::MarkFlagsRecorded() {
  for (uint32_t f : NewCoreFlags()) recorded_core_flags_.insert(f);
  for (uint32_t f : NewLangFlags()) recorded_lang_flags_.insert(f);
}

}  // namespace hourglass::bridgehost::core
