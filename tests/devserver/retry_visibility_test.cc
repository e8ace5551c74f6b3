// Pure pieces of the dev server: retry math, visibility queries, timers.

#include <gtest/gtest.h>

#include "devserver/engine/retry.h"
#include "devserver/engine/time_util.h"
#include "devserver/engine/timer_queue.h"
#include "devserver/engine/visibility_query.h"

namespace hourglass::devserver {
namespace {

namespace enums = temporal::api::enums::v1;
using temporal::api::common::v1::RetryPolicy;
using temporal::api::failure::v1::Failure;

RetryPolicy Policy(int64_t initial_ms, double coefficient, int64_t max_ms, int32_t attempts) {
  RetryPolicy p;
  *p.mutable_initial_interval() = MsToDuration(initial_ms);
  p.set_backoff_coefficient(coefficient);
  if (max_ms > 0) *p.mutable_maximum_interval() = MsToDuration(max_ms);
  p.set_maximum_attempts(attempts);
  return p;
}

TEST(Retry, DefaultsAreFilledIn) {
  RetryPolicy p;
  NormalizeRetryPolicy(p);
  EXPECT_EQ(DurationMs(p.initial_interval()), 1000);
  EXPECT_EQ(p.backoff_coefficient(), 2.0);
  EXPECT_EQ(DurationMs(p.maximum_interval()), 100000);
  EXPECT_EQ(p.maximum_attempts(), 0);
}

TEST(Retry, BackoffGrowsAndIsCapped) {
  auto p = Policy(100, 2.0, 500, 0);
  EXPECT_EQ(BackoffMs(p, 1), 100);
  EXPECT_EQ(BackoffMs(p, 2), 200);
  EXPECT_EQ(BackoffMs(p, 3), 400);
  EXPECT_EQ(BackoffMs(p, 4), 500);
}

TEST(Retry, MaximumAttemptsReached) {
  auto p = Policy(100, 2.0, 0, 2);
  EXPECT_EQ(DecideRetry(p, 1, nullptr, false, 0, 0).state, enums::RETRY_STATE_IN_PROGRESS);
  EXPECT_EQ(DecideRetry(p, 2, nullptr, false, 0, 0).state, enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED);
}

TEST(Retry, NonRetryableFlagAndTypes) {
  auto p = Policy(100, 2.0, 0, 0);
  p.add_non_retryable_error_types("Fatal");
  Failure f;
  f.mutable_application_failure_info()->set_type("Fatal");
  EXPECT_EQ(DecideRetry(p, 1, &f, false, 0, 0).state, enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  Failure g;
  g.mutable_application_failure_info()->set_non_retryable(true);
  EXPECT_EQ(DecideRetry(p, 1, &g, false, 0, 0).state, enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
  p.add_non_retryable_error_types("TemporalTimeout:StartToClose");
  EXPECT_EQ(DecideRetry(p, 1, nullptr, false, 0, 0, "StartToClose").state,
            enums::RETRY_STATE_NON_RETRYABLE_FAILURE);
}

TEST(Retry, DeadlineCutsTheRetryOff) {
  auto p = Policy(1000, 2.0, 0, 0);
  EXPECT_EQ(DecideRetry(p, 1, nullptr, false, 10'000, 10'500).state, enums::RETRY_STATE_TIMEOUT);
  EXPECT_EQ(DecideRetry(p, 1, nullptr, false, 10'000, 20'000).state, enums::RETRY_STATE_IN_PROGRESS);
}

TEST(Retry, NextRetryDelayOverridesTheBackoff) {
  auto p = Policy(1000, 2.0, 0, 0);
  Failure f;
  *f.mutable_application_failure_info()->mutable_next_retry_delay() = MsToDuration(42);
  EXPECT_EQ(DecideRetry(p, 3, &f, false, 0, 0).backoff_ms, 42);
}

TEST(Retry, CancelRequestedStopsRetries) {
  EXPECT_EQ(DecideRetry(Policy(1, 2, 0, 0), 1, nullptr, true, 0, 0).state,
            enums::RETRY_STATE_CANCEL_REQUESTED);
}

TEST(Retry, ValidationNamesTheField) {
  auto bad = Policy(1000, 0.5, 0, 0);
  ASSERT_TRUE(ValidateRetryPolicy(bad).has_value());
  EXPECT_NE(ValidateRetryPolicy(bad)->find("backoff_coefficient"), std::string::npos);
  auto negative = Policy(1000, 2, 0, -1);
  EXPECT_NE(ValidateRetryPolicy(negative)->find("maximum_attempts"), std::string::npos);
}

v1::RunState RunOf(const std::string& id, const std::string& type,
                   enums::WorkflowExecutionStatus status) {
  v1::RunState r;
  r.set_workflow_id(id);
  r.set_run_id("r-" + id);
  r.mutable_started()->mutable_workflow_type()->set_name(type);
  r.mutable_started()->mutable_task_queue()->set_name("q");
  r.set_status(status);
  return r;
}

TEST(VisibilityQuery, EmptyMatchesEverything) {
  auto q = ParseVisibilityQuery("  ");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(Matches(*q, RunOf("a", "T", enums::WORKFLOW_EXECUTION_STATUS_RUNNING)));
}

TEST(VisibilityQuery, ConjunctionsOfEqualities) {
  auto q = ParseVisibilityQuery("WorkflowType = 'T' AND ExecutionStatus='Running'");
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_TRUE(Matches(*q, RunOf("a", "T", enums::WORKFLOW_EXECUTION_STATUS_RUNNING)));
  EXPECT_FALSE(Matches(*q, RunOf("a", "T", enums::WORKFLOW_EXECUTION_STATUS_COMPLETED)));
  EXPECT_FALSE(Matches(*q, RunOf("a", "U", enums::WORKFLOW_EXECUTION_STATUS_RUNNING)));
}

TEST(VisibilityQuery, NotEqualAndOrderBy) {
  auto q = ParseVisibilityQuery("WorkflowId != \"a\" ORDER BY StartTime DESC");
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_FALSE(Matches(*q, RunOf("a", "T", enums::WORKFLOW_EXECUTION_STATUS_RUNNING)));
  EXPECT_TRUE(Matches(*q, RunOf("b", "T", enums::WORKFLOW_EXECUTION_STATUS_RUNNING)));
}

TEST(VisibilityQuery, CustomSearchAttributes) {
  auto run = RunOf("a", "T", enums::WORKFLOW_EXECUTION_STATUS_RUNNING);
  (*run.mutable_search_attributes()->mutable_indexed_fields())["CustomKeyword"].set_data("[\"x\",\"y\"]");
  auto q = ParseVisibilityQuery("CustomKeyword = 'y'");
  ASSERT_TRUE(q.ok());
  EXPECT_TRUE(Matches(*q, run));
}

TEST(VisibilityQuery, UnsupportedSyntaxIsRejectedWithAReason) {
  for (const char* bad : {"WorkflowId = 'a' OR WorkflowId = 'b'", "WorkflowId", "WorkflowId > 'a'",
                          "WorkflowId = 'unterminated", "ORDER BY CloseTime", "= 'x'"}) {
    auto q = ParseVisibilityQuery(bad);
    EXPECT_FALSE(q.ok()) << bad;
    if (!q.ok()) {
      EXPECT_NE(q.error().message().find("unsupported visibility query"), std::string::npos);
    }
  }
}

TEST(TimerQueue, PopsDueTimersInTimeThenInsertionOrder) {
  TimerQueue q;
  q.Add(30, {TimerKind::kUserTimer, "r", 0, 0, "c"});
  q.Add(10, {TimerKind::kUserTimer, "r", 0, 0, "a"});
  q.Add(10, {TimerKind::kUserTimer, "r", 0, 0, "b"});
  EXPECT_EQ(q.NextDueMs(), 10);
  auto due = q.PopDue(20);
  ASSERT_EQ(due.size(), 2u);
  EXPECT_EQ(due[0].name, "a");
  EXPECT_EQ(due[1].name, "b");
  EXPECT_EQ(q.NextDueMs(), 30);
  EXPECT_TRUE(q.PopDue(29).empty());
}

}  // namespace
}  // namespace hourglass::devserver
