// hourglass-cross-sdk-worker: the C++ half of the cross-SDK conformance suite
// (tests/conformance/cross_sdk.test.js). A worker binary built the way a
// user builds theirs; its workflows and activities talk to the official
// TypeScript SDK's client, workflows and activities through Temporal only:
//
//   TS client    -> cpp.Echo, cpp.Bytes, cpp.BytesIn, cpp.Nothing, cpp.Maybe,
//                   cpp.Fail, cpp.SignalQuery, cpp.WaitForCancel
//   TS workflow  -> cpp.compose, cpp.fail, cpp.heartbeat_until_cancelled,
//                   cpp.bytes, cpp.bytes_length, cpp.nothing; cpp.Echo and
//                   cpp.Fail as child workflows
//   C++ workflow -> TS activities (cpp.CallTs, cpp.CancelTsActivity) and TS
//                   child workflows (cpp.ChildTs, cpp.CancelTsChild)
//
// The C++ workflows that call TypeScript report what they observed (results,
// failure classes and fields, cancellation details) as their JSON result, so
// the Node test asserts the C++ side's view with the TS client.
//
//   hourglass-cross-sdk-worker --bridge-socket PATH --task-queue QUEUE

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hourglass/activity.h"
#include "hourglass/worker.h"
#include "hourglass/workflow.h"

