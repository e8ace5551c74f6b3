#pragma once

// One workflow run's state machines: the heart of the workflow half of Core
// (reference: sdk-core-semantics.md §2–3). Sans-IO: history events and the
// language side's completions go in; activation jobs, API commands and typed
// errors come out. The worker around it does the polling, caching and RPCs.
//
// Model. Every command the workflow code issues becomes a machine keyed by
// (kind, seq) and joins a FIFO of commands not yet seen in history. When a
// command event arrives in history (ActivityTaskScheduled, TimerStarted, ...),
// the oldest pending command must match it — kind, and ids/types — or the
// workflow is nondeterministic. Follow-up events (ActivityTaskCompleted,
// TimerFired, ...) name their command event's id and resolve that machine,
// producing jobs for the next activation. Commands still pending when the
// newest workflow task has been processed are what the worker sends to the
// server; their events come back in the next task's history and match then.
//
// Not supported yet, failing the run with a clear reason: local activities,
// updates, Nexus.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "temporal/api/command/v1/message.pb.h"
#include "temporal/api/history/v1/message.pb.h"
#include "temporal/sdk/core/workflow_activation/workflow_activation.pb.h"
#include "temporal/sdk/core/workflow_commands/workflow_commands.pb.h"
#include "temporal/sdk/core/workflow_completion/workflow_completion.pb.h"

namespace hourglass::bridgehost::core {

namespace hist = ::temporal::api::history::v1;
namespace api_cmd = ::temporal::api::command::v1;
namespace act = ::coresdk::workflow_activation;
namespace wfc = ::coresdk::workflow_commands;

struct MachinesError {
  enum class Kind {
    kNondeterminism,  // history and workflow code disagree: cause NON_DETERMINISTIC_ERROR
    kFatal,           // malformed history or completion: cause WORKFLOW_WORKER_UNHANDLED_FAILURE
    kUnsupported,     // a feature this Core does not have yet (local activities, updates)
  };
  Kind kind;
  std::string message;
};

// Core's internal flags (reference §3.6).
enum CoreFlag : uint32_t {
  kIdAndTypeDeterminismChecks = 1,
  kUpsertSearchAttributeOnPatch = 2,
  kMoveTerminalCommands = 3,
};

class WorkflowMachines {
 public:
  WorkflowMachines(std::string ns, std::string workflow_id, std::string run_id, std::string task_queue);
  ~WorkflowMachines();
  WorkflowMachines(const WorkflowMachines&) = delete;
  WorkflowMachines& operator=(const WorkflowMachines&) = delete;

  // Applies one logical workflow-task sequence. `replaying` is true for
  // sequences a previous worker already completed. `lookahead` is the next
  // sequence (may be empty): patch markers there are announced now, as Core
  // does, so the code sees them where they originally happened.
  std::optional<MachinesError> ApplySequence(std::span<const hist::HistoryEvent> events,
                                             bool replaying,
                                             std::span<const hist::HistoryEvent> lookahead);

  bool HasPendingJobs() const { return !jobs_.empty(); }
  // The jobs so far as one activation, in Core's order; clears them.
  act::WorkflowActivation TakeActivation();
  // A query-only activation (never mixed with other jobs).
  void AddQuery(act::QueryWorkflow query);

  // The language side's answer to the last activation.
  std::optional<MachinesError> ApplyCompletion(const coresdk::workflow_completion::Success& success);
  // Query answers found in the last completion.
  std::vector<wfc::QueryResult> TakeQueryResults();

  // Commands not yet recorded in history, in order (terminal command last).
  std::vector<api_cmd::Command> CommandsToSend() const;
  // Flags to record in this task's sdk_metadata (only ones not yet recorded).
  std::vector<uint32_t> NewCoreFlags() const;
  std::vector<uint32_t> NewLangFlags() const;
  void MarkFlagsRecorded();

  // The workflow code issued a terminal command, or history closed the run.
  bool closed() const { return closed_; }
  bool terminal_command_issued() const { return terminal_issued_; }
  int64_t last_processed_event_id() const { return last_event_id_; }
  bool replaying() const { return replaying_; }

 private:
  struct Machine;
  enum class Kind {
    kTimer,
    kActivity,
    kChild,
    kSignalExternal,
    kCancelExternal,
    kCancelChildInternal,  // Core-originated cancel of a child: hidden from the code
    kCancelTimer,
    kCancelActivity,
    kComplete,
    kFail,
    kCancelWorkflow,
    kContinueAsNew,
    kPatch,
    kUpsertSearchAttributes,
    kModifyProperties,
  };

  std::optional<MachinesError> HandleEvent(const hist::HistoryEvent& e);
  std::optional<MachinesError> MatchCommandEvent(const hist::HistoryEvent& e);
  std::optional<MachinesError> HandleCommand(const wfc::WorkflowCommand& c);
  Machine* FindBySeq(Kind kind, uint32_t seq);
  Machine* FindByEvent(int64_t event_id);
  Machine& NewMachine(Kind kind, uint32_t seq, api_cmd::Command command);
  void Push(act::WorkflowActivationJob job);
  void DropPending(Machine* m);
  static std::optional<MachinesError> Nondeterminism(const std::string& what);

  std::string namespace_;
  std::string workflow_id_;
  std::string run_id_;
  std::string task_queue_;

  std::vector<std::unique_ptr<Machine>> machines_;
  std::deque<Machine*> pending_;           // commands not yet matched to events
  std::map<int64_t, Machine*> by_event_;   // command event id -> machine
  std::vector<act::WorkflowActivationJob> jobs_;
  std::vector<wfc::QueryResult> query_results_;
  std::set<std::string> patches_seen_;     // core_patch markers announced or recorded
  std::set<std::string> patches_commanded_;

  hist::WorkflowExecutionStartedEventAttributes started_;
  int64_t last_event_id_ = 0;
  int64_t clock_ms_ = 0;
  bool replaying_ = true;
  bool closed_ = false;
  bool terminal_issued_ = false;
  uint64_t history_size_bytes_ = 0;
  bool continue_as_new_suggested_ = false;
  // Flags recorded in history so far, and those this worker used.
  std::set<uint32_t> recorded_core_flags_;
  std::set<uint32_t> recorded_lang_flags_;
  std::set<uint32_t> used_lang_flags_;
  bool last_event_was_patch_marker_ = false;
};

}  // namespace hourglass::bridgehost::core
