// WorkflowMachines through HistoryReplay: sdk-core's recorded histories with
// the golden activations of reference §8, and built histories for each kind of
// command, nondeterminism and unsupported features.

#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "bridgehost/core/history_replay.h"
#include "bridgehost/core/workflow_machines.h"

namespace hourglass::bridgehost::core {
namespace {

namespace enums = ::temporal::api::enums::v1;
namespace wcomp = ::coresdk::workflow_completion;

hist::History LoadHistory(const std::string& name) {
  std::ifstream in(std::string(HOURGLASS_HISTORIES_DIR) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  hist::History h;
  EXPECT_TRUE(h.ParseFromString(ss.str())) << name;
  return h;
}

// The language side, scripted: returns the commands for each activation.
using Script = std::function<std::vector<wfc::WorkflowCommand>(const act::WorkflowActivation&)>;

struct Run {
  std::vector<act::WorkflowActivation> activations;
  ReplayVerdict verdict;
};

Run Replay(hist::History history, const Script& script) {
  HistoryReplay replay("wf", std::move(history));
  Run out;
  int guard = 0;
  while (const auto* a = replay.activation()) {
    out.activations.push_back(*a);
    wcomp::WorkflowActivationCompletion c;
    c.set_run_id(a->run_id());
    auto* ok = c.mutable_successful();
    if (!(a->jobs_size() == 1 && a->jobs(0).has_remove_from_cache())) {
      for (auto& cmd : script(*a)) *ok->add_commands() = std::move(cmd);
    }
    replay.Complete(c);
    if (++guard > 1000) break;
  }
  EXPECT_TRUE(replay.verdict().has_value());
  if (replay.verdict()) out.verdict = *replay.verdict();
  return out;
}

wfc::WorkflowCommand Timer(uint32_t seq, int64_t seconds) {
  wfc::WorkflowCommand c;
  c.mutable_start_timer()->set_seq(seq);
  c.mutable_start_timer()->mutable_start_to_fire_timeout()->set_seconds(seconds);
  return c;
}
wfc::WorkflowCommand Activity(uint32_t seq, const std::string& id, const std::string& type) {
  wfc::WorkflowCommand c;
  auto* a = c.mutable_schedule_activity();
  a->set_seq(seq);
  a->set_activity_id(id);
  a->set_activity_type(type);
  a->mutable_start_to_close_timeout()->set_seconds(10);
  return c;
}
wfc::WorkflowCommand Complete() {
  wfc::WorkflowCommand c;
  c.mutable_complete_workflow_execution();
  return c;
}

bool HasJob(const act::WorkflowActivation& a, act::WorkflowActivationJob::VariantCase v) {
  for (const auto& j : a.jobs()) {
    if (j.variant_case() == v) return true;
  }
  return false;
}

TEST(Replay, TimerWorkflow_GoldenActivations) {
  auto run = Replay(LoadHistory("timer_workflow_history.bin"), [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) out.push_back(Timer(0, 1));
    if (HasJob(a, act::WorkflowActivationJob::kFireTimer)) out.push_back(Complete());
    return out;
  });
  ASSERT_EQ(run.activations.size(), 3u);
  const auto& first = run.activations[0];
  ASSERT_EQ(first.jobs_size(), 1);
  EXPECT_TRUE(first.jobs(0).has_initialize_workflow());
  EXPECT_TRUE(first.is_replaying());
  EXPECT_EQ(first.history_length(), 3u);
  EXPECT_EQ(first.jobs(0).initialize_workflow().randomness_seed(), 3173600465606032170u)
      << "seeded from original_execution_run_id 8212ae33-…";
  const auto& second = run.activations[1];
  ASSERT_EQ(second.jobs_size(), 1);
  EXPECT_EQ(second.jobs(0).fire_timer().seq(), 0u);
  EXPECT_EQ(second.history_length(), 8u);
  EXPECT_TRUE(run.activations[2].jobs(0).has_remove_from_cache());
  EXPECT_TRUE(run.verdict.ok) << run.verdict.message;
}

TEST(Replay, TimerWorkflow_ActivityInsteadOfTimerIsNondeterminism) {
  auto run = Replay(LoadHistory("timer_workflow_history.bin"), [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) out.push_back(Activity(0, "0", "x"));
    return out;
  });
  EXPECT_FALSE(run.verdict.ok);
  EXPECT_EQ(run.verdict.failure_cause, "nondeterminism");
  EXPECT_NE(run.verdict.message.find("[TMPRL1100]"), std::string::npos);
  EXPECT_EQ(run.activations.back().jobs(0).remove_from_cache().reason(), act::RemoveFromCache::NONDETERMINISM);
}

TEST(Replay, TimerWorkflow_MissingCommandIsNondeterminism) {
  auto run = Replay(LoadHistory("timer_workflow_history.bin"),
                    [](const act::WorkflowActivation&) { return std::vector<wfc::WorkflowCommand>{}; });
  EXPECT_EQ(run.verdict.failure_cause, "nondeterminism");
  EXPECT_NE(run.verdict.message.find("No command scheduled"), std::string::npos);
}

TEST(Replay, EndsEmptyWftComplete_ActivityThenEmptyCompletion) {
  auto run = Replay(LoadHistory("ends_empty_wft_complete.bin"), [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) out.push_back(Activity(1, "1", "say_hello"));
    return out;
  });
  ASSERT_GE(run.activations.size(), 3u);
  EXPECT_TRUE(run.activations[0].jobs(0).has_initialize_workflow());
  ASSERT_TRUE(run.activations[1].jobs(0).has_resolve_activity());
  EXPECT_EQ(run.activations[1].jobs(0).resolve_activity().seq(), 1u);
  EXPECT_TRUE(run.activations[1].jobs(0).resolve_activity().result().has_completed());
  EXPECT_TRUE(run.verdict.ok) << run.verdict.message;
}

