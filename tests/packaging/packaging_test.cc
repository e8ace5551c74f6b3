// The installed package as a user meets it: `cmake --install` of this build
// into a fresh prefix, examples/greeter configured against it with
// find_package(Hourglass) and built, then a Greeter workflow run twice:
//  - standalone: the installed dev server and bridge host and the greeter
//    worker started by hand, as greeter.cc's comment shows (no control
//    channel, the worker stopped with SIGTERM);
//  - supervised: the installed hourglass-supervisor running the whole tree
//    with the greeter as its queue's worker (the control channel on fd 3,
//    READY and heartbeats from the SDK's RunWorker), driven with the
//    installed `hourglass` CLI: workflow execute, then ctl stop.
// Both, because the install and the example's build are most of the cost and
// the two runs exercise different halves of RunWorker.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ipc/client.h"
#include "ipc/envelope.h"
#include "tests/testing/process.h"
#include "tests/testing/supervisor_process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
namespace v1 = ipc::v1;
namespace enums = temporal::api::enums::v1;
using testing::ChildProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Runs `argv` to completion with stdout and stderr in `log`; returns its exit
// code, or -1 when it died or outlived `timeout`. The shell only redirects:
// the arguments reach the program unquoted and unchanged.
int RunToEnd(std::vector<std::string> argv, const std::string& log,
             std::chrono::milliseconds timeout) {
  argv.insert(argv.begin(),
              {"/bin/sh", "-c", "log=$1; shift; exec \"$@\" >\"$log\" 2>&1", "sh", log});
  auto p = ChildProcess::Spawn({argv, {}, false, ""});
  if (!p) return -1;
  const int status = p->Wait(timeout);
  if (status == -1) {
    p->Stop();
    return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A JSON string payload as every Temporal SDK's default converter writes it.
temporal::api::common::v1::Payload JsonString(const std::string& quoted) {
  temporal::api::common::v1::Payload p;
  (*p.mutable_metadata())["encoding"] = "json/plain";
  p.set_data(quoted);
  return p;
}

TEST(Packaging, InstalledSdkBuildsTheGreeterExampleWhichServesItsWorkflow) {
  // Declared first, so the processes below are stopped before it is removed.
  testing::TempDir work("hg-pkg");
  ASSERT_FALSE(work.path().empty());
  const std::string prefix = work.path() + "/prefix";
  const std::string example_build = work.path() + "/greeter";

  // 1. Install.
  const std::string install_log = work.path() + "/install.log";
  ASSERT_EQ(RunToEnd({HG_CMAKE_COMMAND, "--install", HG_BUILD_DIR, "--prefix", prefix}, install_log,
                     120s),
            0)
      << ReadFile(install_log);
  const std::string config_dir = prefix + "/lib/cmake/Hourglass";
  ASSERT_TRUE(fs::exists(config_dir + "/HourglassConfig.cmake")) << ReadFile(install_log);
  for (const char* program : {"hourglass-bridgehost", "hourglass-devserver", "hourglass-workerproc",
                              "hourglass", "hourglass-supervisor"}) {
    EXPECT_TRUE(fs::exists(prefix + "/bin/" + program)) << program;
  }
  // A relocatable package: nothing in it points back at this tree.
  for (const auto& entry : fs::directory_iterator(config_dir)) {
    const std::string text = ReadFile(entry.path());
    EXPECT_EQ(text.find(HG_SOURCE_DIR), std::string::npos)
        << entry.path() << " names the source tree";
    EXPECT_EQ(text.find(HG_BUILD_DIR), std::string::npos)
        << entry.path() << " names the build tree";
  }

  // 2. Configure and build the example as its own project.
  std::vector<std::string> configure{HG_CMAKE_COMMAND,
                                     "-S",
                                     std::string(HG_SOURCE_DIR) + "/examples/greeter",
                                     "-B",
                                     example_build,
                                     "-G",
                                     HG_GENERATOR,
                                     "-DCMAKE_MAKE_PROGRAM=" HG_MAKE_PROGRAM,
                                     "-DCMAKE_CXX_COMPILER=" HG_CXX_COMPILER,
                                     "-DCMAKE_PREFIX_PATH=" + prefix};
  if (std::string(HG_CCACHE).size() > 0) {
    // Paths relative to the temporary directory, so the next run's different
    // directory still hits the cache.
    configure.push_back(std::string("-DCMAKE_CXX_COMPILER_LAUNCHER=") + HG_CMAKE_COMMAND +
                        ";-E;env;CCACHE_BASEDIR=" + work.path() + ";CCACHE_NOHASHDIR=1;" +
                        HG_CCACHE);
  }
  const std::string configure_log = work.path() + "/configure.log";
  ASSERT_EQ(RunToEnd(configure, configure_log, 120s), 0) << ReadFile(configure_log);
  const std::string build_log = work.path() + "/build.log";
  ASSERT_EQ(RunToEnd({HG_CMAKE_COMMAND, "--build", example_build}, build_log, 240s), 0)
      << ReadFile(build_log);
  const std::string greeter = example_build + "/greeter";
  ASSERT_TRUE(fs::exists(greeter)) << ReadFile(build_log);

  // 3. The installed dev server and bridge host, standalone.
  auto dev = ChildProcess::Spawn({{prefix + "/bin/hourglass-devserver", "--port", "0",
                                   "--db-filename", work.path() + "/dev.db", "--log-level", "warn"},
                                  {},
                                  true,
                                  work.path() + "/devserver.log"});
  ASSERT_TRUE(dev.has_value());
  auto ready = dev->WaitForLine("ready on", 20s);
  ASSERT_TRUE(ready.has_value()) << ReadFile(work.path() + "/devserver.log");
  const std::string socket = work.path() + "/run/bridge.sock";
  auto bridge = ChildProcess::Spawn(
      {{prefix + "/bin/hourglass-bridgehost", "--target", testing::AddressFromReadyLine(*ready),
        "--runtime-dir", work.path() + "/run", "--log-level", "warn"},
       {},
       false,
       work.path() + "/bridgehost.log"});
  ASSERT_TRUE(bridge.has_value());
  // Standalone, the bridge host is ready when its socket answers.
  ipc::ClientOptions options;
  options.socket_path = socket;
  options.hello.set_role(v1::ROLE_CLIENT);
  std::optional<ipc::BlockingClient> client;
  for (const auto deadline = std::chrono::steady_clock::now() + 20s;
       !client && std::chrono::steady_clock::now() < deadline; std::this_thread::sleep_for(50ms)) {
    auto c = ipc::BlockingClient::Connect(options, 2s);
    if (c.ok()) client.emplace(std::move(c).value());
  }
  ASSERT_TRUE(client.has_value()) << ReadFile(work.path() + "/bridgehost.log");

  // 4. The user's worker, and a workflow for it.
  auto worker =
      ChildProcess::Spawn({{greeter, "--bridge-socket", socket, "--task-queue", "greeter"},
                           {},
                           false,
                           work.path() + "/greeter.log"});
  ASSERT_TRUE(worker.has_value());

  v1::Request start;
  auto* s = start.mutable_start_workflow()->mutable_request();
  s->set_workflow_id("greeter-1");
  s->mutable_workflow_type()->set_name("Greeter");
  s->mutable_task_queue()->set_name("greeter");
  *s->mutable_input()->add_payloads() = JsonString("\"World\"");
  auto started = client->Call(start, 10s);
  ASSERT_TRUE(started.ok()) << ipc::Describe(started.error());

  v1::Request await;
  await.mutable_await_result()->mutable_execution()->set_workflow_id("greeter-1");
  auto result = client->Call(await, 60s);
  ASSERT_TRUE(result.ok()) << ipc::Describe(result.error());
  const auto& closed = result->await_result().close_event();
  ASSERT_EQ(closed.event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
      << closed.DebugString() << "\ngreeter log:\n"
      << ReadFile(work.path() + "/greeter.log");
  const auto& payloads = closed.workflow_execution_completed_event_attributes().result().payloads();
  ASSERT_EQ(payloads.size(), 1);
  EXPECT_EQ(payloads[0].data(), "\"Hello, World!\"");

  // The worker stops cleanly on SIGTERM, as the supervisor will stop it.
  const int status = worker->Stop(15s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << status << "\n"
      << ReadFile(work.path() + "/greeter.log");
  // The supervised run below starts its own: two dev servers at once would
  // only slow a 2-core machine down.
  client.reset();
  bridge->Stop();
  dev->Stop();

  // 5. The same worker under the installed supervisor, which finds the
  // installed dev server and bridge host next to itself. SupervisorProcess
  // only starts it and, whatever happens, kills the tree at the end;
  // everything the test asks goes through the installed CLI, as a user's
  // would.
  testing::SupervisorProcess supervisor(
      {.queues = {"greeter=" + greeter}, .binary = prefix + "/bin/hourglass-supervisor"});
  ASSERT_TRUE(supervisor.Start());
  const auto tree = supervisor.WaitReady(30s);
  ASSERT_TRUE(tree.has_value()) << "the supervised tree never became ready\n" << supervisor.Log();
  const auto* entry = testing::FindEntry(*tree, "greeter");
  ASSERT_NE(entry, nullptr) << tree->ShortDebugString();
  EXPECT_EQ(entry->exec(), greeter) << "the queue is not served by the user's worker";

  const std::string hourglass = prefix + "/bin/hourglass";
  const std::string execute_log = work.path() + "/execute.log";
  EXPECT_EQ(
      RunToEnd({hourglass, "workflow", "execute", "--bridge-socket", supervisor.bridge_socket(),
                "--task-queue", "greeter", "--type", "Greeter", "--workflow-id",
                "greeter-supervised", "--input", "\"Supervisor\"", "--timeout", "60"},
               execute_log, 90s),
      0)
      << ReadFile(execute_log) << "\n"
      << supervisor.Log();
  // stdout's one JSON line (docs/cli.md); stderr's log lines are not JSON.
  nlohmann::json outcome;
  std::istringstream lines(ReadFile(execute_log));
  for (std::string line; std::getline(lines, line);) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.contains("status")) outcome = j;
  }
  EXPECT_EQ(outcome.value("status", ""), "COMPLETED") << ReadFile(execute_log);
  EXPECT_EQ(outcome.value("result", nlohmann::json()), nlohmann::json("Hello, Supervisor!"))
      << ReadFile(execute_log);

  const std::string stop_log = work.path() + "/stop.log";
  EXPECT_EQ(RunToEnd({hourglass, "ctl", "--runtime-dir", supervisor.runtime_dir(), "stop"},
                     stop_log, 60s),
            0)
      << ReadFile(stop_log) << "\n"
      << supervisor.Log();
  const auto exit = supervisor.WaitExit(20s);
  ASSERT_TRUE(exit.has_value()) << "the supervisor outlived ctl stop\n" << supervisor.Log();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << *exit << "\n" << supervisor.Log();

  // 6. The example's own kill-based test, built against Hourglass::testing
  // from the installed package, run as the user would run it.
  const std::string greeter_test = example_build + "/greeter_test";
  ASSERT_TRUE(fs::exists(greeter_test)) << "greeter_test was not built (GTest not found?)\n"
                                        << ReadFile(configure_log);
  const std::string test_log = work.path() + "/greeter_test.log";
  EXPECT_EQ(RunToEnd({greeter_test}, test_log, 120s), 0) << ReadFile(test_log);
}

}  // namespace
}  // namespace hourglass
