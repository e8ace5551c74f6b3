// The dev server's engine, driven directly with a fake clock: no sockets, no
// threads. Timers fire only when the test advances time.

#include "devserver/engine/engine.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>

#include "devserver/engine/time_util.h"
#include "tests/testing/temp_dir.h"

namespace hourglass::devserver {
namespace {

namespace cmd = temporal::api::command::v1;

class FakeClock : public Clock {
 public:
  int64_t NowMs() const override { return now; }
  int64_t now = 1'700'000'000'000;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(""); }

  void Open(const std::string& path) {
    engine_.reset();
    store_.reset();
    auto store = SqliteStore::Open(path, false);
    ASSERT_TRUE(store.ok()) << store.error().message();
    store_ = std::move(store).value();
    engine_ = std::make_unique<Engine>(*store_, clock_, EngineOptions{});
    ASSERT_TRUE(engine_->Boot().ok());
  }

  void Advance(int64_t ms) {
    clock_.now += ms;
    engine_->FireDueTimers();
  }

  std::string Start(const std::string& id, const std::string& request_id = "",
                    grpc::Status* status = nullptr) {
    wsv::StartWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.set_workflow_id(id);
    req.mutable_workflow_type()->set_name("Wf");
    req.mutable_task_queue()->set_name("q");
    req.set_request_id(request_id);
    wsv::StartWorkflowExecutionResponse resp;
    auto st = engine_->StartWorkflowExecution(req, &resp);
    if (status) *status = st;
    EXPECT_TRUE(status || st.ok()) << st.error_message();
    return resp.run_id();
  }

  // Polls the workflow queue; the response, or nothing if the poll parked.
  std::optional<wsv::PollWorkflowTaskQueueResponse> PollWorkflow() {
    wsv::PollWorkflowTaskQueueRequest req;
    req.set_namespace_("default");
    req.mutable_task_queue()->set_name("q");
    std::optional<wsv::PollWorkflowTaskQueueResponse> out;
    const uint64_t id = engine_->PollWorkflowTaskQueue(
        req, 0, [&](grpc::Status st, wsv::PollWorkflowTaskQueueResponse r) {
          if (st.ok() && !r.task_token().empty()) out = std::move(r);
        });
    if (!out) engine_->CancelWaiter(id);
    return out;
  }

  std::optional<wsv::PollActivityTaskQueueResponse> PollActivity() {
    wsv::PollActivityTaskQueueRequest req;
    req.set_namespace_("default");
    req.mutable_task_queue()->set_name("q");
    std::optional<wsv::PollActivityTaskQueueResponse> out;
    const uint64_t id = engine_->PollActivityTaskQueue(
        req, 0, [&](grpc::Status st, wsv::PollActivityTaskQueueResponse r) {
          if (st.ok() && !r.task_token().empty()) out = std::move(r);
        });
    if (!out) engine_->CancelWaiter(id);
    return out;
  }

  grpc::Status Complete(const std::string& token, std::vector<cmd::Command> commands) {
    wsv::RespondWorkflowTaskCompletedRequest req;
    req.set_task_token(token);
    for (auto& c : commands) *req.add_commands() = std::move(c);
    wsv::RespondWorkflowTaskCompletedResponse resp;
    return engine_->RespondWorkflowTaskCompleted(req, &resp);
  }

  void Signal(const std::string& id) {
    wsv::SignalWorkflowExecutionRequest req;
    req.set_namespace_("default");
    req.mutable_workflow_execution()->set_workflow_id(id);
    req.set_signal_name("sig");
    wsv::SignalWorkflowExecutionResponse resp;
    ASSERT_TRUE(engine_->SignalWorkflowExecution(req, &resp).ok());
  }

  // Event types of the committed history, as short names.
  std::string History(const std::string& id) {
    wsv::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(id);
    std::string out;
    engine_->GetWorkflowExecutionHistory(req, 0, [&](grpc::Status st, wsv::GetWorkflowExecutionHistoryResponse r) {
      EXPECT_TRUE(st.ok()) << st.error_message();
      for (const auto& e : r.history().events()) {
        std::string name = enums::EventType_Name(e.event_type()).substr(strlen("EVENT_TYPE_"));
        out += (out.empty() ? "" : " ") + name;
      }
    });
    return out;
  }

