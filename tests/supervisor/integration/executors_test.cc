// Process-isolated activity executors under the real supervisor: a worker
// with isolation = "process" reports every executor it spawns, and the
// supervisor adopts it into the tree's `executors` group. Checked here: ctl
// status lists it (id executor:<pid>, its pid, running, an uptime) while the
// activity runs and forgets it once it ended; it outlives a SIGKILLed worker
// and still delivers its result; a tree stop stops it before the workers.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "tests/testing/supervisor_process.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
using json = nlohmann::json;
using testing::FindEntry;
using testing::FindNode;
using testing::LastLine;
using testing::ProcessAlive;
using testing::RunHourglassCli;
using testing::SupervisorOptions;
using testing::SupervisorProcess;

// One queue whose activities run in executor processes.
constexpr const char* kProcessIsolation = R"(
[[queue]]
name = "iso"
isolation = "process"
)";

// KitchenSink: one `delay` activity of `ms`, then returns `tag`.
std::string DelayInput(int ms, const std::string& tag) {
  return json{{"actions", json::array({json{{"activity", "delay"}, {"args", json::array({ms})}},
                                       json{{"return", tag}}})}}
      .dump();
}

// The nodes of the executors group.
std::vector<v1::CtlNode> Executors(const v1::CtlStatusReply& s) {
  std::vector<v1::CtlNode> out;
  for (const auto& n : s.nodes()) {
    if (n.parent() == "executors") out.push_back(n);
  }
  return out;
}

class ExecutorsIntegrationTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && sup_) sup_->DumpLog(std::cerr, 80);
    sup_.reset();
    previous_.reset();
  }

  // A supervisor serving the process-isolated queue, ready.
  void LaunchReady() {
    sup_ = std::make_unique<SupervisorProcess>(SupervisorOptions{.config_toml = kProcessIsolation});
    ASSERT_TRUE(sup_->Start());
    ASSERT_TRUE(sup_->WaitReady(20s).has_value()) << "the tree never became ready";
  }

  void StartWorkflow(const std::string& id, const std::string& input) {
    auto r = RunHourglassCli(
        {"workflow", "start", "--bridge-socket", sup_->bridge_socket(), "--task-queue", "iso",
         "--type", "KitchenSink", "--workflow-id", id, "--input", input},
        20s, sup_->dir() + "/cli.log");
    ASSERT_TRUE(r.ok()) << "workflow start " << id << ": " << r.out << " "
                        << LastLine(sup_->dir() + "/cli.log");
  }

  json WorkflowResult(const std::string& id) {
    auto r = RunHourglassCli({"workflow", "result", "--bridge-socket", sup_->bridge_socket(),
                              "--workflow-id", id, "--timeout", "30"},
                             35s, sup_->dir() + "/cli.log");
    EXPECT_TRUE(r.ok()) << "workflow result " << id << ": " << r.out << " "
                        << LastLine(sup_->dir() + "/cli.log");
    const json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return json();
    EXPECT_EQ(j.value("status", ""), "COMPLETED") << r.out;
    return j.contains("result") ? j["result"] : json();
  }

  // Waits until the executors group lists one running executor; it, or a
  // test failure.
  std::optional<v1::CtlNode> WaitForExecutor() {
    auto status = sup_->WaitStatus(
        [](const v1::CtlStatusReply& s) {
          auto e = Executors(s);
          return e.size() == 1 && e[0].state() == "running" && e[0].pid() > 0;
        },
        15s);
    EXPECT_TRUE(status.has_value()) << "no executor was adopted";
    if (!status) return std::nullopt;
    return Executors(*status)[0];
  }

  // Lines of the log mentioning `needle`.
  std::vector<std::string> LogLinesWith(const std::string& needle) {
    std::vector<std::string> out;
    for (const auto& line : sup_->LogLines()) {
      if (line.find(needle) != std::string::npos) out.push_back(line);
    }
    return out;
  }

  std::unique_ptr<SupervisorProcess> sup_;
  std::unique_ptr<SupervisorProcess> previous_;  // a stopped tree whose directory sup_ reuses
};

TEST_F(ExecutorsIntegrationTest, Executors_ListedWhileTheActivityRunsGoneOnceDone) {
  LaunchReady();
  StartWorkflow("exec-listed", DelayInput(1500, "done"));
  const auto e = WaitForExecutor();
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->id(), "executor:" + std::to_string(e->pid()));
  EXPECT_EQ(e->kind(), "child");
  EXPECT_EQ(e->restart_type(), "temporary");
  EXPECT_TRUE(ProcessAlive(e->pid()));
  SupervisorProcess::SleepMs(300);
  const auto status = sup_->Status();
  ASSERT_TRUE(status.has_value());
  const auto* later = FindNode(*status, e->id());
  ASSERT_NE(later, nullptr);
  EXPECT_GE(later->uptime_ms(), 250u);
  // Not the worker: an executor process of its own.
  EXPECT_NE(FindEntry(*status, "iso")->pid(), e->pid());

  EXPECT_EQ(WorkflowResult("exec-listed"), json("done"));
  auto after =
      sup_->WaitStatus([](const v1::CtlStatusReply& s) { return Executors(s).empty(); }, 10s);
  EXPECT_TRUE(after.has_value()) << "the executor is still listed after it ended";
  // Its exit was accounted to its node (its worker collected the status),
  // not to an orphan; and the watchdog left it alone.
  EXPECT_TRUE(LogLinesWith("reaped orphan pid " + std::to_string(e->pid())).empty());
  EXPECT_TRUE(LogLinesWith("silent on its control channel").empty());
  // Exactly one end, as its worker reaped it.
  const auto ended = LogLinesWith(e->id() + " (activity delay");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_NE(ended[0].find("status collected by its worker"), std::string::npos) << ended[0];
}

