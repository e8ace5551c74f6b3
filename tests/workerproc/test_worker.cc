// hourglass-test-worker: a worker binary like a user's own, serving the
// samples plus workflows that exercise each context feature. Driven by
// worker_test.cc against the real bridge host and dev server.

#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "hourglass/activity.h"
#include "hourglass/worker.h"
#include "hourglass/workflow.h"

namespace testwf {

using namespace std::chrono_literals;
using hourglass::ActivityContext;
using hourglass::ActivityOptions;
using hourglass::Task;
using hourglass::WorkflowContext;

// --- Activities

// Heartbeats until cancelled, then reports the cancellation.
std::string UntilCancelled(ActivityContext& ctx) {
  for (int i = 0; i < 600; ++i) {
    ctx.Heartbeat(i);
    ctx.SleepFor(100ms);  // throws CancelledError once cancellation arrives
  }
  return "never cancelled";
}
HOURGLASS_ACTIVITY("t.until_cancelled", UntilCancelled);

// Writes its task token to `path` and leaves completion to someone else.
void CompleteLater(ActivityContext& ctx, std::string path) {
  std::ofstream(path, std::ios::binary) << ctx.info().task_token;
  ctx.CompleteAsync();
}
HOURGLASS_ACTIVITY("t.complete_later", CompleteLater);

std::string Echo(ActivityContext& ctx, std::string s) {
  return s + "@" + ctx.info().activity_type + "#" + std::to_string(ctx.info().attempt);
}
HOURGLASS_ACTIVITY("t.echo", Echo);

void ThrowsStd() { throw std::runtime_error("disk on fire"); }
HOURGLASS_ACTIVITY("t.throws_std", ThrowsStd);

// Process-isolated: crashes its process on attempts 1 and 2 (`how`: "segv",
// "abort" or "kill", the last standing in for the OOM killer), succeeds on 3.
std::string Crash(ActivityContext& ctx, std::string how) {
  if (ctx.info().attempt < 3) {
    // Default dispositions first: a sanitizer's handler must not turn the
    // signal into an ordinary exit.
    if (how == "segv") {
      std::signal(SIGSEGV, SIG_DFL);
      std::raise(SIGSEGV);
    } else if (how == "abort") {
      std::signal(SIGABRT, SIG_DFL);
      std::abort();
    } else {
      std::raise(SIGKILL);
    }
  }
  return "survived " + how + " on attempt " + std::to_string(ctx.info().attempt);
}
HOURGLASS_ACTIVITY("t.crash", Crash, {.isolation = hourglass::Isolation::kProcess});

// Process-isolated and slow: outlives a worker killed meanwhile.
std::string IsolatedSlow(ActivityContext& ctx, int64_t ms) {
  ctx.SleepFor(std::chrono::milliseconds(ms));
  return "slow done in pid " + std::to_string(::getpid());
}
HOURGLASS_ACTIVITY("t.isolated_slow", IsolatedSlow, {.isolation = hourglass::Isolation::kProcess});

// Process-isolated: starts a long sleep in the background (in its own
// process group, as a careless activity might) and returns at once, naming
// it. The attempt's end must take the sleep with it.
std::string LeavesChild() {
  const pid_t child = ::fork();
  if (child == 0) {
    ::execl("/bin/sleep", "sleep", "600", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return std::to_string(child);
}
HOURGLASS_ACTIVITY("t.leaves_child", LeavesChild, {.isolation = hourglass::Isolation::kProcess});

// --- Workflows

Task<std::string> Crashy(WorkflowContext& ctx, std::string how) {
  co_return co_await ctx.ExecuteActivity<std::string>(
      "t.crash",
      ActivityOptions().StartToCloseTimeout(20s).Retry(
          hourglass::RetryPolicy().InitialInterval(50ms).BackoffCoefficient(1.0).MaximumAttempts(
              5)),
      how);
}
HOURGLASS_WORKFLOW("t.Crashy", Crashy);

Task<std::string> Isolated(WorkflowContext& ctx, int64_t ms) {
  co_return co_await ctx.ExecuteActivity<std::string>(
      "t.isolated_slow", ActivityOptions().StartToCloseTimeout(30s), ms);
}
HOURGLASS_WORKFLOW("t.Isolated", Isolated);

Task<std::string> LeavesChildBehind(WorkflowContext& ctx) {
  co_return co_await ctx.ExecuteActivity<std::string>("t.leaves_child",
                                                      ActivityOptions().StartToCloseTimeout(30s));
}
HOURGLASS_WORKFLOW("t.LeavesChildBehind", LeavesChildBehind);

Task<std::vector<std::string>> SignalQuery(WorkflowContext& ctx) {
  // Query handlers may run after the coroutine returned (a query on a closed
  // run): what they read lives in a shared_ptr, not in coroutine locals.
  auto items = std::make_shared<std::vector<std::string>>();
  bool finished = false;
  ctx.SetSignalHandler("add", [items](std::string item) { items->push_back(item); });
  ctx.SetSignalHandler("finish", [&](const hourglass::Payloads&) { finished = true; });
  ctx.SetQueryHandler("items", [items]() { return *items; });
  co_await ctx.WaitCondition([&] { return finished; });
  co_return *items;
}
HOURGLASS_WORKFLOW("t.SignalQuery", SignalQuery);

// Cancels a scope holding a heartbeating activity and waits for the activity
// to acknowledge.
Task<std::string> CancelScope(WorkflowContext& ctx) {
  auto scope = ctx.NewScope();
  auto activity = ctx.ExecuteActivity<std::string>(
      "t.until_cancelled",
      ActivityOptions()
          .StartToCloseTimeout(60s)
          .HeartbeatTimeout(2s)
          .Cancellation(hourglass::ActivityCancellationType::kWaitCancellationCompleted)
          .Scope(scope));
  co_await ctx.Sleep(500ms);
  scope.Cancel();
  std::string outcome;
  try {
    outcome = co_await activity;
  } catch (const hourglass::ActivityError& e) {
    outcome = std::string("activity error; cancellation=") +
              (hourglass::IsCancellation(e) ? "yes" : "no");
  }
  co_return outcome + "; workflow cancel_requested=" + (ctx.cancel_requested() ? "yes" : "no");
}
HOURGLASS_WORKFLOW("t.CancelScope", CancelScope);

// Waits forever; when cancelled, runs a cleanup activity in a detached scope
// and reports the cancellation.
Task<void> WaitForever(WorkflowContext& ctx) {
  bool cancelled = false;
  try {
    co_await ctx.Sleep(24h);
  } catch (const hourglass::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    co_await ctx.ExecuteActivity<std::string>(
        "t.echo", ActivityOptions().StartToCloseTimeout(10s).Scope(ctx.NewDetachedScope()),
        std::string("cleanup"));
    throw hourglass::CancelledError("cancelled after cleanup");
  }
}
HOURGLASS_WORKFLOW("t.WaitForever", WaitForever);

Task<std::string> Child(WorkflowContext& ctx, std::string greeting) {
  std::string poke;
  ctx.SetSignalHandler("poke", [&](std::string s) { poke = s; });
  co_await ctx.WaitCondition([&] { return !poke.empty(); });
  co_return greeting + " " + poke + " from " + ctx.info().parent_workflow_id.value_or("?");
}
HOURGLASS_WORKFLOW("t.Child", Child);

Task<std::string> Parent(WorkflowContext& ctx) {
  auto child = co_await ctx.StartChildWorkflow(
      "t.Child", hourglass::ChildWorkflowOptions().WorkflowId(ctx.info().workflow_id + "-kid"),
      std::string("hi"));
  co_await ctx.SignalChildWorkflow(child, "poke", std::string("there"));
  co_return co_await child.Result<std::string>();
}
HOURGLASS_WORKFLOW("t.Parent", Parent);

Task<std::string> CancelOther(WorkflowContext& ctx, std::string target) {
  co_await ctx.CancelExternalWorkflow(target);
  co_await ctx.SignalExternalWorkflow(target + "-missing", "", "x");  // fails: no such workflow
  co_return "unreachable";
}
HOURGLASS_WORKFLOW("t.CancelOther", CancelOther);

Task<void> Fail(WorkflowContext&) {
  throw hourglass::ApplicationError(
      "card declined",
      {.type = "PaymentError", .non_retryable = true, .details = hourglass::ToPayloads(42)});
  co_return;
}
HOURGLASS_WORKFLOW("t.Fail", Fail);

Task<std::string> ActivityFailures(WorkflowContext& ctx) {
  std::string out;
  try {
    co_await ctx.ExecuteActivity<void>("timeout",
                                       ActivityOptions().StartToCloseTimeout(300ms).Retry(
                                           hourglass::RetryPolicy().MaximumAttempts(1)),
                                       int64_t{1500});
  } catch (const hourglass::ActivityError& e) {
    auto* t = dynamic_cast<const hourglass::TimeoutError*>(e.cause().get());
    out += t && t->timeout_type() == hourglass::TimeoutType::kStartToClose
               ? "timeout:START_TO_CLOSE"
               : "timeout:?";
  }
  try {
    co_await ctx.ExecuteActivity<void>("t.throws_std",
                                       ActivityOptions().StartToCloseTimeout(5s).Retry(
                                           hourglass::RetryPolicy().MaximumAttempts(2)));
  } catch (const hourglass::ActivityError& e) {
    auto* app = dynamic_cast<const hourglass::ApplicationError*>(e.cause().get());
    out += app ? "; " + app->type() + ": " + app->message() : "; ?";
  }
  out += "; retried=" +
         std::to_string(co_await ctx.ExecuteActivity<int>(
             "retryable_error",
             ActivityOptions().StartToCloseTimeout(5s).Retry(
                 hourglass::RetryPolicy().InitialInterval(50ms).BackoffCoefficient(1.0)),
             2));
  co_return out;
}
HOURGLASS_WORKFLOW("t.ActivityFailures", ActivityFailures);

Task<std::string> AsyncActivity(WorkflowContext& ctx, std::string token_path) {
  co_return co_await ctx.ExecuteActivity<std::string>(
      "t.complete_later", ActivityOptions().StartToCloseTimeout(30s), token_path);
}
HOURGLASS_WORKFLOW("t.AsyncActivity", AsyncActivity);

// Blocks its evaluator thread: a deadlock the worker must report.
Task<void> Deadlock(WorkflowContext&, int64_t block_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(block_ms));
  co_return;
}
HOURGLASS_WORKFLOW("t.Deadlock", Deadlock);

// Visible side effects: memo and search attributes, random values, a patch.
Task<nlohmann::json> Properties(WorkflowContext& ctx) {
  ctx.UpsertMemo({{"stage", "upserted"}});
  const bool patched = ctx.Patched("p1");
  co_await ctx.Sleep(10ms);
  co_return nlohmann::json{{"patched", patched},
                           {"uuid", ctx.NewUuid()},
                           {"memo_seen", ctx.info().memo.contains("stage")}};
}
HOURGLASS_WORKFLOW("t.Properties", Properties);

// Code that changes with HG_TEST_VARIANT: variant 2 schedules an activity
// where variant 1 started a timer. Run with no cache so each task replays.
Task<void> Versioned(WorkflowContext& ctx) {
  const char* v = std::getenv("HG_TEST_VARIANT");
  if (v != nullptr && std::string(v) == "2") {
    co_await ctx.ExecuteActivity<std::string>("t.echo", ActivityOptions().StartToCloseTimeout(5s),
                                              std::string("x"));
  } else {
    co_await ctx.Sleep(1ms);
  }
  bool go = false;
  ctx.SetSignalHandler("go", [&](const hourglass::Payloads&) { go = true; });
  co_await ctx.WaitCondition([&] { return go; });
}
HOURGLASS_WORKFLOW("t.Versioned", Versioned);

}  // namespace testwf

int main(int argc, char** argv) { return hourglass::RunWorker(argc, argv); }