TEST(Replay, EndsEmptyWftComplete_TypeIsNotCheckedBeforeFlagOneIsRecorded) {
  // This history records flag 1 (id and type checks) only in its last task,
  // after the activity was scheduled: Core does not check the type there.
  auto run = Replay(LoadHistory("ends_empty_wft_complete.bin"), [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) out.push_back(Activity(1, "1", "say_bye"));
    return out;
  });
  EXPECT_TRUE(run.verdict.ok) << run.verdict.message;
}

TEST(Replay, FailWfTask_FailedAttemptFoldsIntoTheRetry) {
  auto run = Replay(LoadHistory("fail_wf_task.bin"), [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) out.push_back(Timer(0, 1));
    if (HasJob(a, act::WorkflowActivationJob::kFireTimer)) out.push_back(Complete());
    return out;
  });
  EXPECT_TRUE(run.verdict.ok) << run.verdict.message;
  int fires = 0;
  for (const auto& a : run.activations) fires += HasJob(a, act::WorkflowActivationJob::kFireTimer);
  EXPECT_EQ(fires, 1);
}

TEST(Replay, OldChangeMarkerFormat_PatchAnnouncedThenTimers) {
  auto run = Replay(LoadHistory("old_change_marker_format.bin"), [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    for (const auto& j : a.jobs()) {
      if (j.has_notify_has_patch()) {
        wfc::WorkflowCommand p;
        p.mutable_set_patch_marker()->set_patch_id(j.notify_has_patch().patch_id());
        out.push_back(p);
      }
    }
    // The recorded workflow: three one-second timers one after another.
    static uint32_t seq = 0;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) seq = 1;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow) ||
        HasJob(a, act::WorkflowActivationJob::kFireTimer)) {
      if (seq <= 3) {
        out.push_back(Timer(seq++, 1));
      } else {
        out.push_back(Complete());
      }
    }
    return out;
  });
  ASSERT_FALSE(run.activations.empty());
  EXPECT_TRUE(HasJob(run.activations[0], act::WorkflowActivationJob::kNotifyHasPatch))
      << "the patch marker of the first task is announced in its activation";
  EXPECT_TRUE(run.verdict.ok) << run.verdict.message;
}

TEST(Replay, LocalActivityHistoryFailsCleanlyAsUnsupported) {
  auto run = Replay(LoadHistory("evict_while_la_running_no_interference-16_history.bin"),
                    [](const act::WorkflowActivation&) { return std::vector<wfc::WorkflowCommand>{}; });
  EXPECT_FALSE(run.verdict.ok);
  EXPECT_TRUE(run.verdict.failure_cause == "unsupported" || run.verdict.failure_cause == "nondeterminism")
      << run.verdict.failure_cause << ": " << run.verdict.message;
}

