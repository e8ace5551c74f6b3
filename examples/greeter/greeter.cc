// greeter: a complete Hourglass worker with one workflow and one activity.
//
// With Hourglass installed in $PREFIX, start a dev server, a bridge host, this
// worker, and ask for a greeting:
//
//   $PREFIX/bin/hourglass-devserver --port 7233 &
//   $PREFIX/bin/hourglass-bridgehost --target 127.0.0.1:7233 &
//   ./greeter --task-queue greeter &    # finds the bridge host's default socket
//   $PREFIX/bin/hourglass workflow execute --type Greeter --task-queue greeter --input '"World"'
//   => {..., "status":"COMPLETED", "result":"Hello, World!", ...}

#include <chrono>
#include <string>

#include <hourglass/activity.h>
#include <hourglass/worker.h>
#include <hourglass/workflow.h>

namespace greeter {

// An activity is an ordinary function: this is where I/O, clocks and anything
// else non-deterministic belong. Its arguments and result travel as JSON. (It
// may also take an hourglass::ActivityContext& first, for heartbeats and
// cancellation.)
std::string Greet(std::string name) { return "Hello, " + name + "!"; }
HOURGLASS_ACTIVITY("greet", Greet);

// A workflow is a coroutine. It must be deterministic, because it is replayed
// from its history whenever a worker picks it up again, so it does its work
// through the context: here, one activity with a timeout.
hourglass::Task<std::string> Greeter(hourglass::WorkflowContext& ctx, std::string name) {
  co_return co_await ctx.ExecuteActivity<std::string>(
      "greet", hourglass::ActivityOptions().StartToCloseTimeout(std::chrono::seconds(10)), name);
}
HOURGLASS_WORKFLOW("Greeter", Greeter);

}  // namespace greeter

// RunWorker parses the worker flags (--bridge-socket, --task-queue, ...;
// --help lists them), serves everything registered above until SIGTERM, and
// returns the exit code.
int main(int argc, char** argv) { return hourglass::RunWorker(argc, argv); }
