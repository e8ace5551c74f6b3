// The user guide's testing example (docs/user-guide.md, "Testing a worker"):
// the worker under test as a real process, with the dev server and bridge
// host a deployment would run, driven through the `hourglass` command line.
// It needs nothing from Hourglass but its installed programs, so a user's
// project can copy it as it is.
//
// HOURGLASS_BIN_DIR (where hourglass-devserver, hourglass-bridgehost and
// hourglass are) and WORKER_BINARY come from the build; see
// docs/user-guide/CMakeLists.txt.

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

extern char** environ;

namespace {

using namespace std::chrono_literals;

// A program running in the background with its output in `log`; stopped with
// SIGTERM (and waited for) when this goes away.
class Background {
 public:
  Background(std::vector<std::string> argv, const std::string& log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (posix_spawn(&pid_, args[0], &actions, nullptr, args.data(), environ) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }

 private:
  pid_t pid_ = -1;
};

// The first line of `path` that contains `needle`, once one does.
std::optional<std::string> WaitForLine(const std::string& path, const std::string& needle) {
  for (const auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) {
      if (line.find(needle) != std::string::npos) return line;
    }
  }
  return std::nullopt;
}

bool WaitForFile(const std::string& path) {
  for (const auto deadline = std::chrono::steady_clock::now() + 20s; std::chrono::steady_clock::now() < deadline;
       std::this_thread::sleep_for(20ms)) {
    if (std::filesystem::exists(path)) return true;
  }
  return false;
}

std::string ShellQuote(const std::string& s) {
  std::string quoted = "'";
  for (char c : s) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

// [START test-fixture]
// One dev server, bridge host and worker for every test in the suite, started
// as a deployment starts them; each test uses its own workflow ids.
class ShopWorkerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char dir_template[] = "/tmp/shop-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    const std::string bin = HOURGLASS_BIN_DIR;
    dev_server_.emplace(std::vector<std::string>{bin + "/hourglass-devserver", "--port", "0"}, dir_ + "/dev.log");
    // It prints "hourglass-devserver ready on 127.0.0.1:PORT" once it listens.
    const std::optional<std::string> ready = WaitForLine(dir_ + "/dev.log", "ready on ");
    ASSERT_TRUE(ready) << "the dev server did not start; see " << dir_ << "/dev.log";
    const std::string address = ready->substr(ready->find("ready on ") + 9);

    bridge_host_.emplace(
        std::vector<std::string>{bin + "/hourglass-bridgehost", "--target", address, "--runtime-dir", dir_ + "/run"},
        dir_ + "/bridge.log");
    socket_ = dir_ + "/run/bridge.sock";
    ASSERT_TRUE(WaitForFile(socket_)) << "the bridge host did not start; see " << dir_ << "/bridge.log";

    worker_.emplace(std::vector<std::string>{WORKER_BINARY, "--bridge-socket", socket_, "--task-queue", "shop"},
                    dir_ + "/worker.log");
  }

