// The user guide's payload examples (docs/user-guide.md, "Payloads and your
// own types"): the parameter and result types the default converter maps.

#include <cstdint>
#include <optional>
#include <string>

#include <hourglass/activity.h>
#include <hourglass/workflow.h>

#include "shop.h"

namespace shop {

// [START payload-types]
// Bytes travel as binary/plain: a Uint8Array in TypeScript, []byte in Go.
hourglass::Bytes RenderLabel(Order order) { return hourglass::Bytes{"%PDF-1.7 label for " + order.id}; }
HOURGLASS_ACTIVITY("render_label", RenderLabel);

// An empty optional travels as binary/null (null, None, undefined elsewhere);
// a trailing argument the caller left out decodes as std::nullopt too.
int64_t Discount(int64_t amount_cents, std::optional<int64_t> percent) {
  return amount_cents * (100 - percent.value_or(0)) / 100;
}
HOURGLASS_ACTIVITY("discount", Discount);

// nlohmann::json takes whatever JSON value arrives; hourglass::Payload takes
// the payload itself, undecoded (metadata and bytes), e.g. to pass it on.
hourglass::Task<nlohmann::json> Relay(hourglass::WorkflowContext& ctx, nlohmann::json request,
                                      hourglass::Payload attachment) {
  const auto options = hourglass::ActivityOptions().StartToCloseTimeout(std::chrono::seconds(10));
  co_await ctx.ExecuteActivity<void>("archive", options, attachment);
  co_return nlohmann::json{{"relayed", request}};
}
HOURGLASS_WORKFLOW("Relay", Relay);
// [END payload-types]

void Archive(hourglass::Payload attachment) {}
HOURGLASS_ACTIVITY("archive", Archive);

}  // namespace shop