TEST_F(ExecutorsIntegrationTest, Executors_OutliveASigkilledWorkerAndDeliverTheResult) {
  LaunchReady();
  const auto before = sup_->Status();
  ASSERT_TRUE(before.has_value());
  const pid_t worker = FindEntry(*before, "iso")->pid();
  StartWorkflow("exec-outlives", DelayInput(2500, "delivered"));
  const auto e = WaitForExecutor();
  ASSERT_TRUE(e.has_value());
  ASSERT_EQ(::kill(worker, SIGKILL), 0);

  // The worker is replaced; the executor is still listed, same pid.
  auto after = sup_->WaitStatus(
      [&](const v1::CtlStatusReply& s) {
        const auto* w = FindEntry(s, "iso");
        return w && w->ready() && w->pid() != worker;
      },
      15s);
  ASSERT_TRUE(after.has_value()) << "the worker was not restarted";
  const auto* still = FindNode(*after, e->id());
  ASSERT_NE(still, nullptr) << "the executor left the tree with its worker";
  EXPECT_EQ(still->pid(), e->pid());
  EXPECT_EQ(still->state(), "running");
  EXPECT_EQ(after->cascades(), 0u);

  EXPECT_EQ(WorkflowResult("exec-outlives"), json("delivered"));
  auto gone =
      sup_->WaitStatus([](const v1::CtlStatusReply& s) { return Executors(s).empty(); }, 10s);
  EXPECT_TRUE(gone.has_value()) << "the executor is still listed after it ended";
  EXPECT_FALSE(ProcessAlive(e->pid()));
  // Reparented to the supervisor and reaped there: accounted to its node
  // with its real status, once, not logged as an orphan.
  EXPECT_TRUE(LogLinesWith("reaped orphan pid " + std::to_string(e->pid())).empty());
  const auto ended = LogLinesWith(e->id() + " (activity delay");
  ASSERT_EQ(ended.size(), 1u);
  EXPECT_NE(ended[0].find("ended: exit 0"), std::string::npos) << ended[0];
  EXPECT_EQ(ended[0].find("collected by its worker"), std::string::npos) << ended[0];
}

// A graceful stop lets a running attempt finish and deliver its result (the
// executor treats SIGTERM as "finish"), and stops executors before workers:
// the executors group started last.
TEST_F(ExecutorsIntegrationTest, Executors_TreeStopLetsTheAttemptFinishFirst) {
  LaunchReady();
  StartWorkflow("exec-stopped", DelayInput(1500, "finished during the stop"));
  const auto e = WaitForExecutor();
  ASSERT_TRUE(e.has_value());
  sup_->Signal(SIGTERM);
  const auto status = sup_->WaitExit(20s);
  ASSERT_TRUE(status.has_value()) << "the supervisor did not stop";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0);
  EXPECT_FALSE(ProcessAlive(e->pid()));
  const auto lines = sup_->LogLines();
  auto find = [&](const std::string& needle) {
    return std::find_if(lines.begin(), lines.end(),
                        [&](const std::string& l) { return l.find(needle) != std::string::npos; });
  };
  const auto executor_stopped = find("stopped '" + e->id() + "'");
  const auto worker_stopped = find("stopped 'worker:iso'");
  ASSERT_NE(executor_stopped, lines.end());
  ASSERT_NE(worker_stopped, lines.end());
  EXPECT_LT(executor_stopped - lines.begin(), worker_stopped - lines.begin());
  EXPECT_EQ(executor_stopped->find("SIGKILL"), std::string::npos) << *executor_stopped;

  // The attempt's result was delivered before the bridge host stopped: a new
  // tree on the same runtime directory (same dev.db) completes the workflow.
  const std::string dir = sup_->dir();
  auto second = std::make_unique<SupervisorProcess>(
      SupervisorOptions{.config_toml = kProcessIsolation, .dir = dir, .log_name = "second.log"});
  // The first object owns the directory: it lives until TearDown.
  previous_ = std::move(sup_);
  sup_ = std::move(second);
  ASSERT_TRUE(sup_->Start());
  ASSERT_TRUE(sup_->WaitReady(20s).has_value());
  EXPECT_EQ(WorkflowResult("exec-stopped"), json("finished during the stop"));
}

}  // namespace
}  // namespace hourglass
