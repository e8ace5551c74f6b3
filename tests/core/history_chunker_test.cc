#include "bridgehost/core/history_chunker.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "temporal/api/enums/v1/event_type.pb.h"

namespace hourglass::bridgehost::core {
namespace {

namespace enums = ::temporal::api::enums::v1;

// Short names so hand-built histories read like the tables in the reference.
constexpr auto kWes = enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED;
constexpr auto kWts = enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED;
constexpr auto kWtst = enums::EVENT_TYPE_WORKFLOW_TASK_STARTED;
constexpr auto kWtc = enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED;
constexpr auto kWtf = enums::EVENT_TYPE_WORKFLOW_TASK_FAILED;
constexpr auto kWtto = enums::EVENT_TYPE_WORKFLOW_TASK_TIMED_OUT;
constexpr auto kTimerStarted = enums::EVENT_TYPE_TIMER_STARTED;
constexpr auto kTimerFired = enums::EVENT_TYPE_TIMER_FIRED;
constexpr auto kSignaled = enums::EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED;
constexpr auto kMarker = enums::EVENT_TYPE_MARKER_RECORDED;
constexpr auto kUpdateCompleted = enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED;
constexpr auto kWec = enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED;
constexpr auto kWeFailed = enums::EVENT_TYPE_WORKFLOW_EXECUTION_FAILED;
constexpr auto kWeTerminated = enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED;
constexpr auto kWeTimedOut = enums::EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT;

// One event of a hand-built history; `sequencing` is only meaningful for
// WorkflowExecutionUpdateAccepted (see UpdateAccepted()).
struct Ev {
  Ev(enums::EventType t) : type(t) {}  // NOLINT(google-explicit-constructor): keeps lists terse
  enums::EventType type;
  int64_t sequencing = 0;
};

Ev UpdateAccepted(int64_t sequencing_event_id) {
  Ev e(enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED);
  e.sequencing = sequencing_event_id;
  return e;
}

// A history of the given types with consecutive ids from 1, as the server
// numbers them; the chunker only looks at types, ids and update sequencing.
std::vector<hist::HistoryEvent> Build(std::initializer_list<Ev> evs) {
  std::vector<hist::HistoryEvent> out;
  int64_t id = 1;
  for (const Ev& ev : evs) {
    hist::HistoryEvent& e = out.emplace_back();
    e.set_event_id(id++);
    e.set_event_type(ev.type);
    if (ev.type == enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED) {
      e.mutable_workflow_execution_update_accepted_event_attributes()
          ->set_accepted_request_sequencing_event_id(ev.sequencing);
    }
  }
  return out;
}

using Seq = std::tuple<size_t, size_t, bool>;  // begin, end, last

std::vector<Seq> Split(const std::vector<hist::HistoryEvent>& events, bool complete,
                       size_t from = 0) {
  std::vector<Seq> out;
  for (const WftSequence& s : SplitIntoWorkflowTasks(events, from, complete)) {
    out.emplace_back(s.begin, s.end, s.last);
  }
  return out;
}

// ---------------------------------------------------------------------------
// Hand-built histories

TEST(HistoryChunkerTest, TimerWorkflowSplitsAtEachCompletedTask) {
  const auto h =
      Build({kWes, kWts, kWtst, kWtc, kTimerStarted, kTimerFired, kWts, kWtst, kWtc, kWec});
  // WTSt 3 is followed by Completed + TimerStarted; WTSt 8 by Completed +
  // WEC; WEC closes the rest.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 8, false}, {8, 10, true}}));
}

TEST(HistoryChunkerTest, FailedAttemptFoldsIntoTheRetry) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kTimerStarted, kTimerFired, kWts, kWtst, kWtf,
                        kWts, kWtst, kWtc, kWec});
  // WTSt 8 is followed by Failed, so it does not close; the retry's WTSt 11 does.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 11, false}, {11, 13, true}}));
}

TEST(HistoryChunkerTest, TimedOutAttemptsFoldIntoTheRetry) {
  const auto h = Build({kWes, kWts, kWtst, kWtto, kWts, kWtst, kWtto, kWts, kWtst, kWtc, kWec});
  // WTSt 3 and 6 timed out; the first task lang completed is WTSt 9.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 9, false}, {9, 11, true}}));
}