  static void TearDownTestSuite() {
    worker_.reset();  // the worker first: it unregisters from the bridge host
    bridge_host_.reset();
    dev_server_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Runs `hourglass workflow ARGS...` against the bridge host and returns the
  // one JSON object it prints.
  static nlohmann::json Workflow(const std::vector<std::string>& args) {
    std::string command = ShellQuote(std::string(HOURGLASS_BIN_DIR) + "/hourglass") + " workflow";
    for (const std::string& a : args) command += " " + ShellQuote(a);
    command += " --bridge-socket " + ShellQuote(socket_) + " 2>>" + ShellQuote(dir_ + "/cli.log");
    FILE* out = popen(command.c_str(), "r");
    if (out == nullptr) return nullptr;
    std::string printed;
    for (char buf[4096]; size_t n = fread(buf, 1, sizeof(buf), out);) printed.append(buf, n);
    pclose(out);
    return nlohmann::json::parse(printed, nullptr, /*allow_exceptions=*/false);
  }

  static inline std::string dir_;
  static inline std::string socket_;
  static inline std::optional<Background> dev_server_;
  static inline std::optional<Background> bridge_host_;
  static inline std::optional<Background> worker_;
};
// [END test-fixture]

// [START tests]
TEST_F(ShopWorkerTest, GreeterGreets) {
  const nlohmann::json run = Workflow({"execute", "--type", "Greeter", "--task-queue", "shop", "--input", R"("World")"});
  EXPECT_EQ(run["status"], "COMPLETED") << run;
  EXPECT_EQ(run["result"], "Hello, World!");
}

TEST_F(ShopWorkerTest, ApproveOrderEndsWithTheApproval) {
  const nlohmann::json order = {{"id", "o-1"}, {"customer", "ada@example.com"}, {"items", {"tea"}}, {"amount_cents", 450}};
  Workflow({"start", "--type", "ApproveOrder", "--task-queue", "shop", "--workflow-id", "approve-o-1", "--input",
            order.dump()});
  Workflow({"signal", "--workflow-id", "approve-o-1", "--name", "approve", "--input", R"("grace")"});
  const nlohmann::json run = Workflow({"result", "--workflow-id", "approve-o-1"});
  EXPECT_EQ(run["result"], "approved by grace") << run;
}
// [END tests]

TEST_F(ShopWorkerTest, CancelledHoldStockReleasesTheStockThenEndsCancelled) {
  const nlohmann::json order = {{"id", "o-2"}, {"customer", "ada@example.com"}, {"items", {"tea"}}, {"amount_cents", 450}};
  Workflow({"start", "--type", "HoldStock", "--task-queue", "shop", "--workflow-id", "hold-o-2", "--input",
            order.dump()});
  Workflow({"cancel", "--workflow-id", "hold-o-2"});
  const nlohmann::json run = Workflow({"result", "--workflow-id", "hold-o-2"});
  EXPECT_EQ(run["status"], "CANCELED") << run;
  // The release ran after the cancellation was requested.
  bool cancel_requested = false;
  bool released_after = false;
  const nlohmann::json history = Workflow({"history", "--workflow-id", "hold-o-2"});  // named: range-for would dangle
  for (const nlohmann::json& e : history["events"]) {
    if (e["event_type"] == "WorkflowExecutionCancelRequested") cancel_requested = true;
    if (cancel_requested && e["event_type"] == "ActivityTaskCompleted") released_after = true;
  }
  EXPECT_TRUE(released_after);
}

TEST_F(ShopWorkerTest, ProcessOrderChargesAndShips) {
  const nlohmann::json order = {{"id", "o-3"}, {"customer", "ada@example.com"}, {"items", {"tea"}}, {"amount_cents", 450}};
  const nlohmann::json run =
      Workflow({"execute", "--type", "ProcessOrder", "--task-queue", "shop", "--workflow-id", "order-o-3", "--input",
                order.dump()});
  EXPECT_EQ(run["result"], nlohmann::json({{"orderId", "o-3"}, {"chargeId", "ch_order-o-3/1"},
                                           {"trackingNumber", "TRACK-o-3"}}))
      << run;
}

TEST_F(ShopWorkerTest, DeclinedCardFailsTheWorkflowWithTheActivitysFailure) {
  const nlohmann::json order = {{"id", "o-4"}, {"customer", "ada@example.com"}, {"items", {"yacht"}},
                                {"amount_cents", 5'000'000}};
  const nlohmann::json run = Workflow({"execute", "--type", "ProcessOrder", "--task-queue", "shop", "--input",
                                       order.dump()});
  EXPECT_EQ(run["status"], "FAILED") << run;
  EXPECT_EQ(run["failure"]["type"], "ActivityFailure") << run;
  EXPECT_EQ(run["failure"]["cause"]["type"], "CardDeclined") << run;
}

}  // namespace