TEST(Replay, UpdateHistoryFailsCleanlyAsUnsupported) {
  auto run = Replay(LoadHistory("long_local_activity_with_update-0_history.bin"),
                    [](const act::WorkflowActivation&) { return std::vector<wfc::WorkflowCommand>{}; });
  EXPECT_FALSE(run.verdict.ok);
}

// --- built histories -------------------------------------------------------------

class Builder {
 public:
  hist::HistoryEvent& Add(enums::EventType type) {
    auto* e = h_.add_events();
    e->set_event_id(h_.events_size());
    e->set_event_type(type);
    e->mutable_event_time()->set_seconds(1700000000 + h_.events_size());
    return *e;
  }
  void Start() {
    auto& e = Add(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
    e.mutable_workflow_execution_started_event_attributes()->mutable_workflow_type()->set_name("W");
    e.mutable_workflow_execution_started_event_attributes()->set_original_execution_run_id("run-1");
    e.mutable_workflow_execution_started_event_attributes()->mutable_task_queue()->set_name("q");
    Task();
  }
  // WTS, WTSt
  int64_t Task() {
    Add(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
    return Add(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED).event_id();
  }
  void Completed() { Add(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED); }
  int64_t last() const { return h_.events_size(); }
  hist::History h_;
};

// Applies WES, WTS, WTSt as new work and takes the InitializeWorkflow activation.
void ApplyFirstTask(WorkflowMachines& m) {
  Builder b;
  b.Start();
  std::vector<hist::HistoryEvent> events(b.h_.events().begin(), b.h_.events().end());
  ASSERT_FALSE(m.ApplySequence(events, false, {}).has_value());
  m.TakeActivation();
}

TEST(Machines, Signal_DeliveredBeforeOtherJobsInItsActivation) {
  Builder b;
  b.Start();
  b.Completed();
  auto& t = b.Add(enums::EVENT_TYPE_TIMER_STARTED);
  t.mutable_timer_started_event_attributes()->set_timer_id("1");
  const int64_t timer_started = b.last();
  auto& f = b.Add(enums::EVENT_TYPE_TIMER_FIRED);
  f.mutable_timer_fired_event_attributes()->set_timer_id("1");
  f.mutable_timer_fired_event_attributes()->set_started_event_id(timer_started);
  b.Add(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED).mutable_workflow_execution_signaled_event_attributes()->set_signal_name("s");
  b.Task();
  auto run = Replay(b.h_, [](const act::WorkflowActivation& a) {
    std::vector<wfc::WorkflowCommand> out;
    if (HasJob(a, act::WorkflowActivationJob::kInitializeWorkflow)) out.push_back(Timer(1, 5));
    return out;
  });
  ASSERT_GE(run.activations.size(), 2u);
  const auto& second = run.activations[1];
  ASSERT_EQ(second.jobs_size(), 2);
  EXPECT_TRUE(second.jobs(0).has_signal_workflow()) << "signals sort before timer resolutions";
  EXPECT_TRUE(second.jobs(1).has_fire_timer());
  EXPECT_FALSE(second.is_replaying()) << "a history ending in WorkflowTaskStarted: its last task is new work";
}

TEST(Machines, ActivityTryCancel_ResolvesAtOnceAndSendsTheCancel) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  ASSERT_NO_FATAL_FAILURE(ApplyFirstTask(m));
  wcomp::Success s;
  *s.add_commands() = Activity(1, "a1", "T");
  ASSERT_FALSE(m.ApplyCompletion(s).has_value());
  ASSERT_EQ(m.CommandsToSend().size(), 1u);
  // Next task: the activity was scheduled (event 5), then the code cancels it.
  std::vector<hist::HistoryEvent> next;
  hist::HistoryEvent e;
  e.set_event_id(4);
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  next.push_back(e);
  e.set_event_id(5);
  e.set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  e.mutable_activity_task_scheduled_event_attributes()->set_activity_id("a1");
  e.mutable_activity_task_scheduled_event_attributes()->mutable_activity_type()->set_name("T");
  next.push_back(e);
  e.Clear();
  e.set_event_id(6);
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED);
  next.push_back(e);
  e.set_event_id(7);
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
  next.push_back(e);
  e.set_event_id(8);
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_TASK_STARTED);
  next.push_back(e);
  ASSERT_FALSE(m.ApplySequence(next, false, {}).has_value());
  EXPECT_TRUE(m.CommandsToSend().empty()) << "the schedule command was matched by its event";
  m.TakeActivation();
  wcomp::Success cancel;
  cancel.add_commands()->mutable_request_cancel_activity()->set_seq(1);
  ASSERT_FALSE(m.ApplyCompletion(cancel).has_value());
  ASSERT_TRUE(m.HasPendingJobs()) << "TRY_CANCEL resolves in the same task";
  auto a = m.TakeActivation();
  ASSERT_TRUE(a.jobs(0).resolve_activity().result().has_cancelled());
  auto cmds = m.CommandsToSend();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command_type(), enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
  EXPECT_EQ(cmds[0].request_cancel_activity_task_command_attributes().scheduled_event_id(), 5);
}