TEST(HistoryChunkerTest, HeartbeatDoesNotCloseASequence) {
  const auto h =
      Build({kWes, kWts, kWtst, kWtc, kWts, kWtst, kWtc, kWts, kWtst, kWtc, kMarker, kWec});
  // WTSt 3 and 6 are each followed by Completed + Scheduled with no command
  // seen: heartbeats. WTSt 9 is followed by Completed + Marker.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 9, false}, {9, 12, true}}));
}

TEST(HistoryChunkerTest, CompletedThenScheduledIsNotAHeartbeatAfterACommand) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kTimerStarted, kTimerFired, kWts, kWtst, kWtc,
                        kWts, kWtst, kWtc, kWec});
  // The second sequence saw TimerStarted, so WTSt 8 closes it although
  // Completed + Scheduled follow; the third holds only the empty WTSt 11.
  EXPECT_EQ(Split(h, true),
            (std::vector<Seq>{{0, 3, false}, {3, 8, false}, {8, 11, false}, {11, 13, true}}));
}

TEST(HistoryChunkerTest, SignalAfterCompletionClosesTheTask) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kSignaled, kWts, kWtst});
  // WTSt 3 is followed by Completed + Signaled; WTSt 7 is the new task.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 7, true}}));
  // Partial: WTSt 7 could still be followed by WorkflowTaskFailed.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 3, true}}));
}

TEST(HistoryChunkerTest, TerminationDuringATaskEndsTheSequence) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kTimerStarted, kWts, kWtst, kWeTerminated});
  // WTSt 7 is skipped (Terminated follows) and Terminated closes the run.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 8, true}}));
  // A closing event decides the boundary even when more pages might follow.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 3, false}, {3, 8, true}}));
}

TEST(HistoryChunkerTest, ExecutionTimeoutDuringTheFirstTask) {
  const auto h = Build({kWes, kWts, kWtst, kWeTimedOut});
  // WTSt 3 is skipped (execution TimedOut follows); TimedOut closes the run.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 4, true}}));
}

TEST(HistoryChunkerTest, ClosingEventEndsTheSequenceImmediately) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kWeFailed});
  // Completed + Failed closes at WTSt 3; Failed closes the second sequence.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 3, false}, {3, 5, true}}));
}

TEST(HistoryChunkerTest, NewWorkflowTaskFromAFullPollResponse) {
  const auto h = Build({kWes, kWts, kWtst});
  // The whole history ends at the task being worked on: that is the last sequence.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, true}}));
  // As a page with more to come, WTSt 3 might still fail or time out: nothing yet.
  EXPECT_TRUE(Split(h, false).empty());
}

TEST(HistoryChunkerTest, PartialHistoryHoldsBackAPossibleHeartbeat) {
  const auto h = Build({kWes, kWts, kWtst, kWtc});
  // Complete: WorkflowExecutionStarted was seen, so WTSt 3 closes; the trailing
  // Completed is the final sequence.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 4, true}}));
  // Partial: a Scheduled next would make WTSt 3 a heartbeat, so it cannot close yet.
  EXPECT_TRUE(Split(h, false).empty());
}

TEST(HistoryChunkerTest, PartialHistoryClosesOnceACommandRulesOutAHeartbeat) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kTimerStarted, kTimerFired, kWts, kWtst, kWtc});
  // With TimerStarted seen, WTSt 8 + Completed closes whatever follows; the
  // lone trailing Completed is held back until the page after it arrives.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 3, false}, {3, 8, true}}));
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 8, false}, {8, 9, true}}));
}

TEST(HistoryChunkerTest, CompleteHistoryWithoutACommandKeepsTheTailTogether) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kSignaled, kWts, kWtst, kWtc});
  // From index 3: WTSt 7 + Completed with no command nor Started seen in the
  // sequence and no more events: it does not close, the remainder is final.
  EXPECT_EQ(Split(h, true, 3), (std::vector<Seq>{{3, 8, true}}));
}

TEST(HistoryChunkerTest, StartsFromTheGivenIndex) {
  const auto h =
      Build({kWes, kWts, kWtst, kWtc, kTimerStarted, kTimerFired, kWts, kWtst, kWtc, kWec});
  EXPECT_EQ(Split(h, true, 3), (std::vector<Seq>{{3, 8, false}, {8, 10, true}}));
  EXPECT_EQ(Split(h, true, 8), (std::vector<Seq>{{8, 10, true}}));
  EXPECT_TRUE(Split(h, true, 10).empty());
  EXPECT_TRUE(Split(h, true, 11).empty());
  EXPECT_TRUE(Split({}, true).empty());
}

