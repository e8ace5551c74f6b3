// The user guide's workflows (docs/user-guide.md, "Writing workflows"). The
// guide shows the regions between [START name] and [END name] verbatim; the
// user_guide_doc test checks that, and user_guide_test runs some of them.

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <hourglass/activity.h>
#include <hourglass/workflow.h>

#include "shop.h"

namespace shop {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;

// [START determinism]
// Time, randomness and ids come from the context: the same values on every
// replay. std::chrono::system_clock::now(), rand() or a UUID library would
// give a replay different answers than the first run got.
hourglass::Task<nlohmann::json> Raffle(hourglass::WorkflowContext& ctx, std::vector<std::string> entrants) {
  if (entrants.empty()) {
    throw hourglass::ApplicationError("a raffle needs entrants", {.type = "NoEntrants", .non_retryable = true});
  }
  const auto drawn_at = ctx.Now();  // the time of the workflow task being processed
  const std::string winner = entrants[ctx.Random() % entrants.size()];
  co_return nlohmann::json{{"winner", winner},
                           {"ticket", ctx.NewUuid()},
                           {"drawn_at", std::chrono::system_clock::to_time_t(drawn_at)}};
}
HOURGLASS_WORKFLOW("Raffle", Raffle);
// [END determinism]

// [START sleep]
// Sleep starts a durable timer on the server: a worker that restarts in the
// meantime does not restart the wait.
hourglass::Task<void> RemindLater(hourglass::WorkflowContext& ctx, std::string customer, int64_t delay_seconds) {
  co_await ctx.Sleep(seconds(delay_seconds));
  co_await ctx.ExecuteActivity<void>("send_email", hourglass::ActivityOptions().StartToCloseTimeout(seconds(30)),
                                     customer, std::string("Your basket misses you"));
}
HOURGLASS_WORKFLOW("RemindLater", RemindLater);
// [END sleep]

// [START activity-options]
// Activity options are a builder: each setter returns the options. One of
// the start-to-close and schedule-to-close timeouts is required.
hourglass::ActivityOptions PaymentOptions() {
  return hourglass::ActivityOptions()
      .StartToCloseTimeout(seconds(30))     // one attempt
      .ScheduleToCloseTimeout(minutes(10))  // all attempts together
      .Retry(hourglass::RetryPolicy()
                 .InitialInterval(seconds(1))
                 .BackoffCoefficient(2.0)
                 .MaximumInterval(minutes(1))
                 .MaximumAttempts(5)
                 .NonRetryableErrorTypes({"InvalidOrder", "CardDeclined"}));
}

// For quick activities: ten seconds an attempt, the server's retry policy.
hourglass::ActivityOptions QuickOptions() { return hourglass::ActivityOptions().StartToCloseTimeout(seconds(10)); }
// [END activity-options]

// [START process-order]
hourglass::Task<Receipt> ProcessOrder(hourglass::WorkflowContext& ctx, Order order) {
  // ExecuteActivity<R> schedules the activity and returns a Future<R>;
  // co_await waits for it and decodes the result as R.
  const std::string charge_id = co_await ctx.ExecuteActivity<std::string>("charge", PaymentOptions(), order);

  // co_await is not allowed in a catch block (a C++ rule): remember the
  // failure, and compensate after the try statement.
  std::optional<hourglass::ActivityError> shipping_failure;
  std::string tracking_number;
  try {
    tracking_number = co_await ctx.ExecuteActivity<std::string>("ship", QuickOptions(), order);
  } catch (const hourglass::ActivityError& e) {
    shipping_failure = e;
  }
  if (shipping_failure) {
    co_await ctx.ExecuteActivity<void>("refund", PaymentOptions(), charge_id);
    // A hourglass::Failure thrown out of a workflow fails the workflow.
    throw hourglass::ApplicationError("order " + order.id + " could not be shipped",
                                      {.type = "ShippingFailed", .cause = shipping_failure->Clone()});
  }
  Receipt receipt;
  receipt.order_id = order.id;
  receipt.charge_id = charge_id;
  receipt.tracking_number = tracking_number;
  co_return receipt;
}
HOURGLASS_WORKFLOW("ProcessOrder", ProcessOrder);
// [END process-order]

// [START parallel]
// Activities start when they are called, not when they are awaited: these
// three quotes are requested at the same time.
hourglass::Task<int64_t> CheapestShipping(hourglass::WorkflowContext& ctx, Order order) {
  auto a = ctx.ExecuteActivity<int64_t>("quote", QuickOptions(), std::string("tortoise-express"), order);
  auto b = ctx.ExecuteActivity<int64_t>("quote", QuickOptions(), std::string("hare-logistics"), order);
  auto c = ctx.ExecuteActivity<int64_t>("quote", QuickOptions(), std::string("owl-post"), order);
  co_await hourglass::WhenAll(a, b, c);  // all three are done (each succeeded or failed)
  const int64_t cheapest = std::min(co_await a, co_await b);
  co_return std::min(cheapest, co_await c);
}
HOURGLASS_WORKFLOW("CheapestShipping", CheapestShipping);
// [END parallel]

// [START children]
// One child workflow per order. A child has its own history, retries and
// timeouts; the parent waits for results (or failures) as for activities.
hourglass::Task<std::vector<Receipt>> ProcessBatch(hourglass::WorkflowContext& ctx, std::vector<Order> orders) {
  std::vector<hourglass::ChildWorkflowHandle> children;
  for (const Order& order : orders) {
    auto options = hourglass::ChildWorkflowOptions()
                       .WorkflowId(ctx.info().workflow_id + "/" + order.id)  // unique, and readable
                       .ParentClose(hourglass::ParentClosePolicy::kRequestCancel);
    // Resolves once the child has started; its result comes later.
    children.push_back(co_await ctx.StartChildWorkflow("ProcessOrder", options, order));
  }
  std::vector<Receipt> receipts;
  for (const hourglass::ChildWorkflowHandle& child : children) {
    receipts.push_back(co_await child.Result<Receipt>());  // a ChildWorkflowError if it failed
  }
  co_return receipts;
}
HOURGLASS_WORKFLOW("ProcessBatch", ProcessBatch);
// [END children]

// [START signals]
// Sends a reminder every day, for as long as the run that spawned it lasts.
hourglass::Task<void> RemindDaily(hourglass::WorkflowContext& ctx, std::string customer) {
  for (;;) {
    co_await ctx.Sleep(hours(24));
    co_await ctx.ExecuteActivity<void>("send_email", QuickOptions(), customer, std::string("Please approve"));
  }
}

// Waits up to three days for someone to approve or reject an order (two
// signals), and answers the "status" query meanwhile.
struct Approval {
  std::string status = "waiting for approval";
  std::optional<bool> approved;
};

hourglass::Task<std::string> ApproveOrder(hourglass::WorkflowContext& ctx, Order order) {
  // The handlers share the state through a shared_ptr: a query can arrive
  // after the coroutine has returned and its locals are gone.
  auto approval = std::make_shared<Approval>();
  // Handler parameters are decoded from the signal's arguments. Signals that
  // arrive before a handler is set are delivered once it is.
  ctx.SetSignalHandler("approve", [approval](std::string who) {
    approval->approved = true;
    approval->status = "approved by " + who;
  });
  ctx.SetSignalHandler("reject", [approval](std::string who, std::string reason) {
    approval->approved = false;
    approval->status = "rejected by " + who + ": " + reason;
  });
  // Queries read state; they must not change it or start anything.
  ctx.SetQueryHandler("status", [approval]() { return approval->status; });

  ctx.Spawn(RemindDaily(ctx, order.customer));  // runs alongside, ends with the run

  const auto decided = [approval] { return approval->approved.has_value(); };
  const bool in_time = co_await ctx.WaitCondition(decided, hours(72));
  if (!in_time) approval->status = "expired";
  co_return approval->status;
}
HOURGLASS_WORKFLOW("ApproveOrder", ApproveOrder);
// [END signals]

// [START scopes]
// Waits for a parcel to be picked up, but no longer than `patience_s`: the
// timer and the activity share a scope, and whichever finishes first cancels
// the other by cancelling the scope.
hourglass::Task<std::string> AwaitPickup(hourglass::WorkflowContext& ctx, std::string parcel, int64_t patience_s) {
  hourglass::CancellationScope scope = ctx.NewScope();
  auto pickup = ctx.ExecuteActivity<std::string>(
      "await_pickup",
      hourglass::ActivityOptions()
          .StartToCloseTimeout(hours(48))
          .HeartbeatTimeout(seconds(30))  // cancellation reaches an activity through its heartbeats
          .Cancellation(hourglass::ActivityCancellationType::kWaitCancellationCompleted)
          .Scope(scope),
      parcel);
  auto deadline = ctx.Sleep(seconds(patience_s), scope);
  const size_t first = co_await hourglass::WhenAny(pickup, deadline);
  scope.Cancel();
  std::string outcome;
  try {
    outcome = co_await pickup;  // the result, or the activity's cancellation once it acknowledged
  } catch (const hourglass::ActivityError& e) {
    if (first == 0 || !hourglass::IsCancellation(e)) throw;  // a real failure
    outcome = "not picked up in time";
  }
  co_return outcome;
}
HOURGLASS_WORKFLOW("AwaitPickup", AwaitPickup);
// [END scopes]

// [START cancellation]
// Holds stock for an order until it is paid. Cancelling the workflow cancels
// whatever it is waiting for; the stock is then released in a detached
// scope, which the workflow's cancellation does not reach.
hourglass::Task<void> HoldStock(hourglass::WorkflowContext& ctx, Order order) {
  bool paid = false;
  ctx.SetSignalHandler("paid", [&](const hourglass::Payloads&) { paid = true; });
  const auto is_paid = [&] { return paid; };
  bool cancelled = false;
  try {
    co_await ctx.ExecuteActivity<void>("reserve_stock", QuickOptions(), order);
    co_await ctx.WaitCondition(is_paid);
  } catch (const hourglass::Failure& e) {
    // A cancelled wait throws CancelledError; a cancelled activity, an
    // ActivityError caused by one. IsCancellation recognises both.
    if (!hourglass::IsCancellation(e)) throw;
    cancelled = true;
  }
  if (cancelled) {
    co_await ctx.ExecuteActivity<void>("release_stock", QuickOptions().Scope(ctx.NewDetachedScope()), order);
    // A cancellation thrown out of a cancelled workflow ends it as cancelled.
    throw hourglass::CancelledError("order cancelled before payment; stock released");
  }
}
HOURGLASS_WORKFLOW("HoldStock", HoldStock);
// [END cancellation]

// [START continue-as-new]
// Bills a subscription every 30 days, forever. History grows with every
// timer and activity, so each run bills a year (or less, when the server
// suggests it) and then continues as a new run with a fresh history.
hourglass::Task<void> Subscription(hourglass::WorkflowContext& ctx, std::string customer, int64_t months_billed) {
  for (int month = 0; month < 12 && !ctx.continue_as_new_suggested(); ++month) {
    co_await ctx.Sleep(hours(24 * 30));
    co_await ctx.ExecuteActivity<void>("bill", PaymentOptions(), customer, months_billed);
    ++months_billed;
  }
  ctx.ContinueAsNew(hourglass::ContinueAsNewOptions(), customer, months_billed);  // does not return
}
HOURGLASS_WORKFLOW("Subscription", Subscription);
// [END continue-as-new]

// [START patching]
// Version 2 of a workflow that used to send an e-mail and now sends a text.
// Runs that already sent the e-mail replay the old branch; new runs (and old
// ones that had not got this far) take the new one.
hourglass::Task<void> NotifyShipped(hourglass::WorkflowContext& ctx, Order order) {
  if (ctx.Patched("notify-by-sms")) {
    co_await ctx.ExecuteActivity<void>("send_sms", QuickOptions(), order.customer, std::string("Shipped!"));
  } else {
    co_await ctx.ExecuteActivity<void>("send_email", QuickOptions(), order.customer, std::string("Shipped!"));
  }
}
HOURGLASS_WORKFLOW("NotifyShipped", NotifyShipped);
// [END patching]

// [START visibility]
// Memo: information shown with the workflow. Search attributes: indexed
// fields that list queries can filter on (a real Temporal server wants custom
// ones registered first).
hourglass::Task<void> TrackOrder(hourglass::WorkflowContext& ctx, Order order) {
  ctx.UpsertMemo({{"customer", order.customer}, {"items", order.items.size()}});
  ctx.UpsertSearchAttributes({{"OrderStatus", "paid"}});
  co_await ctx.ExecuteActivity<std::string>("ship", QuickOptions(), order);
  ctx.UpsertSearchAttributes({{"OrderStatus", "shipped"}});
}
HOURGLASS_WORKFLOW("TrackOrder", TrackOrder);
// [END visibility]

// A basket that fills up with signals; the guide's GCC 12 note.
hourglass::Task<std::vector<std::string>> Basket(hourglass::WorkflowContext& ctx) {
  auto items = std::make_shared<std::vector<std::string>>();
  ctx.SetSignalHandler("add", [items](std::string item) { items->push_back(item); });
  // [START gcc12]
  // The lambda captures by value, so it is declared in a statement of its
  // own and co_await sees a named value, not a temporary.
  const auto has_items = [items] { return !items->empty(); };
  co_await ctx.WaitCondition(has_items);
  // [END gcc12]
  co_return *items;
}
HOURGLASS_WORKFLOW("Basket", Basket);

}  // namespace shop