TEST(Machines, NewTask_ActivityTypeMismatchIsNondeterminism) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  ASSERT_NO_FATAL_FAILURE(ApplyFirstTask(m));
  wcomp::Success s;
  *s.add_commands() = Activity(1, "a1", "T");
  ASSERT_FALSE(m.ApplyCompletion(s).has_value());
  std::vector<hist::HistoryEvent> next(2);
  next[0].set_event_id(4);
  next[0].set_event_type(enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED);
  next[1].set_event_id(5);
  next[1].set_event_type(enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  next[1].mutable_activity_task_scheduled_event_attributes()->set_activity_id("a1");
  next[1].mutable_activity_task_scheduled_event_attributes()->mutable_activity_type()->set_name("U");
  auto err = m.ApplySequence(next, false, {});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, MachinesError::Kind::kNondeterminism);
}

TEST(Machines, TimerCanceledBeforeSent_SendsNothing) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  ASSERT_NO_FATAL_FAILURE(ApplyFirstTask(m));
  wcomp::Success s;
  *s.add_commands() = Timer(1, 10);
  s.add_commands()->mutable_cancel_timer()->set_seq(1);
  *s.add_commands() = Complete();
  ASSERT_FALSE(m.ApplyCompletion(s).has_value());
  auto cmds = m.CommandsToSend();
  ASSERT_EQ(cmds.size(), 1u);
  EXPECT_EQ(cmds[0].command_type(), enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
}

TEST(Machines, TerminalCommandMovesLastAndLaterTerminalsAreDropped) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  ASSERT_NO_FATAL_FAILURE(ApplyFirstTask(m));
  wcomp::Success s;
  *s.add_commands() = Complete();
  *s.add_commands() = Timer(1, 10);
  s.add_commands()->mutable_fail_workflow_execution();
  ASSERT_FALSE(m.ApplyCompletion(s).has_value());
  auto cmds = m.CommandsToSend();
  ASSERT_EQ(cmds.size(), 2u);
  EXPECT_EQ(cmds[0].command_type(), enums::COMMAND_TYPE_START_TIMER);
  EXPECT_EQ(cmds[1].command_type(), enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
}

TEST(Machines, LocalActivityCommandIsUnsupported) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  wcomp::Success s;
  s.add_commands()->mutable_schedule_local_activity()->set_seq(1);
  auto err = m.ApplyCompletion(s);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, MachinesError::Kind::kUnsupported);
}

TEST(Machines, QueryAnswersArePulledOutOfTheCommands) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  wcomp::Success s;
  s.add_commands()->mutable_respond_to_query()->set_query_id("q1");
  ASSERT_FALSE(m.ApplyCompletion(s).has_value());
  EXPECT_TRUE(m.CommandsToSend().empty());
  auto answers = m.TakeQueryResults();
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].query_id(), "q1");
}

TEST(Machines, NonConsecutiveEventIdsAreFatal) {
  WorkflowMachines m("default", "wf", "run-1", "q");
  hist::HistoryEvent e;
  e.set_event_id(2);
  e.set_event_type(enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  std::vector<hist::HistoryEvent> events{e};
  auto err = m.ApplySequence(events, true, {});
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->kind, MachinesError::Kind::kFatal);
}

}  // namespace
}  // namespace hourglass::bridgehost::core