TEST(HistoryChunkerTest, UpdateAcceptedEndsAtTheHeartbeatBeforeItsSequencingEvent) {
  const auto h = Build({kWes, kWts, kWtst, kWtc, kWts, kWtst, kWtc, kWts, kWtst, kWtc,
                        UpdateAccepted(8), kUpdateCompleted, kWts, kWtst, kWtc, kWec});
  // WTSt 3 and 6 are heartbeats; WTSt 9 + Completed + UpdateAccepted
  // (sequenced after event 8) ends the first sequence at WTSt 6, the last
  // completed attempt below 8. The rescan from 6 finds no such attempt, so
  // WTSt 9 closes; UpdateCompleted (a command) makes WTSt 14 close.
  EXPECT_EQ(Split(h, true),
            (std::vector<Seq>{{0, 6, false}, {6, 9, false}, {9, 14, false}, {14, 16, true}}));
}

TEST(HistoryChunkerTest, UpdateAcceptedSequencedAfterTheLastStartedClosesNormally) {
  const auto h = Build(
      {kWes, kWts, kWtst, kWtc, kWts, kWtst, kWtc, UpdateAccepted(2), kUpdateCompleted, kWec});
  // Sequenced after event 2: no completed attempt of the scan is below it, so
  // WTSt 6 closes as for any Completed + non-Scheduled.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 6, false}, {6, 10, true}}));
}

TEST(HistoryChunkerTest, ClassifiesCommandEvents) {
  for (auto t : {kTimerStarted, kMarker, kWec, kWeFailed, kUpdateCompleted,
                 enums::EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED,
                 enums::EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
                 enums::EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED,
                 enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW}) {
    EXPECT_TRUE(IsCommandEvent(Build({t})[0])) << enums::EventType_Name(t);
  }
  // Results of commands, WFT bookkeeping and external input are not commands;
  // Terminated/TimedOut close a run but no command produced them.
  for (auto t : {kWes, kWts, kWtst, kWtc, kWtf, kTimerFired, kSignaled, kWeTerminated, kWeTimedOut,
                 enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED}) {
    EXPECT_FALSE(IsCommandEvent(Build({t})[0])) << enums::EventType_Name(t);
  }
}

TEST(HistoryChunkerTest, ClassifiesClosingEvents) {
  for (auto t :
       {kWec, kWeFailed, kWeTerminated, kWeTimedOut, enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
        enums::EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW}) {
    EXPECT_TRUE(IsWorkflowClosingEvent(Build({t})[0])) << enums::EventType_Name(t);
  }
  for (auto t : {kWes, kWtc, kWtf, kTimerStarted, kUpdateCompleted,
                 enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCEL_REQUESTED}) {
    EXPECT_FALSE(IsWorkflowClosingEvent(Build({t})[0])) << enums::EventType_Name(t);
  }
}

// ---------------------------------------------------------------------------
// sdk-core's recorded histories (reference §8)

std::vector<hist::HistoryEvent> LoadRecorded(const std::string& name) {
  const std::filesystem::path path = std::filesystem::path(HOURGLASS_HISTORIES_DIR) / name;
  std::ifstream in(path, std::ios::binary);
  hist::History history;
  if (!in || !history.ParseFromIstream(&in)) {
    ADD_FAILURE() << "cannot read " << path;
    return {};
  }
  return {history.events().begin(), history.events().end()};
}

std::vector<hist::HistoryEvent> Prefix(const std::vector<hist::HistoryEvent>& events, size_t n) {
  return {events.begin(), events.begin() + static_cast<std::ptrdiff_t>(n)};
}

TEST(RecordedHistoryChunkingTest, TimerWorkflow) {
  const auto h = LoadRecorded("timer_workflow_history.bin");
  ASSERT_EQ(h.size(), 10u);
  // WTSt 3 + Completed + TimerStarted; WTSt 8 + Completed + WEC; WEC closes.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 8, false}, {8, 10, true}}));
}

TEST(RecordedHistoryChunkingTest, FailedWorkflowTaskFolds) {
  const auto h = LoadRecorded("fail_wf_task.bin");
  ASSERT_EQ(h.size(), 13u);
  // WTSt 3 + Completed + TimerStarted; WTSt 8 is followed by WorkflowTaskFailed
  // and folds into the retry, whose WTSt 11 + Completed + WEC closes; WEC closes.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 11, false}, {11, 13, true}}));
}

