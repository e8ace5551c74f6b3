// The user guide's first worker (docs/user-guide.md, "A first worker"), and
// the main() of user_guide_snippets, the worker that serves every workflow and
// activity in this directory.

// [START first-worker]
#include <chrono>
#include <string>

#include <hourglass/activity.h>
#include <hourglass/worker.h>
#include <hourglass/workflow.h>

// An activity: an ordinary function, run on one of the worker's executor
// threads. It may do anything: call services, read files, take its time.
std::string Greet(std::string name) { return "Hello, " + name + "!"; }
HOURGLASS_ACTIVITY("greet", Greet);

// A workflow: a coroutine that orchestrates activities. It must be
// deterministic, because a worker rebuilds its state by replaying history.
hourglass::Task<std::string> Greeter(hourglass::WorkflowContext& ctx, std::string name) {
  co_return co_await ctx.ExecuteActivity<std::string>(
      "greet", hourglass::ActivityOptions().StartToCloseTimeout(std::chrono::seconds(10)), name);
}
HOURGLASS_WORKFLOW("Greeter", Greeter);

// The worker: parses --bridge-socket, --task-queue and the other flags, and
// serves everything registered above until it receives SIGTERM.
int main(int argc, char** argv) { return hourglass::RunWorker(argc, argv); }
// [END first-worker]
