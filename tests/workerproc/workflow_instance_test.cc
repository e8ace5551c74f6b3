// The workflow half of the SDK, sans-IO: hand-made Core activations in,
// completions out. Each test is named Feature_Scenario.

#include "workerproc/sdk/src/workflow_instance.h"

#include <gtest/gtest.h>

#include "hourglass/activity.h"
#include "hourglass/workflow.h"
#include "workerproc/sdk/src/convert.h"

namespace hourglass::sdk {
namespace {

using namespace std::chrono_literals;

// --- Workflows under test ----------------------------------------------------

Task<std::string> GreetWorkflow(WorkflowContext& ctx, std::string name) {
  co_return co_await ctx.ExecuteActivity<std::string>("Compose", ActivityOptions().StartToCloseTimeout(10s), name);
}
HOURGLASS_WORKFLOW("t.Greet", GreetWorkflow);

Task<int> SleepWorkflow(WorkflowContext& ctx, int seconds) {
  co_await ctx.Sleep(std::chrono::seconds(seconds));
  co_return seconds * 2;
}
HOURGLASS_WORKFLOW("t.Sleep", SleepWorkflow);

// Cancelled while sleeping; cleans up in a detached scope.
Task<void> CleanupWorkflow(WorkflowContext& ctx) {
  std::exception_ptr cancelled;
  try {
    co_await ctx.Sleep(1h);
  } catch (const CancelledError&) {
    cancelled = std::current_exception();  // no co_await inside a handler (C++ rule)
  }
  if (cancelled) {
    auto cleanup = ctx.NewDetachedScope();
    co_await ctx.ExecuteActivity<void>("Cleanup", ActivityOptions().StartToCloseTimeout(5s).Scope(cleanup));
    std::rethrow_exception(cancelled);
  }
}
HOURGLASS_WORKFLOW("t.Cleanup", CleanupWorkflow);

Task<std::vector<std::string>> SignalsWorkflow(WorkflowContext& ctx) {
  std::vector<std::string> got;
  bool done = false;
  ctx.SetSignalHandler("add", [&](std::string item) { got.push_back(item); });
  ctx.SetSignalHandler("done", [&](const Payloads&) { done = true; });
  ctx.SetQueryHandler("count", [&]() { return got.size(); });
  co_await ctx.WaitCondition([&] { return done; });
  co_return got;
}
HOURGLASS_WORKFLOW("t.Signals", SignalsWorkflow);

Task<bool> ConditionTimeoutWorkflow(WorkflowContext& ctx) {
  bool flag = false;
  ctx.SetSignalHandler("flag", [&](const Payloads&) { flag = true; });
  co_return co_await ctx.WaitCondition([&] { return flag; }, 30s);
}
HOURGLASS_WORKFLOW("t.ConditionTimeout", ConditionTimeoutWorkflow);

Task<std::string> PatchWorkflow(WorkflowContext& ctx) {
  if (ctx.Patched("v2")) co_return "new";
  co_return "old";
}
HOURGLASS_WORKFLOW("t.Patch", PatchWorkflow);

Task<void> BugWorkflow(WorkflowContext&) {
  throw std::out_of_range("index 7 past the end");
  co_return;
}
HOURGLASS_WORKFLOW("t.Bug", BugWorkflow);

Task<void> FailWorkflow(WorkflowContext&) {
  throw ApplicationError("card declined", {.type = "PaymentError", .non_retryable = true,
                                           .details = ToPayloads(std::string("visa"), 42)});
  co_return;
}
HOURGLASS_WORKFLOW("t.Fail", FailWorkflow);

Task<int> CountdownWorkflow(WorkflowContext& ctx, int n) {
  if (n > 0) ctx.ContinueAsNew({}, n - 1);
  co_return 0;
}
HOURGLASS_WORKFLOW("t.Countdown", CountdownWorkflow);

Task<std::string> ParentWorkflow(WorkflowContext& ctx) {
  auto child = co_await ctx.StartChildWorkflow("t.Sleep", ChildWorkflowOptions().WorkflowId("kid"), 1);
  int r = co_await child.Result<int>();
  co_return child.run_id() + ":" + std::to_string(r);
}
HOURGLASS_WORKFLOW("t.Parent", ParentWorkflow);

Task<std::string> RandomWorkflow(WorkflowContext& ctx) {
  co_return ctx.NewUuid() + "/" + std::to_string(ctx.Random() % 1000);
}
HOURGLASS_WORKFLOW("t.Random", RandomWorkflow);

Task<std::string> ActivityFailureWorkflow(WorkflowContext& ctx) {
  try {
    co_await ctx.ExecuteActivity<void>("Flaky", ActivityOptions().StartToCloseTimeout(1s));
  } catch (const ActivityError& e) {
    auto* app = dynamic_cast<const ApplicationError*>(e.cause().get());
    co_return e.info().activity_type + "|" + (app ? app->type() + "|" + app->message() : "?");
  }
  co_return "no error";
}
HOURGLASS_WORKFLOW("t.ActivityFailure", ActivityFailureWorkflow);

Task<int> ParallelWorkflow(WorkflowContext& ctx) {
  auto a = ctx.ExecuteActivity<int>("A", ActivityOptions().StartToCloseTimeout(1s));
  auto b = ctx.ExecuteActivity<int>("B", ActivityOptions().StartToCloseTimeout(1s));
  auto t = ctx.Sleep(10s);
  size_t first = co_await WhenAny(a, b, t);
  co_return static_cast<int>(first) * 100 + co_await a + co_await b;
}
HOURGLASS_WORKFLOW("t.Parallel", ParallelWorkflow);

// --- Activation builders -------------------------------------------------------

act::WorkflowActivation Activation(const std::string& run_id = "run-1", bool replaying = false) {
  act::WorkflowActivation a;
  a.set_run_id(run_id);
  a.mutable_timestamp()->set_seconds(1700000000);
  a.set_is_replaying(replaying);
  return a;
}

act::WorkflowActivation Start(const std::string& type, const Payloads& args = {}, uint64_t seed = 7,
                              bool replaying = false) {
  auto a = Activation("run-1", replaying);
  auto* init = a.add_jobs()->mutable_initialize_workflow();
  init->set_workflow_type(type);
  init->set_workflow_id("wf-1");
  init->set_randomness_seed(seed);
  ToProto(args, init->mutable_arguments());
  return a;
}

const cmp::Success& Ok(const cmp::WorkflowActivationCompletion& c) {
  EXPECT_TRUE(c.has_successful()) << c.DebugString();
  return c.successful();
}

class InstanceTest : public ::testing::Test {
 protected:
  cmp::WorkflowActivationCompletion Run(const act::WorkflowActivation& a) { return runs_.Activate(a); }
  WorkflowRuns runs_{InstanceOptions{"default", "q"}};
};

TEST_F(InstanceTest, Activity_ScheduledThenResultCompletesWorkflow) {
  auto c = Ok(Run(Start("t.Greet", ToPayloads(std::string("Ada")))));
  ASSERT_EQ(c.commands_size(), 1);
  const auto& sa = c.commands(0).schedule_activity();
  EXPECT_EQ(sa.seq(), 1u);
  EXPECT_EQ(sa.activity_type(), "Compose");
  EXPECT_EQ(sa.task_queue(), "q");
  EXPECT_EQ(sa.activity_id(), "1");
  EXPECT_EQ(sa.start_to_close_timeout().seconds(), 10);
  EXPECT_EQ(FromPayload<std::string>(FromProto(sa.arguments(0))), "Ada");

  auto a = Activation();
  auto* r = a.add_jobs()->mutable_resolve_activity();
  r->set_seq(1);
  *r->mutable_result()->mutable_completed()->mutable_result() = ToProto(ToPayload(std::string("Hello, Ada!")));
  auto done = Ok(Run(a));
  ASSERT_EQ(done.commands_size(), 1);
  EXPECT_EQ(FromPayload<std::string>(FromProto(done.commands(0).complete_workflow_execution().result())),
            "Hello, Ada!");
}

TEST_F(InstanceTest, Timer_FiresAndCompletesWithResult) {
  auto c = Ok(Run(Start("t.Sleep", ToPayloads(3))));
  ASSERT_EQ(c.commands_size(), 1);
  EXPECT_EQ(c.commands(0).start_timer().start_to_fire_timeout().seconds(), 3);
  auto a = Activation();
  a.add_jobs()->mutable_fire_timer()->set_seq(1);
  auto done = Ok(Run(a));
  ASSERT_EQ(done.commands_size(), 1);
  EXPECT_EQ(FromPayload<int>(FromProto(done.commands(0).complete_workflow_execution().result())), 6);
}

TEST_F(InstanceTest, Cancel_SleepingWorkflowCancelsTimerRunsDetachedCleanupThenReportsCancelled) {
  Ok(Run(Start("t.Cleanup")));
  auto a = Activation();
  a.add_jobs()->mutable_cancel_workflow()->set_reason("user");
  auto c = Ok(Run(a));
  ASSERT_EQ(c.commands_size(), 2) << c.DebugString();
  EXPECT_EQ(c.commands(0).cancel_timer().seq(), 1u);
  EXPECT_EQ(c.commands(1).schedule_activity().activity_type(), "Cleanup");
  auto r = Activation();
  auto* res = r.add_jobs()->mutable_resolve_activity();
  res->set_seq(1);
  *res->mutable_result()->mutable_completed()->mutable_result() = ToProto(NullPayload());
  auto done = Ok(Run(r));
  ASSERT_EQ(done.commands_size(), 1);
  EXPECT_TRUE(done.commands(0).has_cancel_workflow_execution()) << done.DebugString();
}

TEST_F(InstanceTest, Signals_BufferedBeforeHandlerDeliveredInOrderAndQueryAnswersAfterJobs) {
  // Signals in the very first activation arrive before the code set handlers.
  auto a = Start("t.Signals");
  for (const char* item : {"x", "y"}) {
    auto* s = a.add_jobs()->mutable_signal_workflow();
    s->set_signal_name("add");
    ToProto(ToPayloads(std::string(item)), s->mutable_input());
  }
  auto c = Ok(Run(a));
  EXPECT_EQ(c.commands_size(), 0);

  auto q = Activation();
  auto* query = q.add_jobs()->mutable_query_workflow();
  query->set_query_id("q1");
  query->set_query_type("count");
  auto qc = Ok(Run(q));
  ASSERT_EQ(qc.commands_size(), 1);
  EXPECT_EQ(FromPayload<int>(FromProto(qc.commands(0).respond_to_query().succeeded().response())), 2);

  auto d = Activation();
  d.add_jobs()->mutable_signal_workflow()->set_signal_name("done");
  auto done = Ok(Run(d));
  ASSERT_EQ(done.commands_size(), 1);
  auto items = FromPayload<std::vector<std::string>>(FromProto(done.commands(0).complete_workflow_execution().result()));
  EXPECT_EQ(items, (std::vector<std::string>{"x", "y"}));
}

TEST_F(InstanceTest, Query_UnknownNameFailsTheQueryNotTheWorkflow) {
  Ok(Run(Start("t.Signals")));
  auto q = Activation();
  auto* query = q.add_jobs()->mutable_query_workflow();
  query->set_query_id("q1");
  query->set_query_type("nope");
  auto qc = Ok(Run(q));
  ASSERT_EQ(qc.commands_size(), 1);
  ASSERT_TRUE(qc.commands(0).respond_to_query().has_failed());
  EXPECT_NE(qc.commands(0).respond_to_query().failed().message().find("count"), std::string::npos);
}

TEST_F(InstanceTest, Condition_TimeoutFiresFirstResolvesFalse) {
  auto c = Ok(Run(Start("t.ConditionTimeout")));
  ASSERT_EQ(c.commands_size(), 1);
  EXPECT_EQ(c.commands(0).start_timer().start_to_fire_timeout().seconds(), 30);
  auto a = Activation();
  a.add_jobs()->mutable_fire_timer()->set_seq(1);
  auto done = Ok(Run(a));
  ASSERT_EQ(done.commands_size(), 1);
  EXPECT_FALSE(FromPayload<bool>(FromProto(done.commands(0).complete_workflow_execution().result())));
}

TEST_F(InstanceTest, Condition_MetBeforeTimeoutCancelsItsTimer) {
  Ok(Run(Start("t.ConditionTimeout")));
  auto a = Activation();
  a.add_jobs()->mutable_signal_workflow()->set_signal_name("flag");
  auto done = Ok(Run(a));
  ASSERT_EQ(done.commands_size(), 2) << done.DebugString();
  EXPECT_EQ(done.commands(0).cancel_timer().seq(), 1u);
  EXPECT_TRUE(FromPayload<bool>(FromProto(done.commands(1).complete_workflow_execution().result())));
}

TEST_F(InstanceTest, Patched_FirstExecutionTakesNewPathAndMarksIt) {
  auto c = Ok(Run(Start("t.Patch")));
  ASSERT_EQ(c.commands_size(), 2);
  EXPECT_EQ(c.commands(0).set_patch_marker().patch_id(), "v2");
  EXPECT_EQ(FromPayload<std::string>(FromProto(c.commands(1).complete_workflow_execution().result())), "new");
}

TEST_F(InstanceTest, Patched_ReplayWithoutMarkerTakesOldPath) {
  auto c = Ok(Run(Start("t.Patch", {}, 7, /*replaying=*/true)));
  ASSERT_EQ(c.commands_size(), 1);
  EXPECT_EQ(FromPayload<std::string>(FromProto(c.commands(0).complete_workflow_execution().result())), "old");
}

TEST_F(InstanceTest, Patched_ReplayWithMarkerTakesNewPath) {
  auto a = Start("t.Patch", {}, 7, true);
  // Core puts NotifyHasPatch before the other jobs.
  act::WorkflowActivationJob notify;
  notify.mutable_notify_has_patch()->set_patch_id("v2");
  a.mutable_jobs()->Add(std::move(notify));
  std::rotate(a.mutable_jobs()->begin(), a.mutable_jobs()->end() - 1, a.mutable_jobs()->end());
  auto c = Ok(Run(a));
  ASSERT_EQ(c.commands_size(), 2);
  EXPECT_EQ(FromPayload<std::string>(FromProto(c.commands(1).complete_workflow_execution().result())), "new");
}

TEST_F(InstanceTest, Exception_NonFailureFailsTheTaskWithItsTypeName) {
  auto c = Run(Start("t.Bug"));
  ASSERT_TRUE(c.has_failed()) << c.DebugString();
  EXPECT_EQ(c.failed().failure().message(), "index 7 past the end");
  EXPECT_EQ(c.failed().failure().application_failure_info().type(), "std::out_of_range");
}

TEST_F(InstanceTest, Exception_ApplicationErrorFailsTheWorkflowWithTypeAndDetails) {
  auto c = Ok(Run(Start("t.Fail")));
  ASSERT_EQ(c.commands_size(), 1);
  const auto& f = c.commands(0).fail_workflow_execution().failure();
  EXPECT_EQ(f.message(), "card declined");
  EXPECT_EQ(f.application_failure_info().type(), "PaymentError");
  EXPECT_TRUE(f.application_failure_info().non_retryable());
  ASSERT_EQ(f.application_failure_info().details().payloads_size(), 2);
  EXPECT_EQ(FromPayload<int>(FromProto(f.application_failure_info().details().payloads(1))), 42);
}

TEST_F(InstanceTest, ContinueAsNew_EmitsCommandWithNewArguments) {
  auto c = Ok(Run(Start("t.Countdown", ToPayloads(3))));
  ASSERT_EQ(c.commands_size(), 1);
  const auto& can = c.commands(0).continue_as_new_workflow_execution();
  EXPECT_EQ(can.workflow_type(), "t.Countdown");
  EXPECT_EQ(can.task_queue(), "q");
  EXPECT_EQ(FromPayload<int>(FromProto(can.arguments(0))), 2);
}

TEST_F(InstanceTest, Child_StartThenResult) {
  auto c = Ok(Run(Start("t.Parent")));
  ASSERT_EQ(c.commands_size(), 1);
  EXPECT_EQ(c.commands(0).start_child_workflow_execution().workflow_id(), "kid");
  auto s = Activation();
  auto* st = s.add_jobs()->mutable_resolve_child_workflow_execution_start();
  st->set_seq(1);
  st->mutable_succeeded()->set_run_id("kid-run");
  EXPECT_EQ(Ok(Run(s)).commands_size(), 0);
  auto r = Activation();
  auto* res = r.add_jobs()->mutable_resolve_child_workflow_execution();
  res->set_seq(1);
  *res->mutable_result()->mutable_completed()->mutable_result() = ToProto(ToPayload(2));
  auto done = Ok(Run(r));
  ASSERT_EQ(done.commands_size(), 1);
  EXPECT_EQ(FromPayload<std::string>(FromProto(done.commands(0).complete_workflow_execution().result())), "kid-run:2");
}

TEST_F(InstanceTest, Random_SameSeedSameValuesDifferentSeedDifferentValues) {
  auto value = [](uint64_t seed) {
    WorkflowRuns runs{InstanceOptions{"default", "q"}};
    auto c = runs.Activate(Start("t.Random", {}, seed));
    return FromPayload<std::string>(FromProto(c.successful().commands(0).complete_workflow_execution().result()));
  };
  EXPECT_EQ(value(42), value(42));
  EXPECT_NE(value(42), value(43));
  const std::string v = value(42);
  EXPECT_EQ(v[14], '4') << v;  // UUID version 4
}

TEST_F(InstanceTest, ActivityFailure_SurfacesAsActivityErrorCausedByApplicationError) {
  Ok(Run(Start("t.ActivityFailure")));
  auto a = Activation();
  auto* r = a.add_jobs()->mutable_resolve_activity();
  r->set_seq(1);
  auto* f = r->mutable_result()->mutable_failed()->mutable_failure();
  f->set_message("activity failed");
  f->mutable_activity_failure_info()->mutable_activity_type()->set_name("Flaky");
  f->mutable_cause()->set_message("boom");
  f->mutable_cause()->mutable_application_failure_info()->set_type("IOError");
  auto done = Ok(Run(a));
  EXPECT_EQ(FromPayload<std::string>(FromProto(done.commands(0).complete_workflow_execution().result())),
            "Flaky|IOError|boom");
}

TEST_F(InstanceTest, Parallel_TwoActivitiesAndTimerInOneTaskWhenAnyReportsFirst) {
  auto c = Ok(Run(Start("t.Parallel")));
  ASSERT_EQ(c.commands_size(), 3);
  auto a = Activation();
  for (uint32_t seq : {2u, 1u}) {
    auto* r = a.add_jobs()->mutable_resolve_activity();
    r->set_seq(seq);
    *r->mutable_result()->mutable_completed()->mutable_result() = ToProto(ToPayload(static_cast<int>(seq)));
  }
  auto done = Ok(Run(a));
  ASSERT_GE(done.commands_size(), 1);
  // b (index 1) resolved first; 1 + 2 = 3.
  EXPECT_EQ(FromPayload<int>(FromProto(done.commands(done.commands_size() - 1).complete_workflow_execution().result())),
            103);
}

TEST_F(InstanceTest, Registry_UnknownTypeFailsTheTaskNamingTheRegisteredOnes) {
  auto c = Run(Start("t.Missing"));
  ASSERT_TRUE(c.has_failed());
  EXPECT_NE(c.failed().failure().message().find("t.Greet"), std::string::npos);
}

TEST_F(InstanceTest, Eviction_AnsweredWithEmptySuccessAndRunForgotten) {
  Ok(Run(Start("t.Sleep", ToPayloads(1))));
  EXPECT_EQ(runs_.size(), 1u);
  auto e = Activation();
  e.add_jobs()->mutable_remove_from_cache()->set_message("cache full");
  auto c = Ok(Run(e));
  EXPECT_EQ(c.commands_size(), 0);
  EXPECT_EQ(runs_.size(), 0u);
  auto again = Activation();
  again.add_jobs()->mutable_fire_timer()->set_seq(1);
  EXPECT_TRUE(Run(again).has_failed());
}

class NoopActivityRuntime : public detail::ActivityRuntime {
 public:
  void Heartbeat(Payloads) override {}
  ActivityCancelReason cancel_reason() const override { return ActivityCancelReason::kNone; }
  bool WaitForCancel(Duration) override { return false; }
};

Task<int> Double(int x) { co_return 2 * x; }
Task<std::string> CoroutineActivity(ActivityContext& ctx, int x) {
  const int d = co_await Double(x);
  co_return ctx.info().activity_type + "=" + std::to_string(d);
}
int PlainActivity(int a, int b) { return a + b; }

TEST(ActivityFunctions, CoroutineAndPlainFunctionsWithAndWithoutContext) {
  NoopActivityRuntime rt;
  ActivityInfo info;
  info.activity_type = "co";
  ActivityContext ctx(info, rt);
  EXPECT_EQ(FromPayload<std::string>(MakeActivityFunction(CoroutineActivity)(ctx, ToPayloads(21))), "co=42");
  EXPECT_EQ(FromPayload<int>(MakeActivityFunction(PlainActivity)(ctx, ToPayloads(2, 3))), 5);
  auto lambda = [](ActivityContext& c) { return c.info().activity_type; };
  EXPECT_EQ(FromPayload<std::string>(MakeActivityFunction(lambda)(ctx, {})), "co");
}

TEST(Payloads, DecodeErrorNamesTheTypeReadably) {
  try {
    FromPayload<std::string>(ToPayload(42));
    FAIL() << "decoding a number as a string must throw";
  } catch (const PayloadError& e) {
    EXPECT_NE(std::string(e.what()).find("std::__cxx11::basic_string"), std::string::npos) << e.what();
  }
  EXPECT_EQ(FromPayload<std::optional<int>>(JsonPayload(nullptr)), std::nullopt);  // TS sends null as json
  EXPECT_EQ(FromPayload<std::optional<int>>(NullPayload()), std::nullopt);          // and undefined as binary/null
  EXPECT_EQ(FromPayload<Bytes>(ToPayload(Bytes{"\x01\x02"})).data, "\x01\x02");
}

}  // namespace
}  // namespace hourglass::sdk