TEST(RecordedHistoryChunkingTest, EndsWithEmptyWorkflowTaskCompletion) {
  const auto h = LoadRecorded("ends_empty_wft_complete.bin");
  ASSERT_EQ(h.size(), 10u);
  // WTSt 3 + Completed + ActivityTaskScheduled; WTSt 9 + Completed with nothing
  // after, but ActivityTaskScheduled was seen, so it closes; the trailing
  // Completed (id 10) is the final sequence of the complete history.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 9, false}, {9, 10, true}}));
  // As a partial page the trailing Completed waits for more events.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 3, false}, {3, 9, true}}));
}

TEST(RecordedHistoryChunkingTest, OldChangeMarkerFormat) {
  const auto h = LoadRecorded("old_change_marker_format.bin");
  ASSERT_EQ(h.size(), 22u);
  // Each task is followed by Completed + a command (marker, then three
  // TimerStarted); WEC closes the last.
  EXPECT_EQ(Split(h, true),
            (std::vector<Seq>{
                {0, 3, false}, {3, 10, false}, {10, 15, false}, {15, 20, false}, {20, 22, true}}));
}

TEST(RecordedHistoryChunkingTest, EvictWhileLaRunning16) {
  const auto h = LoadRecorded("evict_while_la_running_no_interference-16_history.bin");
  ASSERT_EQ(h.size(), 18u);
  // WTSt 3 + Completed + Signaled; WTSt 7 + Completed + Marker; WTSt 14 and 17
  // both timed out, so the open run's tail [7, 18) is one final sequence.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false}, {3, 7, false}, {7, 18, true}}));
  // Without the history end, the timed-out tail is held back.
  EXPECT_EQ(Split(h, false), (std::vector<Seq>{{0, 3, false}, {3, 7, true}}));
}

TEST(RecordedHistoryChunkingTest, EvictWhileLaRunning23) {
  const auto h = LoadRecorded("evict_while_la_running_no_interference-23_history.bin");
  ASSERT_EQ(h.size(), 33u);
  // WTSt 3 and 7 timed out, WTSt 10 + Completed + Marker closes; WTSt 17 and
  // 20 timed out, WTSt 23 + Completed + ActivityTaskScheduled closes; WTSt 29
  // and 32 failed (nondeterminism), so [23, 33) is the final sequence.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 10, false}, {10, 23, false}, {23, 33, true}}));
  // sdk-core's test truncates to 24 events: WTSt 23 + Completed closes
  // because commands were seen; the lone Completed 24 is the final sequence.
  const auto truncated = Prefix(h, 24);
  EXPECT_EQ(Split(truncated, true),
            (std::vector<Seq>{{0, 10, false}, {10, 23, false}, {23, 24, true}}));
}

TEST(RecordedHistoryChunkingTest, EvictWhileLaRunning85) {
  const auto h = LoadRecorded("evict_while_la_running_no_interference-85_history.bin");
  ASSERT_EQ(h.size(), 24u);
  // WTSt 3 and 7 timed out; WTSt 10 + Completed + Scheduled with no command
  // seen is a heartbeat; WTSt 13 + Completed + Marker closes; WTSt 20 and 23
  // failed, so [13, 24) is the final sequence.
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 13, false}, {13, 24, true}}));
}

TEST(RecordedHistoryChunkingTest, LongLocalActivityWithUpdate0) {
  const auto h = LoadRecorded("long_local_activity_with_update-0_history.bin");
  ASSERT_EQ(h.size(), 35u);
  // Four updates sequenced after events 5, 13, 21, 29 (each a Scheduled right
  // after a heartbeat or a command-closed task). WTSt 3 is a heartbeat and is
  // the last completed attempt below 5, so the Init sequence ends there; each
  // update's WTSt (6, 14, 22, 30) then closes its own sequence, and the
  // UpdateAccepted/UpdateCompleted commands make the next WTSt (11, 19, 27)
  // close although Completed + Scheduled follow; WEC closes [30, 35).
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false},
                                              {3, 6, false},
                                              {6, 11, false},
                                              {11, 14, false},
                                              {14, 19, false},
                                              {19, 22, false},
                                              {22, 27, false},
                                              {27, 30, false},
                                              {30, 35, true}}));
}