namespace cross_sdk {

using namespace std::chrono_literals;
using hourglass::ActivityContext;
using hourglass::ActivityOptions;
using hourglass::ChildWorkflowOptions;
using hourglass::RetryPolicy;
using hourglass::Task;
using hourglass::WorkflowContext;
using json = nlohmann::json;

// --- Types shared with the TypeScript side (plain JSON objects there) --------

// Decoded from and encoded to json/plain through nlohmann's hooks: a missing
// field in what TypeScript sends is a decode error, an extra one is ignored.
struct Order {
  std::string id;
  int64_t quantity = 0;
  double unit_price = 0;
  std::vector<std::string> tags;
  json notes;  // anything: nested objects, null, unicode
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(Order, id, quantity, unit_price, tags, notes)

struct EchoReply {
  Order order;
  std::string handled_by;
  double total = 0;
  std::string workflow_id;
  std::string workflow_type;
  std::string task_queue;
  std::string parent_workflow_id;  // "" when started by a client
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(EchoReply, order, handled_by, total, workflow_id, workflow_type, task_queue,
                                   parent_workflow_id)

struct ComposeReply {
  Order order;
  std::string composed_by;
  std::string activity_type;
  std::string workflow_type;
  std::string workflow_id;
  std::string task_queue;
  uint32_t attempt = 0;
};
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(ComposeReply, order, composed_by, activity_type, workflow_type, workflow_id,
                                   task_queue, attempt)

// --- Helpers -------------------------------------------------------------------

// Payloads as JSON where they are JSON (or null), else a description.
json DetailsJson(const hourglass::Payloads& details) {
  json out = json::array();
  for (const auto& p : details) {
    try {
      out.push_back(hourglass::PayloadToJson(p));
    } catch (const hourglass::PayloadError&) {
      out.push_back(hourglass::DescribePayload(p));
    }
  }
  return out;
}

std::string Hex(const std::string& bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// What a failure looks like from C++: its class, message, and the fields of
// its kind; the cause chain below it, recursively.
json Describe(const hourglass::Failure& f) {
  json out{{"message", f.message()}, {"has_stack_trace", !f.stack_trace().empty()}};
  if (const auto* app = dynamic_cast<const hourglass::ApplicationError*>(&f)) {
    out["class"] = "ApplicationError";
    out["type"] = app->type();
    out["non_retryable"] = app->non_retryable();
    out["details"] = DetailsJson(app->details());
  } else if (const auto* c = dynamic_cast<const hourglass::CancelledError*>(&f)) {
    out["class"] = "CancelledError";
    out["details"] = DetailsJson(c->details());
  } else if (const auto* a = dynamic_cast<const hourglass::ActivityError*>(&f)) {
    out["class"] = "ActivityError";
    out["activity_type"] = a->info().activity_type;
    out["activity_id"] = a->info().activity_id;
    out["retry_state"] = a->info().retry_state;
  } else if (const auto* ch = dynamic_cast<const hourglass::ChildWorkflowError*>(&f)) {
    out["class"] = "ChildWorkflowError";
    out["workflow_type"] = ch->info().workflow_type;
    out["workflow_id"] = ch->info().workflow_id;
    out["namespace"] = ch->info().namespace_name;
    out["retry_state"] = ch->info().retry_state;
  } else if (dynamic_cast<const hourglass::TimeoutError*>(&f) != nullptr) {
    out["class"] = "TimeoutError";
  } else if (dynamic_cast<const hourglass::TerminatedError*>(&f) != nullptr) {
    out["class"] = "TerminatedError";
  } else {
    out["class"] = "Failure";
  }
  if (f.cause()) out["cause"] = Describe(*f.cause());
  return out;
}

ActivityOptions TsActivity(const std::string& ts_queue) {
  return ActivityOptions().TaskQueue(ts_queue).StartToCloseTimeout(10s).Retry(RetryPolicy().MaximumAttempts(1));
}

// --- Workflows the TypeScript client starts --------------------------------------

// Structured JSON in, the same plus fields out: nlohmann's hooks both ways.
Task<EchoReply> Echo(WorkflowContext& ctx, Order order) {
  EchoReply reply;
  reply.total = static_cast<double>(order.quantity) * order.unit_price;
  reply.order = std::move(order);
  reply.order.tags.push_back("seen-by-cpp");
  reply.handled_by = "hourglass-cpp";
  reply.workflow_id = ctx.info().workflow_id;
  reply.workflow_type = ctx.info().workflow_type;
  reply.task_queue = ctx.info().task_queue;
  reply.parent_workflow_id = ctx.info().parent_workflow_id.value_or("");
  co_return reply;
}
HOURGLASS_WORKFLOW("cpp.Echo", Echo);

// Every byte value, as binary/plain (a Uint8Array in TypeScript).
Task<hourglass::Bytes> BytesWorkflow(WorkflowContext&, int64_t size) {
  hourglass::Bytes out;
  for (int64_t i = 0; i < size; ++i) out.data.push_back(static_cast<char>(i % 256));
  co_return out;
}
HOURGLASS_WORKFLOW("cpp.Bytes", BytesWorkflow);

// A Uint8Array argument arrives as hourglass::Bytes.
Task<json> BytesIn(WorkflowContext&, hourglass::Bytes bytes) {
  int64_t sum = 0;
  for (unsigned char c : bytes.data) sum += c;
  co_return json{{"length", bytes.data.size()}, {"sum", sum}, {"hex", Hex(bytes.data)}};
}
HOURGLASS_WORKFLOW("cpp.BytesIn", BytesIn);

// void: binary/null, which TypeScript decodes as undefined.
Task<void> NothingWorkflow(WorkflowContext&) { co_return; }
HOURGLASS_WORKFLOW("cpp.Nothing", NothingWorkflow);

// An optional argument: undefined (binary/null) and null (json/plain "null")
// are both "no value"; the result is the value, or binary/null.
Task<std::optional<std::string>> Maybe(WorkflowContext&, std::optional<std::string> value) {
  if (value) co_return "got " + *value;
  co_return std::nullopt;
}
HOURGLASS_WORKFLOW("cpp.Maybe", Maybe);

// Fails the workflow execution with everything an ApplicationFailure carries.
Task<void> Fail(WorkflowContext& ctx, std::string message) {
  throw hourglass::ApplicationError(
      message, {.type = "CppPaymentError",
                .non_retryable = true,
                .details = hourglass::ToPayloads(json{{"order", "o-1"}, {"reason", "card declined"}}, int64_t{42},
                                                 std::string("third detail"))});
  co_return;
}
HOURGLASS_WORKFLOW("cpp.Fail", Fail);

// Signals with structured arguments and queries with arguments, from TS.
Task<json> SignalQuery(WorkflowContext& ctx) {
  std::vector<Order> orders;
  std::optional<std::string> finish_note;
  ctx.SetSignalHandler("add", [&](Order o) { orders.push_back(std::move(o)); });
  ctx.SetSignalHandler("finish", [&](std::string note) { finish_note = std::move(note); });
  ctx.SetQueryHandler("orders", [&]() { return orders; });
  ctx.SetQueryHandler("quantity_of", [&](std::string id) {
    int64_t total = 0;
    for (const auto& o : orders) {
      if (o.id == id) total += o.quantity;
    }
    return total;
  });
  auto finished = [&] { return finish_note.has_value(); };
  co_await ctx.WaitCondition(finished);
  int64_t quantity = 0;
  for (const auto& o : orders) quantity += o.quantity;
  co_return json{{"orders", orders.size()}, {"quantity", quantity}, {"note", *finish_note}};
}
HOURGLASS_WORKFLOW("cpp.SignalQuery", SignalQuery);

// Waits until cancelled by the client; then runs a short cleanup timer in a
// detached scope (visible in the history) and ends cancelled.
Task<void> WaitForCancel(WorkflowContext& ctx) {
  bool cancelled = false;
  try {
    co_await ctx.Sleep(24h);
  } catch (const hourglass::CancelledError&) {
    cancelled = true;
  }
  if (cancelled) {
    auto cleanup = ctx.NewDetachedScope();
    co_await ctx.Sleep(10ms, cleanup);
    throw hourglass::CancelledError("cpp workflow saw the cancel request");
  }
}
HOURGLASS_WORKFLOW("cpp.WaitForCancel", WaitForCancel);

// --- Workflows that call TypeScript -------------------------------------------------

// TS activities on the TS worker's queue: results, bytes both ways, failures.
Task<json> CallTs(WorkflowContext& ctx, std::string ts_queue) {
  json report;
  Order order;
  order.id = "o-ts";
  order.quantity = 3;
  order.unit_price = 2.5;
  order.tags = {"from-cpp"};
  order.notes = json{{"gift", true}, {"message", "héllo ✓"}};
  const ActivityOptions options = TsActivity(ts_queue);

  report["compose"] = co_await ctx.ExecuteActivity<json>("ts.compose", options, order);

  const int64_t size = 16;
  hourglass::Bytes from_ts = co_await ctx.ExecuteActivity<hourglass::Bytes>("ts.bytes", options, size);
  report["bytes_hex"] = Hex(from_ts.data);

  const hourglass::Bytes to_ts{std::string("\x00\x01\x7f\x80\xff", 5)};
  report["bytes_to_ts"] = co_await ctx.ExecuteActivity<json>("ts.bytes_length", options, to_ts);

  report["nothing"] = co_await ctx.ExecuteActivity<json>("ts.nothing", options);

  try {
    const std::string why = "quantity must be positive";
    const bool non_retryable = true;
    const ActivityOptions three = TsActivity(ts_queue).Retry(RetryPolicy().MaximumAttempts(3));
    co_await ctx.ExecuteActivity<void>("ts.fail", three, why, non_retryable);
    report["fail_non_retryable"] = "no error";
  } catch (const hourglass::ActivityError& e) {
    report["fail_non_retryable"] = Describe(e);
  }

  try {
    const std::string why = "flaky";
    const bool non_retryable = false;
    const ActivityOptions two =
        TsActivity(ts_queue).Retry(RetryPolicy().MaximumAttempts(2).InitialInterval(100ms).BackoffCoefficient(1.0));
    co_await ctx.ExecuteActivity<void>("ts.fail", two, why, non_retryable);
    report["fail_retryable"] = "no error";
  } catch (const hourglass::ActivityError& e) {
    report["fail_retryable"] = Describe(e);
  }
  co_return report;
}
HOURGLASS_WORKFLOW("cpp.CallTs", CallTs);

// Cancels a heartbeating TS activity through a scope and waits for the
// activity to acknowledge (it throws CancelledFailure with details). The TS
// activity signals "ts_heartbeating" once it has heartbeated a few times.
Task<json> CancelTsActivity(WorkflowContext& ctx, std::string ts_queue) {
  json report;
  bool heartbeating = false;
  ctx.SetSignalHandler("ts_heartbeating", [&](int64_t beats) {
    heartbeating = true;
    report["signalled_after_beats"] = beats;
  });
  auto scope = ctx.NewScope();
  const ActivityOptions options =
      ActivityOptions()
          .TaskQueue(ts_queue)
          .StartToCloseTimeout(60s)
          .HeartbeatTimeout(2s)
          .Retry(RetryPolicy().MaximumAttempts(1))
          .Cancellation(hourglass::ActivityCancellationType::kWaitCancellationCompleted)
          .Scope(scope);
  const std::string workflow_id = ctx.info().workflow_id;
  auto activity = ctx.ExecuteActivity<std::string>("ts.heartbeat_until_cancelled", options, workflow_id);
  auto ready = [&] { return heartbeating; };
  co_await ctx.WaitCondition(ready);
  scope.Cancel();
  try {
    report["result"] = co_await activity;
  } catch (const hourglass::ActivityError& e) {
    report["error"] = Describe(e);
    report["is_cancellation"] = hourglass::IsCancellation(e);
  }
  report["workflow_cancel_requested"] = ctx.cancel_requested();
  co_return report;
}
HOURGLASS_WORKFLOW("cpp.CancelTsActivity", CancelTsActivity);

// A TS child on the TS queue that returns a value, then one that fails.
Task<json> ChildTs(WorkflowContext& ctx, std::string ts_queue) {
  json report;
  Order order;
  order.id = "o-child";
  order.quantity = 2;
  order.unit_price = 10;
  order.tags = {"child"};
  order.notes = nullptr;
  const std::string greet_id = ctx.info().workflow_id + "-greet";
  const ChildWorkflowOptions greet = ChildWorkflowOptions().TaskQueue(ts_queue).WorkflowId(greet_id);
  report["greet"] = co_await ctx.ExecuteChildWorkflow<json>("tsChildGreet", greet, order);

  try {
    const std::string fail_id = ctx.info().workflow_id + "-fail";
    const ChildWorkflowOptions fail = ChildWorkflowOptions().TaskQueue(ts_queue).WorkflowId(fail_id);
    const std::string why = "out of stock";
    co_await ctx.ExecuteChildWorkflow<json>("tsChildFail", fail, why);
    report["fail"] = "no error";
  } catch (const hourglass::ChildWorkflowError& e) {
    report["fail"] = Describe(e);
  }
  co_return report;
}
HOURGLASS_WORKFLOW("cpp.ChildTs", ChildTs);

// Starts a TS child that waits forever, then cancels it through its scope
// (kWaitCancellationCompleted: the parent waits until the child has ended).
Task<json> CancelTsChild(WorkflowContext& ctx, std::string ts_queue) {
  json report;
  auto scope = ctx.NewScope();
  const std::string child_id = ctx.info().workflow_id + "-waiter";
  const ChildWorkflowOptions options =
      ChildWorkflowOptions()
          .TaskQueue(ts_queue)
          .WorkflowId(child_id)
          .Cancellation(hourglass::ChildWorkflowCancellationType::kWaitCancellationCompleted)
          .Scope(scope);
  hourglass::ChildWorkflowHandle child = co_await ctx.StartChildWorkflow("tsChildWaitCancel", options);
  report["child_workflow_id"] = child.workflow_id();
  report["child_run_id_set"] = !child.run_id().empty();
  scope.Cancel();
  try {
    report["result"] = co_await child.Result<json>();
  } catch (const hourglass::ChildWorkflowError& e) {
    report["error"] = Describe(e);
    report["is_cancellation"] = hourglass::IsCancellation(e);
  }
  co_return report;
}
HOURGLASS_WORKFLOW("cpp.CancelTsChild", CancelTsChild);

// --- Activities TypeScript workflows call ------------------------------------------

ComposeReply Compose(ActivityContext& ctx, Order order) {
  ComposeReply reply;
  order.quantity *= 2;
  reply.order = std::move(order);
  reply.composed_by = "hourglass-cpp";
  reply.activity_type = ctx.info().activity_type;
  reply.workflow_type = ctx.info().workflow_type;
  reply.workflow_id = ctx.info().workflow_id;
  reply.task_queue = ctx.info().task_queue;
  reply.attempt = ctx.info().attempt;
  return reply;
}
HOURGLASS_ACTIVITY("cpp.compose", Compose);

void FailActivity(ActivityContext& ctx, std::string message, bool non_retryable) {
  const uint32_t attempt = ctx.info().attempt;
  throw hourglass::ApplicationError(
      message + " (attempt " + std::to_string(attempt) + ")",
      {.type = "CppActivityError",
       .non_retryable = non_retryable,
       .details = hourglass::ToPayloads(json{{"attempt", attempt}, {"sku", "x-1"}}, std::string("second detail"))});
}
HOURGLASS_ACTIVITY("cpp.fail", FailActivity);

// Heartbeats {"beats": n} every `interval_ms` until cancelled; then ends as
// cancelled, with the last heartbeat and the cancel reason as details.
std::string HeartbeatUntilCancelled(ActivityContext& ctx, int64_t interval_ms) {
  int64_t beats = 0;
  try {
    for (; beats < 100000; ++beats) {
      ctx.Heartbeat(json{{"beats", beats}});
      ctx.SleepFor(std::chrono::milliseconds(interval_ms));  // throws CancelledError on cancellation
    }
  } catch (const hourglass::CancelledError&) {
    const bool cancelled = ctx.cancel_reason() == hourglass::ActivityCancelReason::kCancelled;
    throw hourglass::CancelledError("cpp activity cancelled after " + std::to_string(beats) + " heartbeats",
                                    hourglass::ToPayloads(json{{"beats", beats}},
                                                          std::string(cancelled ? "CANCELLED" : "OTHER")));
  }
  return "never cancelled";
}
HOURGLASS_ACTIVITY("cpp.heartbeat_until_cancelled", HeartbeatUntilCancelled);

hourglass::Bytes BytesActivity(int64_t size) {
  std::string data;
  for (int64_t i = 0; i < size; ++i) data.push_back(static_cast<char>(255 - (i % 256)));
  return hourglass::Bytes{std::move(data)};
}
HOURGLASS_ACTIVITY("cpp.bytes", BytesActivity);

json BytesLength(hourglass::Bytes bytes) {
  int64_t sum = 0;
  for (unsigned char c : bytes.data) sum += c;
  return json{{"length", bytes.data.size()}, {"sum", sum}, {"hex", Hex(bytes.data)}};
}
HOURGLASS_ACTIVITY("cpp.bytes_length", BytesLength);

void NothingActivity() {}
HOURGLASS_ACTIVITY("cpp.nothing", NothingActivity);

}  // namespace cross_sdk

int main(int argc, char** argv) { return hourglass::RunWorker(argc, argv); }