  static cmd::Command CompleteWorkflow() {
    cmd::Command c;
    c.set_command_type(enums::COMMAND_TYPE_COMPLETE_WORKFLOW_EXECUTION);
    c.mutable_complete_workflow_execution_command_attributes();
    return c;
  }
  static cmd::Command StartTimer(const std::string& id, int64_t ms) {
    cmd::Command c;
    c.set_command_type(enums::COMMAND_TYPE_START_TIMER);
    c.mutable_start_timer_command_attributes()->set_timer_id(id);
    *c.mutable_start_timer_command_attributes()->mutable_start_to_fire_timeout() = MsToDuration(ms);
    return c;
  }
  static cmd::Command ScheduleActivity(const std::string& id, int64_t start_to_close_ms,
                                       int64_t heartbeat_ms = 0) {
    cmd::Command c;
    c.set_command_type(enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
    auto* a = c.mutable_schedule_activity_task_command_attributes();
    a->set_activity_id(id);
    a->mutable_activity_type()->set_name("Act");
    *a->mutable_start_to_close_timeout() = MsToDuration(start_to_close_ms);
    if (heartbeat_ms > 0) *a->mutable_heartbeat_timeout() = MsToDuration(heartbeat_ms);
    *a->mutable_retry_policy()->mutable_initial_interval() = MsToDuration(1000);
    return c;
  }

  FakeClock clock_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, Start_HistoryIsStartedScheduledThenCompletes) {
  Start("w");
  EXPECT_EQ(History("w"), "WORKFLOW_EXECUTION_STARTED WORKFLOW_TASK_SCHEDULED");
  auto task = PollWorkflow();
  ASSERT_TRUE(task);
  EXPECT_EQ(task->started_event_id(), 3);
  EXPECT_EQ(task->history().events_size(), 3);
  EXPECT_EQ(task->attempt(), 1);
  ASSERT_TRUE(Complete(task->task_token(), {CompleteWorkflow()}).ok());
  EXPECT_EQ(History("w"),
            "WORKFLOW_EXECUTION_STARTED WORKFLOW_TASK_SCHEDULED WORKFLOW_TASK_STARTED "
            "WORKFLOW_TASK_COMPLETED WORKFLOW_EXECUTION_COMPLETED");
  EXPECT_EQ(engine_->open_runs(), 0u);
}

// A poll whose call was cancelled, before the engine processed the
// cancellation: the task goes to the next poller instead of being started
// for nobody (and lost until its timeout).
TEST_F(EngineTest, Poll_CancelledCallerIsSkippedAndTheTaskGoesToTheNextPoller) {
  wsv::PollWorkflowTaskQueueRequest req;
  req.set_namespace_("default");
  req.mutable_task_queue()->set_name("q");
  bool gone = false;
  std::optional<grpc::Status> first;
  engine_->PollWorkflowTaskQueue(
      req, 0,
      [&](grpc::Status st, wsv::PollWorkflowTaskQueueResponse r) {
        EXPECT_TRUE(r.task_token().empty());
        first = st;
      },
      [&] { return gone; });
  std::optional<wsv::PollWorkflowTaskQueueResponse> second;
  engine_->PollWorkflowTaskQueue(
      req, 0, [&](grpc::Status st, wsv::PollWorkflowTaskQueueResponse r) {
        if (st.ok()) second = std::move(r);
      });
  gone = true;
  Start("wf-gone");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->error_code(), grpc::StatusCode::CANCELLED);
  ASSERT_TRUE(second.has_value()) << "the task did not reach the live poller";
  EXPECT_EQ(second->workflow_execution().workflow_id(), "wf-gone");
}

TEST_F(EngineTest, Start_SameRequestIdReturnsTheSameRun) {
  const std::string first = Start("w", "req-1");
  EXPECT_EQ(Start("w", "req-1"), first);
}

TEST_F(EngineTest, Start_RunningIdFailsWithAlreadyExists) {
  Start("w", "req-1");
  grpc::Status st;
  Start("w", "req-2", &st);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_FALSE(st.error_details().empty()) << "carries WorkflowExecutionAlreadyStartedFailure";
}

TEST_F(EngineTest, Signal_DuringAStartedTaskIsBufferedThenFlushedAfterTheCommands) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(task);
  Signal("w");
  EXPECT_EQ(History("w"), "WORKFLOW_EXECUTION_STARTED WORKFLOW_TASK_SCHEDULED WORKFLOW_TASK_STARTED")
      << "a buffered event is invisible";
  ASSERT_TRUE(Complete(task->task_token(), {StartTimer("t", 60000)}).ok());
  EXPECT_EQ(History("w"),
            "WORKFLOW_EXECUTION_STARTED WORKFLOW_TASK_SCHEDULED WORKFLOW_TASK_STARTED "
            "WORKFLOW_TASK_COMPLETED TIMER_STARTED WORKFLOW_EXECUTION_SIGNALED WORKFLOW_TASK_SCHEDULED");
}

