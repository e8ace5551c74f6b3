// The installed package as a user meets it: `cmake --install` of this build
// into a fresh prefix, examples/greeter configured against it with
// find_package(Hourglass) and built, then the installed dev server and bridge
// host and the greeter worker started as real processes, standalone (no
// supervisor yet), and a Greeter workflow run through the bridge host.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ipc/client.h"
#include "ipc/envelope.h"
#include "tests/testing/process.h"
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
int RunToEnd(std::vector<std::string> argv, const std::string& log, std::chrono::milliseconds timeout) {
  argv.insert(argv.begin(), {"/bin/sh", "-c", "log=$1; shift; exec \"$@\" >\"$log\" 2>&1", "sh", log});
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
  ASSERT_EQ(RunToEnd({HG_CMAKE_COMMAND, "--install", HG_BUILD_DIR, "--prefix", prefix}, install_log, 120s), 0)
      << ReadFile(install_log);
  const std::string config_dir = prefix + "/lib/cmake/Hourglass";
  ASSERT_TRUE(fs::exists(config_dir + "/HourglassConfig.cmake")) << ReadFile(install_log);
  for (const char* program : {"hourglass-bridgehost", "hourglass-devserver", "hourglass-workerproc", "hourglass"}) {
    EXPECT_TRUE(fs::exists(prefix + "/bin/" + program)) << program;
  }
  // A relocatable package: nothing in it points back at this tree.
  for (const auto& entry : fs::directory_iterator(config_dir)) {
    const std::string text = ReadFile(entry.path());
    EXPECT_EQ(text.find(HG_SOURCE_DIR), std::string::npos) << entry.path() << " names the source tree";
    EXPECT_EQ(text.find(HG_BUILD_DIR), std::string::npos) << entry.path() << " names the build tree";
  }

  // 2. Configure and build the example as its own project.
  std::vector<std::string> configure{HG_CMAKE_COMMAND,
                                     "-S", std::string(HG_SOURCE_DIR) + "/examples/greeter",
                                     "-B", example_build,
                                     "-G", HG_GENERATOR,
                                     "-DCMAKE_MAKE_PROGRAM=" HG_MAKE_PROGRAM,
                                     "-DCMAKE_CXX_COMPILER=" HG_CXX_COMPILER,
                                     "-DCMAKE_PREFIX_PATH=" + prefix};
  if (std::string(HG_CCACHE).size() > 0) {
    // Paths relative to the temporary directory, so the next run's different
    // directory still hits the cache.
    configure.push_back(std::string("-DCMAKE_CXX_COMPILER_LAUNCHER=") + HG_CMAKE_COMMAND +
                        ";-E;env;CCACHE_BASEDIR=" + work.path() + ";CCACHE_NOHASHDIR=1;" + HG_CCACHE);
  }
  const std::string configure_log = work.path() + "/configure.log";
  ASSERT_EQ(RunToEnd(configure, configure_log, 120s), 0) << ReadFile(configure_log);
  const std::string build_log = work.path() + "/build.log";
  ASSERT_EQ(RunToEnd({HG_CMAKE_COMMAND, "--build", example_build}, build_log, 240s), 0) << ReadFile(build_log);
  const std::string greeter = example_build + "/greeter";
  ASSERT_TRUE(fs::exists(greeter)) << ReadFile(build_log);

  // 3. The installed dev server and bridge host, standalone.
  auto dev = ChildProcess::Spawn({{prefix + "/bin/hourglass-devserver", "--port", "0", "--db-filename",
                                   work.path() + "/dev.db", "--log-level", "warn"},
                                  {},
                                  true,
                                  work.path() + "/devserver.log"});
  ASSERT_TRUE(dev.has_value());
  auto ready = dev->WaitForLine("ready on", 20s);
  ASSERT_TRUE(ready.has_value()) << ReadFile(work.path() + "/devserver.log");
  const std::string socket = work.path() + "/run/bridge.sock";
  auto bridge = ChildProcess::Spawn({{prefix + "/bin/hourglass-bridgehost", "--target", testing::AddressFromReadyLine(*ready),
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
  auto worker = ChildProcess::Spawn(
      {{greeter, "--bridge-socket", socket, "--task-queue", "greeter"}, {}, false, work.path() + "/greeter.log"});
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
      << closed.DebugString() << "\ngreeter log:\n" << ReadFile(work.path() + "/greeter.log");
  const auto& payloads = closed.workflow_execution_completed_event_attributes().result().payloads();
  ASSERT_EQ(payloads.size(), 1);
  EXPECT_EQ(payloads[0].data(), "\"Hello, World!\"");

  // The worker stops cleanly on SIGTERM, as the supervisor will stop it.
  const int status = worker->Stop(15s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << "\n" << ReadFile(work.path() + "/greeter.log");
}

}  // namespace
}  // namespace hourglass
