// The user guide's activities (docs/user-guide.md, "Writing activities").
// The outside world they talk to (a card processor, a carrier, a mail
// server) is simulated in a few lines, so the guide's workflows run in tests.

#include <chrono>
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>

#include <hourglass/activity.h>

#include "shop.h"

namespace shop {

namespace {
// Stand-ins for the services a real shop would call.
std::optional<std::string> CarrierScan(const std::string& parcel) {
  if (parcel.starts_with("picked-")) return "scanned " + parcel;
  return std::nullopt;
}
void ImportRow(const std::string& file, int64_t row) {}
}  // namespace

// [START charge]
std::string Charge(hourglass::ActivityContext& ctx, Order order) {
  if (order.amount_cents <= 0) {
    // Retrying cannot fix this: non_retryable stops the retries at once.
    throw hourglass::ApplicationError("order " + order.id + " has nothing to pay",
                                      {.type = "InvalidOrder", .non_retryable = true});
  }
  if (order.amount_cents > 1'000'000) {
    // Listed in the retry policy's NonRetryableErrorTypes: not retried either.
    throw hourglass::ApplicationError("card declined", {.type = "CardDeclined", .details = hourglass::ToPayloads(order.id)});
  }
  // The same key on every attempt, so a retried charge is not charged twice.
  const std::string idempotency_key = ctx.info().workflow_id + "/" + ctx.info().activity_id;
  return "ch_" + idempotency_key;
}
HOURGLASS_ACTIVITY("charge", Charge);
// [END charge]

std::string Ship(Order order) { return "TRACK-" + order.id; }
HOURGLASS_ACTIVITY("ship", Ship);

void Refund(std::string charge_id) {}
HOURGLASS_ACTIVITY("refund", Refund);

int64_t Quote(std::string carrier, Order order) {
  return static_cast<int64_t>(carrier.size() * 100 + order.items.size() * 50);
}
HOURGLASS_ACTIVITY("quote", Quote);

void ReserveStock(Order order) {}
HOURGLASS_ACTIVITY("reserve_stock", ReserveStock);

void ReleaseStock(Order order) {}
HOURGLASS_ACTIVITY("release_stock", ReleaseStock);

void SendEmail(std::string to, std::string text) {}
HOURGLASS_ACTIVITY("send_email", SendEmail);

void SendSms(std::string to, std::string text) {}
HOURGLASS_ACTIVITY("send_sms", SendSms);

void Bill(std::string customer, int64_t month) {}
HOURGLASS_ACTIVITY("bill", Bill);

// [START heartbeat]
// Imports `rows` rows, reporting progress with a heartbeat after each one. A
// retry (after a crash, or a heartbeat timeout) starts where the previous
// attempt's last heartbeat said it was.
int64_t ImportRows(hourglass::ActivityContext& ctx, std::string file, int64_t rows) {
  int64_t next = ctx.LastHeartbeatDetails<int64_t>().value_or(0);
  for (; next < rows; ++next) {
    ImportRow(file, next);
    ctx.Heartbeat(next + 1);  // throttled by the SDK: cheap to call often
    ctx.ThrowIfCancelled();   // throws hourglass::CancelledError once cancelled
  }
  return next;
}
HOURGLASS_ACTIVITY("import_rows", ImportRows);
// [END heartbeat]

// [START activity-cancellation]
// Polls the carrier until the parcel is picked up. Heartbeats carry the
// cancellation request in; SleepFor wakes up at once when it arrives and
// throws hourglass::CancelledError, which reports the attempt as cancelled.
std::string AwaitPickup(hourglass::ActivityContext& ctx, std::string parcel) {
  for (;;) {
    if (std::optional<std::string> scan = CarrierScan(parcel)) return *scan;
    ctx.Heartbeat();
    ctx.SleepFor(std::chrono::seconds(1));
  }
}
HOURGLASS_ACTIVITY("await_pickup", AwaitPickup);
// [END activity-cancellation]

// [START async-completion]
// Hands the decision to a person: the task token goes to whatever system
// will ask them (here, a file), and the function returns without a result.
// The activity stays open until someone completes it with that token.
void RequestApproval(hourglass::ActivityContext& ctx, std::string inbox_path) {
  std::ofstream(inbox_path, std::ios::binary) << ctx.info().task_token;
  ctx.CompleteAsync();  // does not return
}
HOURGLASS_ACTIVITY("request_approval", RequestApproval);
// [END async-completion]

// [START isolation]
// Makes thumbnails with an image library that has been known to crash on
// odd files. In a process of its own per attempt, a segfault, an abort or
// the OOM killer fails only that attempt (the server retries it); the worker
// and its other activities carry on.
std::string MakeThumbnail(std::string image_path) { return image_path + ".thumb.png"; }
HOURGLASS_ACTIVITY("make_thumbnail", MakeThumbnail, {.isolation = hourglass::Isolation::kProcess});
// [END isolation]

}  // namespace shop