TEST_F(EngineTest, Completion_TerminalCommandWithBufferedEventsIsUnhandledCommand) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(task);
  Signal("w");
  auto st = Complete(task->task_token(), {CompleteWorkflow()});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "UnhandledCommand");
  EXPECT_EQ(History("w"),
            "WORKFLOW_EXECUTION_STARTED WORKFLOW_TASK_SCHEDULED WORKFLOW_TASK_STARTED "
            "WORKFLOW_TASK_FAILED WORKFLOW_EXECUTION_SIGNALED WORKFLOW_TASK_SCHEDULED");
  auto next = PollWorkflow();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->attempt(), 1) << "new events reset the attempt";
}

TEST_F(EngineTest, WorkflowTaskTimeout_FiresOnTheClockAndBumpsTheAttempt) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(task);
  Advance(9'999);
  EXPECT_FALSE(PollWorkflow());
  Advance(1);
  auto retry = PollWorkflow();
  ASSERT_TRUE(retry);
  EXPECT_EQ(retry->attempt(), 2);
  EXPECT_EQ(Complete(task->task_token(), {CompleteWorkflow()}).error_code(), grpc::StatusCode::NOT_FOUND)
      << "the timed-out attempt's token is stale";
}

TEST_F(EngineTest, Timer_FiresExactlyAtItsDuration) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(Complete(task->task_token(), {StartTimer("t", 5000)}).ok());
  Advance(4999);
  EXPECT_FALSE(PollWorkflow());
  Advance(1);
  auto fired = PollWorkflow();
  ASSERT_TRUE(fired);
  EXPECT_EQ(fired->history().events(fired->history().events_size() - 3).event_type(),
            enums::EVENT_TYPE_TIMER_FIRED);
}

TEST_F(EngineTest, ActivityRetry_BackoffThenAttemptTwoCarriesTheLastFailure) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(Complete(task->task_token(), {ScheduleActivity("a", 30000)}).ok());
  auto attempt1 = PollActivity();
  ASSERT_TRUE(attempt1);
  EXPECT_EQ(attempt1->attempt(), 1);
  wsv::RespondActivityTaskFailedRequest fail;
  fail.set_task_token(attempt1->task_token());
  fail.mutable_failure()->set_message("boom");
  fail.mutable_failure()->mutable_application_failure_info()->set_type("E");
  wsv::RespondActivityTaskFailedResponse fail_resp;
  ASSERT_TRUE(engine_->RespondActivityTaskFailed(fail, &fail_resp).ok());
  const std::string before = History("w");
  EXPECT_EQ(before.find("ACTIVITY_TASK_STARTED"), std::string::npos) << "retries write no events";
  EXPECT_FALSE(PollActivity()) << "not before the 1 s backoff";
  Advance(1000);
  auto attempt2 = PollActivity();
  ASSERT_TRUE(attempt2);
  EXPECT_EQ(attempt2->attempt(), 2);
  wsv::RespondActivityTaskCompletedRequest done;
  done.set_task_token(attempt2->task_token());
  wsv::RespondActivityTaskCompletedResponse done_resp;
  ASSERT_TRUE(engine_->RespondActivityTaskCompleted(done, &done_resp).ok());
  auto next = PollWorkflow();
  ASSERT_TRUE(next);
  EXPECT_EQ(History("w"),
            "WORKFLOW_EXECUTION_STARTED WORKFLOW_TASK_SCHEDULED WORKFLOW_TASK_STARTED "
            "WORKFLOW_TASK_COMPLETED ACTIVITY_TASK_SCHEDULED ACTIVITY_TASK_STARTED "
            "ACTIVITY_TASK_COMPLETED WORKFLOW_TASK_SCHEDULED WORKFLOW_TASK_STARTED");
  const auto& events = next->history().events();
  const auto& started = events[events.size() - 4];
  ASSERT_EQ(started.event_type(), enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);
  EXPECT_EQ(started.activity_task_started_event_attributes().attempt(), 2);
  EXPECT_EQ(started.activity_task_started_event_attributes().last_failure().message(), "boom");
  EXPECT_EQ(events[events.size() - 3].activity_task_completed_event_attributes().started_event_id(),
            started.event_id());
}

