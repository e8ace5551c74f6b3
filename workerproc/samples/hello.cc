// The Hello sample: the smallest complete workflow and activity.
//
//   hourglass workflow execute --type Hello --task-queue default --input '"World"'
//   => "Hello, World!"

#include <chrono>
#include <string>

#include "hourglass/activity.h"
#include "hourglass/workflow.h"

namespace samples {

std::string ComposeGreeting(hourglass::ActivityContext&, std::string name) { return "Hello, " + name + "!"; }
HOURGLASS_ACTIVITY("ComposeGreeting", ComposeGreeting);

hourglass::Task<std::string> Hello(hourglass::WorkflowContext& ctx, std::string name) {
  co_return co_await ctx.ExecuteActivity<std::string>(
      "ComposeGreeting", hourglass::ActivityOptions().StartToCloseTimeout(std::chrono::seconds(10)), name);
}
HOURGLASS_WORKFLOW("Hello", Hello);

}  // namespace samples
