// The kitchen-sink workload, modelled on Temporal's omes `kitchenSink`: one
// workflow whose input is a list of actions, so tests and benchmarks can ask
// for any mix of timers, activities, signals, children and continue-as-new
// without new code. docs/user-guide.md ("The kitchen sink") lists the actions.
//
//   {"actions": [{"activity": "noop"}, {"timer": 100}, {"signal": "go"},
//                {"concurrent": [{"activity": "delay", "args": [50]}, {"timer": 10}]},
//                {"child": {"actions": [{"activity": "noop"}]}},
//                {"return": {"ok": true}}]}

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "hourglass/activity.h"
#include "hourglass/workflow.h"

namespace samples {

using hourglass::ActivityContext;
using hourglass::Task;
using hourglass::WorkflowContext;
using json = nlohmann::json;
using std::chrono::milliseconds;

// --- Activities ----------------------------------------------------------------

void Noop() {}
HOURGLASS_ACTIVITY("noop", Noop);

// Sleeps `ms`, returning early (cancelled) if cancellation arrives.
void Delay(ActivityContext& ctx, int64_t ms) { ctx.SleepFor(milliseconds(ms)); }
HOURGLASS_ACTIVITY("delay", Delay);

// Returns `size` bytes (binary/plain).
hourglass::Bytes Payload(int64_t size) { return hourglass::Bytes{std::string(static_cast<size_t>(size), 'x')}; }
HOURGLASS_ACTIVITY("payload", Payload);

// Fails (retryably) until attempt `fail_attempts` + 1, then returns the attempt.
uint32_t RetryableError(ActivityContext& ctx, uint32_t fail_attempts) {
  if (ctx.info().attempt <= fail_attempts) {
    throw hourglass::ApplicationError("attempt " + std::to_string(ctx.info().attempt) + " fails on purpose",
                                      {.type = "RetryableError", .details = hourglass::ToPayloads(ctx.info().attempt)});
  }
  return ctx.info().attempt;
}
HOURGLASS_ACTIVITY("retryable_error", RetryableError);

// Sleeps `ms` ignoring cancellation: for start-to-close timeouts.
void Timeout(int64_t ms) { std::this_thread::sleep_for(milliseconds(ms)); }
HOURGLASS_ACTIVITY("timeout", Timeout);

// Heartbeats `count` times, `interval_ms` apart, resuming after the last
// heartbeat a previous attempt recorded; returns the count reached.
int64_t Heartbeat(ActivityContext& ctx, int64_t count, int64_t interval_ms) {
  int64_t i = ctx.LastHeartbeatDetails<int64_t>().value_or(0);
  for (; i < count; ++i) {
    ctx.Heartbeat(i + 1);
    ctx.SleepFor(milliseconds(interval_ms));
  }
  return i;
}
HOURGLASS_ACTIVITY("heartbeat", Heartbeat);

// --- The workflow ---------------------------------------------------------------

struct SinkState {
  std::map<std::string, int> signals;  // name -> received, not yet consumed
};

Task<json> RunActions(WorkflowContext& ctx, std::shared_ptr<SinkState> state, json actions);

hourglass::ActivityOptions OptionsFor(const json& a) {
  auto o = hourglass::ActivityOptions().StartToCloseTimeout(milliseconds(a.value("start_to_close_ms", 10000)));
  if (a.contains("heartbeat_timeout_ms")) o.HeartbeatTimeout(milliseconds(a["heartbeat_timeout_ms"].get<int64_t>()));
  if (a.contains("schedule_to_close_ms")) o.ScheduleToCloseTimeout(milliseconds(a["schedule_to_close_ms"].get<int64_t>()));
  if (a.contains("retry")) {
    const json& r = a["retry"];
    o.Retry(hourglass::RetryPolicy()
                .MaximumAttempts(r.value("max_attempts", 0))
                .InitialInterval(milliseconds(r.value("initial_ms", 100)))
                .BackoffCoefficient(r.value("backoff", 1.0)));
  }
  return o;
}

// One action; returns a value when the action ends the workflow ("return").
Task<std::optional<json>> RunAction(WorkflowContext& ctx, std::shared_ptr<SinkState> state, json a) {
  if (a.contains("timer")) {
    co_await ctx.Sleep(milliseconds(a["timer"].get<int64_t>()));
  } else if (a.contains("activity")) {
    hourglass::Payloads args;
    for (const auto& arg : a.value("args", json::array())) args.push_back(hourglass::JsonPayload(arg));
    // Arguments are already payloads: pass them through as one each.
    auto f = [&]() {
      switch (args.size()) {
        case 0: return ctx.ExecuteActivity<hourglass::Payload>(a["activity"], OptionsFor(a));
        case 1: return ctx.ExecuteActivity<hourglass::Payload>(a["activity"], OptionsFor(a), args[0]);
        default: return ctx.ExecuteActivity<hourglass::Payload>(a["activity"], OptionsFor(a), args[0], args[1]);
      }
    }();
    co_await f;
  } else if (a.contains("signal")) {
    const std::string name = a["signal"];
    // Declared apart from the co_await: GCC 12 double-frees a capturing
    // lambda temporary inside a co_await expression (docs/user-guide.md).
    auto received = [state, name] { return state->signals[name] > 0; };
    co_await ctx.WaitCondition(received);
    --state->signals[name];
  } else if (a.contains("child")) {
    co_await ctx.ExecuteChildWorkflow<json>("KitchenSink", hourglass::ChildWorkflowOptions(), a["child"]);
  } else if (a.contains("concurrent")) {
    auto left = std::make_shared<int>(static_cast<int>(a["concurrent"].size()));
    for (const auto& sub : a["concurrent"]) {
      ctx.Spawn([](WorkflowContext& c, std::shared_ptr<SinkState> s, json one, std::shared_ptr<int> n) -> Task<void> {
        co_await RunAction(c, s, one);
        --*n;
      }(ctx, state, sub, left));
    }
    auto all_done = [left] { return *left == 0; };
    co_await ctx.WaitCondition(all_done);
  } else if (a.contains("patch")) {
    ctx.Patched(a["patch"].get<std::string>());
  } else if (a.contains("upsert_memo")) {
    ctx.UpsertMemo(a["upsert_memo"].get<std::map<std::string, json>>());
  } else if (a.contains("continue_as_new")) {
    ctx.ContinueAsNew(hourglass::ContinueAsNewOptions(), a["continue_as_new"]);
  } else if (a.contains("fail")) {
    const json& f = a["fail"];
    throw hourglass::ApplicationError(f.value("message", "failed on purpose"),
                                      {.type = f.value("type", "KitchenSinkFailure"),
                                       .non_retryable = f.value("non_retryable", true)});
  } else if (a.contains("return")) {
    co_return a["return"];
  } else {
    throw hourglass::ApplicationError("unknown kitchen-sink action: " + a.dump(),
                                      {.type = "InvalidAction", .non_retryable = true});
  }
  co_return std::nullopt;
}

Task<json> RunActions(WorkflowContext& ctx, std::shared_ptr<SinkState> state, json actions) {
  for (const auto& a : actions) {
    if (auto result = co_await RunAction(ctx, state, a)) co_return *result;
  }
  co_return nullptr;
}

Task<json> KitchenSink(WorkflowContext& ctx, json input) {
  auto state = std::make_shared<SinkState>();
  for (const auto& name : input.value("signals", json::array())) {
    ctx.SetSignalHandler(name.get<std::string>(), [state, n = name.get<std::string>()](const hourglass::Payloads&) {
      ++state->signals[n];
    });
  }
  ctx.SetQueryHandler("signals_pending", [state]() {
    int total = 0;
    for (const auto& [_, n] : state->signals) total += n;
    return total;
  });
  co_return co_await RunActions(ctx, state, input.value("actions", json::array()));
}
HOURGLASS_WORKFLOW("KitchenSink", KitchenSink);

}  // namespace samples