TEST_F(EngineTest, ActivityHeartbeatTimeout_NextAttemptGetsTheDetails) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(Complete(task->task_token(), {ScheduleActivity("a", 60000, 2000)}).ok());
  auto attempt1 = PollActivity();
  ASSERT_TRUE(attempt1);
  wsv::RecordActivityTaskHeartbeatRequest hb;
  hb.set_task_token(attempt1->task_token());
  hb.mutable_details()->add_payloads()->set_data("5");
  wsv::RecordActivityTaskHeartbeatResponse hb_resp;
  Advance(1500);
  ASSERT_TRUE(engine_->RecordActivityTaskHeartbeat(hb, &hb_resp).ok());
  Advance(1999);
  EXPECT_FALSE(PollActivity()) << "the heartbeat re-armed the timeout";
  Advance(1);   // heartbeat timeout: retry after 1 s backoff
  Advance(1000);
  auto attempt2 = PollActivity();
  ASSERT_TRUE(attempt2);
  EXPECT_EQ(attempt2->attempt(), 2);
  ASSERT_EQ(attempt2->heartbeat_details().payloads_size(), 1);
  EXPECT_EQ(attempt2->heartbeat_details().payloads(0).data(), "5");
}

TEST_F(EngineTest, Cancel_OfAnUnstartedActivityIsImmediate) {
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(Complete(task->task_token(), {ScheduleActivity("a", 30000)}).ok());
  // The activity's schedule triggers no workflow task; force one with a signal.
  Signal("w");
  auto second = PollWorkflow();
  ASSERT_TRUE(second);
  cmd::Command cancel;
  cancel.set_command_type(enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
  cancel.mutable_request_cancel_activity_task_command_attributes()->set_scheduled_event_id(5);
  ASSERT_TRUE(Complete(second->task_token(), {cancel}).ok());
  const std::string h = History("w");
  EXPECT_NE(h.find("ACTIVITY_TASK_CANCEL_REQUESTED ACTIVITY_TASK_CANCELED WORKFLOW_TASK_SCHEDULED"),
            std::string::npos)
      << h;
  EXPECT_FALSE(PollActivity()) << "the canceled activity is not dispatched";
}

TEST_F(EngineTest, Tokens_GarbageIsInvalidArgument) {
  EXPECT_EQ(Complete("\xff\x01garbage", {CompleteWorkflow()}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Complete("", {CompleteWorkflow()}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(EngineTest, Commands_DuplicateTimerIdFailsTheWorkflowTask) {
  Start("w");
  auto task = PollWorkflow();
  auto st = Complete(task->task_token(), {StartTimer("t", 1000), StartTimer("t", 1000)});
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const std::string h = History("w");
  EXPECT_NE(h.find("WORKFLOW_TASK_FAILED WORKFLOW_TASK_SCHEDULED"), std::string::npos) << h;
  EXPECT_EQ(h.find("TIMER_STARTED"), std::string::npos) << "no command of a failed task applies";
}

TEST_F(EngineTest, Durability_RestartOnTheSameDatabaseKeepsRunsAndRearmsTimers) {
  const ::hourglass::testing::TempDir tmp("hg-engine");
  const std::string& dir = tmp.path();
  Open(dir + "/dev.db");
  Start("w");
  auto task = PollWorkflow();
  ASSERT_TRUE(Complete(task->task_token(), {StartTimer("t", 10000)}).ok());
  const std::string before = History("w");

  Open(dir + "/dev.db");  // a new engine on the same file: a restart
  EXPECT_EQ(History("w"), before);
  EXPECT_EQ(engine_->open_runs(), 1u);
  EXPECT_FALSE(PollWorkflow());
  Advance(10000);
  auto fired = PollWorkflow();
  ASSERT_TRUE(fired) << "the timer survived the restart";
  ASSERT_TRUE(Complete(fired->task_token(), {CompleteWorkflow()}).ok());
  engine_.reset();
  store_.reset();
}

}  // namespace
}  // namespace hourglass::devserver