TEST(RecordedHistoryChunkingTest, LongLocalActivityWithUpdate1) {
  const auto h = LoadRecorded("long_local_activity_with_update-1_history.bin");
  ASSERT_EQ(h.size(), 33u);
  // Update 1 (sequenced after 5): Init ends at heartbeat WTSt 3, the update
  // at WTSt 6. UpdateAccepted + TimerStarted make WTSt 11 close. WTSt 14 is a
  // heartbeat; WTSt 17 + Completed + TimerFired closes; WTSt 21 + Completed +
  // UpdateCompleted closes; that command makes WTSt 25 close. Update 2
  // (sequenced after 27) finds no completed attempt in (25, 27), so WTSt 28
  // closes; WEC closes [28, 33).
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 3, false},
                                              {3, 6, false},
                                              {6, 11, false},
                                              {11, 17, false},
                                              {17, 21, false},
                                              {21, 25, false},
                                              {25, 28, false},
                                              {28, 33, true}}));
}

TEST(RecordedHistoryChunkingTest, LongLocalActivityWithUpdate2) {
  const auto h = LoadRecorded("long_local_activity_with_update-2_history.bin");
  ASSERT_EQ(h.size(), 31u);
  // WTSt 3, 6, 9 are heartbeats; update 1 (sequenced after 11) ends Init at
  // WTSt 9, then WTSt 12 closes the update's sequence. UpdateAccepted/
  // UpdateCompleted make WTSt 17 close. WTSt 20, 23 are heartbeats; update 2
  // (sequenced after 25) ends that run of heartbeats at WTSt 23, then WTSt 26
  // closes its sequence; WEC closes [26, 31).
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 9, false},
                                              {9, 12, false},
                                              {12, 17, false},
                                              {17, 23, false},
                                              {23, 26, false},
                                              {26, 31, true}}));
}

TEST(RecordedHistoryChunkingTest, LongLocalActivityWithUpdate3) {
  const auto h = LoadRecorded("long_local_activity_with_update-3_history.bin");
  ASSERT_EQ(h.size(), 31u);
  // WTSt 3, 6, 9 are heartbeats; the update (sequenced after 11) ends Init at
  // WTSt 9, WTSt 12 closes its sequence. UpdateAccepted + TimerStarted make
  // WTSt 17 close; WTSt 20 is a heartbeat; WTSt 23 + Completed + TimerFired
  // closes; WTSt 27 + Completed + UpdateCompleted closes; WEC closes [27, 31).
  EXPECT_EQ(Split(h, true), (std::vector<Seq>{{0, 9, false},
                                              {9, 12, false},
                                              {12, 17, false},
                                              {17, 23, false},
                                              {23, 27, false},
                                              {27, 31, true}}));
}

// Properties that must hold for every recorded history: the sequences tile
// the history, the last one is flagged, and a partial history (any prefix,
// as if more pages were still to come) only ever yields boundaries the whole
// history agrees with, so fetching more pages never moves one.
TEST(RecordedHistoryChunkingTest, PrefixesNeverContradictTheWholeHistory) {
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(HOURGLASS_HISTORIES_DIR)) {
    if (entry.path().extension() != ".bin") continue;
    ++files;
    SCOPED_TRACE(entry.path().filename().string());
    const auto h = LoadRecorded(entry.path().filename().string());
    const auto whole = Split(h, true);
    ASSERT_FALSE(whole.empty());
    size_t expected_begin = 0;
    for (size_t i = 0; i < whole.size(); ++i) {
      EXPECT_EQ(std::get<0>(whole[i]), expected_begin);
      EXPECT_LT(std::get<0>(whole[i]), std::get<1>(whole[i]));
      EXPECT_EQ(std::get<2>(whole[i]), i + 1 == whole.size());
      expected_begin = std::get<1>(whole[i]);
    }
    EXPECT_EQ(expected_begin, h.size());

    for (size_t n = 0; n <= h.size(); ++n) {
      SCOPED_TRACE("prefix of " + std::to_string(n) + " events");
      const auto partial = Split(Prefix(h, n), false);
      ASSERT_LE(partial.size(), whole.size());
      for (size_t i = 0; i < partial.size(); ++i) {
        EXPECT_EQ(std::get<0>(partial[i]), std::get<0>(whole[i]));
        EXPECT_EQ(std::get<1>(partial[i]), std::get<1>(whole[i]));
        EXPECT_EQ(std::get<2>(partial[i]), i + 1 == partial.size());
      }
    }
  }
  EXPECT_GE(files, 11u);
}

}  // namespace
}  // namespace hourglass::bridgehost::core
