// The kill-based fault catalogue (../shared/reference/supervision.md §5.1,
// docs/fault-catalogue.md) against the real tree: the rows that no other
// integration test covers, and a SIGKILL at each of the twelve fault points
// of docs/fault-injection.md. Every test ends with the same invariants: each
// workflow started completed with the right result and was closed exactly
// once, the restart counts are the expected ones, and after a stop the
// supervisor exited 0 leaving no process (alive or zombie) and no socket
// file behind.
//
// Timeouts are short (workflow task 2 s, activity start-to-close 2 s), so a
// task or attempt lost with a killed process comes back within seconds.
// Nothing here asserts a duration: every wait polls with a deadline.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/blocking_frames.h"
#include "ipc/exit_codes.h"
#include "tests/testing/supervisor_process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
using json = nlohmann::json;
using testing::DescribeStatus;
using testing::ExitedWith;
using testing::FindEntry;
using testing::FindNode;
using testing::LastLine;
using testing::ProcessAlive;
using testing::ProcessExists;
using testing::ProcessGroupAlive;
using testing::RunHourglassCli;
using testing::SupervisorOptions;
using testing::SupervisorProcess;

// KitchenSink: one noop activity (start-to-close 2 s: an attempt lost with
// its process is retried soon), then returns `tag`.
std::string ActivityThenReturn(const std::string& tag) {
  return json{{"actions", json::array({json{{"activity", "noop"}, {"start_to_close_ms", 2000}},
                                       json{{"return", tag}}})}}
      .dump();
}

// KitchenSink: a timer of `ms` (the workflow is in flight, its worker
// long-polling), an activity, then `tag`.
std::string TimerThenReturn(int ms, const std::string& tag) {
  return json{{"actions", json::array({json{{"timer", ms}},
                                       json{{"activity", "noop"}, {"start_to_close_ms", 2000}},
                                       json{{"return", tag}}})}}
      .dump();
}

// KitchenSink: a `delay` activity of `ms` (in flight in the worker), then `tag`.
std::string SlowActivityThenReturn(int ms, const std::string& tag) {
  return json{{"actions", json::array({json{{"activity", "delay"},
                                            {"args", json::array({ms})},
                                            {"start_to_close_ms", ms + 3000}},
                                       json{{"return", tag}}})}}
      .dump();
}

// The event types that close a run.
const std::vector<std::string> kCloseEvents = {
    "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED",  "EVENT_TYPE_WORKFLOW_EXECUTION_FAILED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT",  "EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED",
    "EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED", "EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW",
};

size_t CountOccurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

// Whether `pid` is a zombie its parent can reap: a killed multi-threaded
// process shows 'Z' as soon as its main thread is gone, but becomes
// reapable only once its last thread has exited.
bool Reapable(pid_t pid) {
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream stat(dir + "/stat");
  std::string text;
  if (!std::getline(stat, text)) return false;
  const auto close = text.rfind(')');
  if (close == std::string::npos || close + 2 >= text.size() || text[close + 2] != 'Z') {
    return false;
  }
  std::error_code ec;
  size_t threads = 0;
  for (auto it = std::filesystem::directory_iterator(dir + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++threads;
  }
  return !ec && threads <= 1;
}

class FaultCatalogueTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) {
      for (const auto& s : supervisors_) s->DumpLog(std::cerr, 150);
    }
    while (!supervisors_.empty()) supervisors_.pop_back();
  }

  SupervisorProcess& Launch(SupervisorOptions options) {
    supervisors_.push_back(std::make_unique<SupervisorProcess>(std::move(options)));
    SupervisorProcess& s = *supervisors_.back();
    EXPECT_TRUE(s.Start());
    return s;
  }
  // Launches and waits until every queue is served (fails the test if not).
  SupervisorProcess& LaunchReady(SupervisorOptions options) {
    SupervisorProcess& s = Launch(std::move(options));
    EXPECT_TRUE(s.WaitReady(30s).has_value()) << "the tree never became ready";
    return s;
  }
  SupervisorProcess& sup() { return *supervisors_.front(); }

  // A directory for worker scripts, outliving every supervisor of the test.
  std::string ScriptDir() {
    if (!scripts_) scripts_.emplace("hg-fc");
    return scripts_->path();
  }
  // Writes an executable shell script; its path.
  std::string Script(const std::string& name, const std::string& body) {
    const std::string path = ScriptDir() + "/" + name;
    std::ofstream(path) << "#!/bin/sh\n" << body;
    ::chmod(path.c_str(), 0755);
    return path;
  }

  // The dev server's address: the CLI goes there directly, so a bridge host
  // killed mid-call cannot lose a client's request or reply.
  std::string Target() {
    if (target_.empty()) {
      auto s = sup().Status();
      if (s) target_ = s->target();
    }
    EXPECT_FALSE(target_.empty()) << "no dev server address";
    return target_;
  }

  // `hourglass workflow start` with a 2 s workflow-task timeout (a task
  // taken by a process that then died comes back after it); fails the test
  // if the CLI did not succeed.
  void StartWorkflow(const std::string& queue, const std::string& id, const std::string& input) {
    auto r = RunHourglassCli(
        {"workflow", "start", "--target", Target(), "--task-queue", queue, "--type", "KitchenSink",
         "--workflow-id", id, "--task-timeout", "2", "--input", input},
        30s, sup().dir() + "/cli.err");
    EXPECT_TRUE(r.ok()) << "workflow start " << id << ": " << r.out << " "
                        << LastLine(sup().dir() + "/cli.err");
    if (r.ok()) started_.push_back(id);
  }

  // StartWorkflow, repeated until the start is known to have happened: the
  // dev server may be dead (connection refused) or may have died after
  // committing the start (the CLI fails, a retry finds it already started,
  // exit 5).
  void StartWorkflowRetrying(const std::string& queue, const std::string& id,
                             const std::string& input) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = RunHourglassCli(
          {"workflow", "start", "--target", Target(), "--task-queue", queue, "--type",
           "KitchenSink", "--workflow-id", id, "--task-timeout", "2", "--input", input},
          30s, sup().dir() + "/cli.err");
      if (r.ok() || ExitedWith(r.status, 5)) {
        started_.push_back(id);
        return;
      }
      SupervisorProcess::SleepMs(200);
    }
    ADD_FAILURE() << "workflow start " << id << ": " << LastLine(sup().dir() + "/cli.err");
  }

  // The result of `id`, which must be COMPLETED. The CLI is retried until
  // the deadline: the dev server it talks to may be restarting.
  json Result(const std::string& id) {
    const auto deadline = std::chrono::steady_clock::now() + 90s;
    std::string last_error;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = RunHourglassCli(
          {"workflow", "result", "--target", Target(), "--workflow-id", id, "--timeout", "30"}, 40s,
          sup().dir() + "/cli.err");
      if (r.ok()) {
        const json j = json::parse(r.out, nullptr, false);
        EXPECT_TRUE(j.is_object()) << r.out;
        if (!j.is_object()) return json();
        EXPECT_EQ(j.value("status", ""), "COMPLETED") << id << ": " << r.out;
        return j.value("result", json());
      }
      last_error = LastLine(sup().dir() + "/cli.err");
      SupervisorProcess::SleepMs(200);
    }
    ADD_FAILURE() << "no result for " << id << ": " << last_error;
    return json();
  }

  // How many close events the history of `id` holds, and that the one is a
  // completion.
  void ExpectClosedOnce(const std::string& id) {
    auto r = RunHourglassCli(
        {"workflow", "history", "--target", Target(), "--workflow-id", id, "--full"}, 30s,
        sup().dir() + "/cli.err");
    ASSERT_TRUE(r.ok()) << "workflow history " << id << ": " << LastLine(sup().dir() + "/cli.err");
    size_t closes = 0;
    for (const auto& e : kCloseEvents) closes += CountOccurrences(r.out, e);
    EXPECT_EQ(closes, 1u) << id << " closed " << closes << " times";
    EXPECT_EQ(CountOccurrences(r.out, "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED"), 1u) << id;
  }

  // Every workflow started by this test: its result is `expected(id)` and it
  // closed exactly once.
  template <typename Expected>
  void ExpectEveryWorkflowCompletedOnce(Expected expected) {
    for (const auto& id : started_) {
      EXPECT_EQ(Result(id), json(expected(id))) << id;
      ExpectClosedOnce(id);
    }
  }

  int CountLogLines(SupervisorProcess& s, const std::string& needle) {
    const auto lines = s.LogLines();
    return static_cast<int>(std::count_if(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.find(needle) != std::string::npos;
    }));
  }
  int CountLogLines(const std::string& needle) { return CountLogLines(sup(), needle); }

  // Polls the log until a line holds `needle`.
  bool WaitLogLine(SupervisorProcess& s, const std::string& needle,
                   std::chrono::milliseconds timeout = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (CountLogLines(s, needle) > 0) return true;
      SupervisorProcess::SleepMs(5);
    }
    return false;
  }

  // The pids "started '<id>' (pid N)" lines name for `id`, in order.
  std::vector<pid_t> StartedPids(SupervisorProcess& s, const std::string& id) {
    std::vector<pid_t> out;
    const std::regex started("started '" + id + R"(' \(pid (\d+)\))");
    for (const auto& line : s.LogLines()) {
      std::smatch m;
      if (std::regex_search(line, m, started)) out.push_back(std::stoi(m[1]));
    }
    return out;
  }

  int Restarts(const v1::CtlStatusReply& s, const std::string& id) {
    const v1::CtlNode* n = FindNode(s, id);
    return n == nullptr ? -1 : n->restart_count();
  }
  int Restarts(const std::string& id) {
    auto s = sup().Status();
    return s ? Restarts(*s, id) : -1;
  }

  // `ctl stop` (or, with `sigterm`, SIGTERM); then: exit 0, no process of
  // the tree left alive or unreaped, no socket file left in the runtime
  // directory.
  void StopAndExpectClean(SupervisorProcess& s, bool sigterm = false) {
    std::set<pid_t> pids = s.KnownChildPids();
    if (auto status = s.Status()) {
      for (const auto& n : status->nodes()) {
        if (n.pid() > 0) pids.insert(n.pid());
      }
    }
    for (pid_t p : testing::Descendants(s.pid())) pids.insert(p);
    if (sigterm) {
      s.Signal(SIGTERM);
    } else {
      v1::CtlRequest stop;
      stop.mutable_stop();
      auto reply = s.Ctl(stop, 60s);
      EXPECT_TRUE(reply.has_value() && reply->has_done())
          << (reply ? reply->ShortDebugString() : std::string("<no reply>"));
    }
    const auto exit = s.WaitExit(60s);
    EXPECT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);
    ExpectNothingLeft(s, pids);
  }

  void ExpectNothingLeft(SupervisorProcess& s, const std::set<pid_t>& pids) {
    // The supervisor reaped its children before exiting: a pid that still
    // exists (even as a zombie) was left behind. A few seconds' grace only
    // for the kernel to finish tearing a process down.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    auto left = [&] {
      std::vector<pid_t> out;
      for (pid_t p : pids) {
        if (ProcessExists(p) || ProcessGroupAlive(p)) out.push_back(p);
      }
      return out;
    };
    while (!left().empty() && std::chrono::steady_clock::now() < deadline) {
      SupervisorProcess::SleepMs(20);
    }
    for (pid_t p : left()) {
      ADD_FAILURE() << "pid " << p << (ProcessAlive(p) ? " is still running" : "")
                    << (ProcessExists(p) && !ProcessAlive(p) ? " is a zombie" : "")
                    << (ProcessGroupAlive(p) ? " (its process group still has members)" : "");
    }
    const auto sockets = testing::SocketFilesUnder(s.runtime_dir());
    EXPECT_TRUE(sockets.empty()) << "socket file left: " << sockets.front();
  }

  // Declared first, destroyed last: the scripts outlive the processes.
  std::optional<testing::TempDir> scripts_;
  std::vector<std::unique_ptr<SupervisorProcess>> supervisors_;
  std::vector<std::string> started_;
  std::string target_;
};

// --- Rows of §5.1 ---------------------------------------------------------------

// #2: the bridge host dies while every worker is parked in a long poll and
// workflows are in flight (timers). One cascade; the workers' exits (6, the
// bridge host lost) belong to it and count nothing in their group; every
// workflow completes, once.
TEST_F(FaultCatalogueTest, Row02_BridgeHostKilledDuringLongPolls_OneCascadeWorkflowsCompleteOnce) {
  SupervisorProcess& s = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  for (const std::string q : {"a", "b"}) {
    for (int i = 0; i < 2; ++i) {
      const std::string id = "row2-" + q + std::to_string(i);
      StartWorkflow(q, id, TimerThenReturn(1000, "done " + id));
    }
  }
  ASSERT_FALSE(HasFailure());
  // The first tasks ran (the timers are pending) and both workers are back
  // in their long polls, parked in the bridge host.
  auto before = s.WaitStatus(
      [](const v1::CtlStatusReply& st) {
        const v1::CtlNode* bh = FindNode(st, "bridgehost");
        return bh != nullptr && bh->has_stats() && bh->stats().parked_polls() >= 2;
      },
      20s);
  ASSERT_TRUE(before.has_value()) << "the workers never parked a poll";
  const pid_t bridge = FindNode(*before, "bridgehost")->pid();
  ASSERT_EQ(::kill(bridge, SIGKILL), 0);

  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const v1::CtlNode* bh = FindNode(st, "bridgehost");
        const auto* a = FindEntry(st, "a");
        const auto* b = FindEntry(st, "b");
        return bh && bh->pid() != bridge && bh->state() == "running" && a && a->ready() && b &&
               b->ready();
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the tree did not come back";
  ExpectEveryWorkflowCompletedOnce([](const std::string& id) { return "done " + id; });
  auto last = s.Status();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->cascades(), 1u);
  EXPECT_EQ(Restarts(*last, "bridgehost"), 1);
  EXPECT_EQ(Restarts(*last, "devserver"), 0);
  EXPECT_EQ(FindNode(*last, "workers")->restarts_in_period(), 0)
      << "a worker's exit during the cascade was counted against its group";
  EXPECT_EQ(CountLogLines("child_terminated: 'worker:"), 0);
  StopAndExpectClean(s);
}

// #6: the bridge host dies again while the cascade after its first death is
// under way (the new bridge host is killed as soon as the log names it,
// before it can report READY in practice). The tree converges: one bridge
// host, exactly one worker process per queue, two restarts counted.
TEST_F(FaultCatalogueTest, Row06_BridgeHostKilledDuringCascade_ConvergesNoDuplicateWorker) {
  SupervisorProcess& s = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t first = FindNode(*before, "bridgehost")->pid();
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  // The second bridge host: killed the moment it is spawned.
  pid_t second = 0;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (second == 0 && std::chrono::steady_clock::now() < deadline) {
    const auto pids = StartedPids(s, "bridgehost");
    if (pids.size() >= 2) second = pids[1];
    SupervisorProcess::SleepMs(1);
  }
  ASSERT_GT(second, 0) << "no second bridge host was started";
  ASSERT_EQ(::kill(second, SIGKILL), 0);

  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const v1::CtlNode* bh = FindNode(st, "bridgehost");
        const auto* a = FindEntry(st, "a");
        const auto* b = FindEntry(st, "b");
        return bh && bh->pid() != first && bh->pid() != second && bh->state() == "running" && a &&
               a->ready() && b && b->ready();
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the tree did not converge";
  EXPECT_EQ(Restarts(*after, "bridgehost"), 2);
  EXPECT_EQ(after->registry_size(), 2);
  // Exactly the tree's processes run under the supervisor: no second worker
  // for a queue, no leftover bridge host.
  std::multiset<std::string> kinds;
  for (pid_t p : testing::Descendants(s.pid())) {
    std::ifstream comm("/proc/" + std::to_string(p) + "/comm");
    std::string name;
    std::getline(comm, name);
    kinds.insert(name);
  }
  EXPECT_EQ(kinds.count("hourglass-worke"), 2u) << "worker processes";  // comm: 15 characters
  EXPECT_EQ(kinds.count("hourglass-bridg"), 1u) << "bridge host processes";
  const auto bh_stats = FindNode(*after, "bridgehost");
  if (bh_stats->has_stats()) {
    EXPECT_EQ(bh_stats->stats().registered_task_queues_size(), 2);
  }
  StartWorkflow("a", "row6-a", ActivityThenReturn("a converged"));
  StartWorkflow("b", "row6-b", ActivityThenReturn("b converged"));
  ExpectEveryWorkflowCompletedOnce(
      [](const std::string& id) { return id == "row6-a" ? "a converged" : "b converged"; });
  StopAndExpectClean(s);
}

// #10: a worker dies in the middle of its registration (the bridge host is
// held between DescribeNamespace and creating the handle by a delay fault
// point). The bridge host keeps no stale registration: the replacement
// registers (no ALREADY_REGISTERED, exit 7) and serves.
TEST_F(FaultCatalogueTest, Row10_WorkerKilledDuringHandshake_ReplacementRegisters) {
  SupervisorProcess& s = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  auto armed =
      RunHourglassCli({"ctl", "--runtime-dir", s.runtime_dir(), "failpoint", "set", "bridgehost",
                       "bridgehost.register_worker.before_reply", "1*delay(2000)"},
                      20s, s.dir() + "/ctl.err");
  ASSERT_TRUE(armed.ok()) << LastLine(s.dir() + "/ctl.err");
  const pid_t first = FindEntry(*s.Status(), "a")->pid();
  // The replacement registers and is held at the point ...
  ASSERT_EQ(::kill(first, SIGKILL), 0);
  ASSERT_TRUE(
      WaitLogLine(s, "fault point bridgehost.register_worker.before_reply fired: 1*delay(2000)"))
      << "the replacement never reached the registration";
  const auto pids = StartedPids(s, "worker:a");
  ASSERT_EQ(pids.size(), 2u);
  // ... and dies there, its registration half done.
  ASSERT_EQ(::kill(pids[1], SIGKILL), 0);

  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        return a && a->ready() && a->pid() != first && a->pid() != pids[1];
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "no replacement registered";
  EXPECT_EQ(Restarts(*after, "worker:a"), 2);
  EXPECT_EQ(Restarts(*after, "bridgehost"), 0);
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_EQ(CountLogLines("ALREADY_REGISTERED"), 0);
  EXPECT_EQ(CountLogLines("exit 7"), 0);
  const v1::CtlNode* bh = FindNode(*after, "bridgehost");
  if (bh->has_stats()) {
    ASSERT_EQ(bh->stats().registered_task_queues_size(), 1);
    EXPECT_EQ(bh->stats().registered_task_queues(0), "a");
  }
  StartWorkflow("a", "row10", ActivityThenReturn("registered"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "registered"; });
  StopAndExpectClean(s);
}

// #11: a worker is SIGKILLed while the tree stops (it is draining an
// activity in flight). Part of the stop: not restarted, not counted, the
// supervisor exits 0. The workflow is not lost: a new tree on the same
// database finishes it.
TEST_F(FaultCatalogueTest, Row11_WorkerKilledDuringTreeStop_NoRestartExitsZero) {
  SupervisorProcess& s = LaunchReady({.queues = {"a"}, .args = {"--shutdown-ms", "20000"}});
  ASSERT_FALSE(HasFailure());
  StartWorkflow("a", "row11", SlowActivityThenReturn(4000, "finished later"));
  auto inflight = s.WaitStatus(
      [](const v1::CtlStatusReply& st) {
        const auto* w = FindNode(st, "worker:a");
        return w && w->has_stats() && w->stats().inflight_activities() > 0;
      },
      20s);
  ASSERT_TRUE(inflight.has_value()) << "the activity never showed in flight";
  const pid_t worker = FindEntry(*inflight, "a")->pid();
  std::set<pid_t> pids = s.KnownChildPids();
  s.Signal(SIGTERM);
  // The worker is draining: it said so.
  ASSERT_TRUE(WaitLogLine(s, "worker a: stopping")) << "the worker never began to drain";
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  const auto exit = s.WaitExit(60s);
  ASSERT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);
  EXPECT_EQ(StartedPids(s, "worker:a").size(), 1u) << "the worker was restarted during the stop";
  EXPECT_EQ(StartedPids(s, "bridgehost").size(), 1u);
  EXPECT_EQ(CountLogLines("shutdown_error: 'worker:a'"), 1);
  EXPECT_EQ(CountLogLines("reached_max_restart_intensity"), 0);
  ExpectNothingLeft(s, pids);

  // Nothing lost: the next tree on the same directory completes it.
  target_.clear();
  supervisors_.push_back(std::make_unique<SupervisorProcess>(
      SupervisorOptions{.queues = {"a"}, .dir = s.dir(), .log_name = "second.log"}));
  SupervisorProcess& next = *supervisors_.back();
  ASSERT_TRUE(next.Start());
  ASSERT_TRUE(next.WaitReady(30s).has_value());
  std::swap(supervisors_.front(), supervisors_.back());  // sup() is the live tree now
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "finished later"; });
  StopAndExpectClean(next);
}

// #12: the bridge host dies while the tree stops: here exactly while it
// unregisters a stopping worker (fault point, armed from the start; nothing
// unregisters before the stop). The stop goes on, nothing is restarted, the
// supervisor exits 0, and the dead bridge host's socket file is gone too
// (nobody rebinds it: the supervisor removes it at exit).
TEST_F(FaultCatalogueTest, Row12_BridgeHostKilledDuringTreeStop_NotRestartedExitsZero) {
  SupervisorProcess& s = LaunchReady(
      {.queues = {"a"},
       .env = {"HOURGLASS_FAILPOINTS=bridgehost.unregister_worker.before_reply=1*crash"}});
  ASSERT_FALSE(HasFailure());
  StartWorkflow("a", "row12", ActivityThenReturn("before the stop"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "before the stop"; });
  StopAndExpectClean(s);
  EXPECT_EQ(CountLogLines("fault point bridgehost.unregister_worker.before_reply fired: 1*crash"),
            1);
  EXPECT_EQ(CountLogLines("shutdown_error: 'bridgehost'"), 1);
  EXPECT_EQ(StartedPids(s, "bridgehost").size(), 1u) << "the bridge host was restarted";
  EXPECT_EQ(StartedPids(s, "worker:a").size(), 1u) << "the worker was restarted";
  EXPECT_EQ(CountLogLines("cascade after"), 0);
}

// #14: a worker killed again and again, below the workers group's rate
// (5 in 2 s; one kill per 600 ms, so at most 4 in any 2 s), never makes the
// group give up, and each restart costs a bounded number of log lines (a
// storm must not flood the log: measured 6 lines, ~940 bytes at info).
TEST_F(FaultCatalogueTest, Row14_StormBelowTheRate_NeverEscalatesLogBoundedPerRestart) {
  SupervisorProcess& s = LaunchReady({.config_toml = R"(
[workers]
max_restarts = 5
period_ms = 2000
[[queue]]
name = "a"
)"});
  ASSERT_FALSE(HasFailure());
  const size_t lines_before = s.LogLines().size();
  const size_t bytes_before = s.Log().size();
  constexpr int kKills = 15;
  pid_t worker = 0;
  for (int i = 0; i < kKills; ++i) {
    auto up = s.WaitStatus(
        [&](const v1::CtlStatusReply& st) {
          const auto* a = FindEntry(st, "a");
          return a && a->ready() && a->pid() != worker;
        },
        10s);
    ASSERT_TRUE(up.has_value()) << "kill " << i << ": the worker did not come back";
    worker = FindEntry(*up, "a")->pid();
    ASSERT_EQ(::kill(worker, SIGKILL), 0);
    SupervisorProcess::SleepMs(600);
  }
  auto last = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        return a && a->ready() && a->pid() != worker;
      },
      10s);
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(Restarts(*last, "worker:a"), kKills);
  EXPECT_EQ(Restarts(*last, "bridgehost"), 0);
  EXPECT_EQ(CountLogLines("reached_max_restart_intensity"), 0);
  const double lines = static_cast<double>(s.LogLines().size() - lines_before) / kKills;
  const double bytes = static_cast<double>(s.Log().size() - bytes_before) / kKills;
  EXPECT_LE(lines, 10.0) << "log lines per worker restart";
  EXPECT_LE(bytes, 2048.0) << "log bytes per worker restart";
  StartWorkflow("a", "row14", ActivityThenReturn("after the storm"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "after the storm"; });
  StopAndExpectClean(s);
}

// #15: the bridge host and a worker are SIGKILLed together and reaped in
// one batch: the supervisor is SIGSTOPped while both die and resumed once
// both are zombies, so one waitpid sweep collects them. Exactly one
// cascade; the worker's exit is part of it, never counted by its group.
TEST_F(FaultCatalogueTest, Row15_BridgeAndWorkerKilledTogether_ExactlyOneCascade) {
  SupervisorProcess& s = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t bridge = FindNode(*before, "bridgehost")->pid();
  const pid_t worker_a = FindEntry(*before, "a")->pid();
  const pid_t worker_b = FindEntry(*before, "b")->pid();
  s.Signal(SIGSTOP);
  ASSERT_EQ(::kill(bridge, SIGKILL), 0);
  ASSERT_EQ(::kill(worker_a, SIGKILL), 0);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!(Reapable(bridge) && Reapable(worker_a)) && std::chrono::steady_clock::now() < deadline) {
    SupervisorProcess::SleepMs(5);
  }
  const bool both_dead = Reapable(bridge) && Reapable(worker_a);
  s.Signal(SIGCONT);
  ASSERT_TRUE(both_dead) << "the killed processes did not die";

  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const v1::CtlNode* bh = FindNode(st, "bridgehost");
        const auto* a = FindEntry(st, "a");
        const auto* b = FindEntry(st, "b");
        return bh && bh->pid() != bridge && bh->state() == "running" && a && a->ready() &&
               a->pid() != worker_a && b && b->ready() && b->pid() != worker_b;
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the tree did not come back";
  EXPECT_EQ(after->cascades(), 1u);
  EXPECT_EQ(Restarts(*after, "bridgehost"), 1);
  EXPECT_EQ(FindNode(*after, "workers")->restarts_in_period(), 0);
  EXPECT_EQ(CountLogLines("child_terminated: 'worker:a'"), 0);
  EXPECT_EQ(StartedPids(s, "worker:a").size(), 2u) << "worker:a started more than once again";
  EXPECT_EQ(StartedPids(s, "bridgehost").size(), 2u);
  StartWorkflow("a", "row15", ActivityThenReturn("one cascade"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "one cascade"; });
  StopAndExpectClean(s);
}

// #15 as it usually happens: SIGKILLed back to back, with the supervisor
// running. The worker tends to become reapable first (the bridge host has
// more threads to tear down), so its exit may be handled before the bridge
// host's and counted by its group (docs/fault-catalogue.md, findings); what
// must hold whatever the order: exactly one cascade, the tree converges,
// nothing is lost.
TEST_F(FaultCatalogueTest, Row15_BridgeAndWorkerKilledBackToBack_OneCascadeConverges) {
  SupervisorProcess& s = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t bridge = FindNode(*before, "bridgehost")->pid();
  const pid_t worker_a = FindEntry(*before, "a")->pid();
  StartWorkflow("a", "row15b-a", TimerThenReturn(500, "a survived"));
  StartWorkflow("b", "row15b-b", TimerThenReturn(500, "b survived"));
  ASSERT_EQ(::kill(bridge, SIGKILL), 0);
  ASSERT_EQ(::kill(worker_a, SIGKILL), 0);
  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const v1::CtlNode* bh = FindNode(st, "bridgehost");
        const auto* a = FindEntry(st, "a");
        const auto* b = FindEntry(st, "b");
        return bh && bh->pid() != bridge && bh->state() == "running" && a && a->ready() && b &&
               b->ready();
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the tree did not come back";
  ExpectEveryWorkflowCompletedOnce(
      [](const std::string& id) { return id == "row15b-a" ? "a survived" : "b survived"; });
  auto last = s.Status();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->cascades(), 1u);
  EXPECT_EQ(Restarts(*last, "bridgehost"), 1);
  EXPECT_LE(FindNode(*last, "workers")->restarts_in_period(), 1);
  EXPECT_EQ(CountLogLines("reached_max_restart_intensity"), 0);
  StopAndExpectClean(s);
}

// #17: a worker is SIGSTOPped. The other queue keeps being served (the
// bridge host does not block on the stopped worker), the watchdog kills the
// stopped one and only it is restarted.
TEST_F(FaultCatalogueTest, Row17_WorkerSigStop_OthersUnaffectedWatchdogKillsIt) {
  SupervisorProcess& s = LaunchReady(
      {.queues = {"a", "b"}, .args = {"--heartbeat-ms", "100", "--watchdog-ms", "2000"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t bridge = FindNode(*before, "bridgehost")->pid();
  const pid_t worker_a = FindEntry(*before, "a")->pid();
  const pid_t worker_b = FindEntry(*before, "b")->pid();
  ASSERT_EQ(::kill(worker_a, SIGSTOP), 0);
  StartWorkflow("b", "row17-b", ActivityThenReturn("b served"));
  EXPECT_EQ(Result("row17-b"), json("b served"));

  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        return a && a->ready() && a->pid() != worker_a;
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the stopped worker was not replaced";
  EXPECT_FALSE(ProcessAlive(worker_a)) << "the stopped worker is still there";
  EXPECT_EQ(FindEntry(*after, "b")->pid(), worker_b);
  EXPECT_EQ(FindNode(*after, "bridgehost")->pid(), bridge);
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_EQ(Restarts(*after, "worker:a"), 1);
  EXPECT_EQ(Restarts(*after, "worker:b"), 0);
  EXPECT_GE(CountLogLines("worker:a: silent on its control channel"), 1);
  StartWorkflow("a", "row17-a", ActivityThenReturn("a served"));
  ExpectEveryWorkflowCompletedOnce(
      [](const std::string& id) { return id == "row17-a" ? "a served" : "b served"; });
  StopAndExpectClean(s);
}

// #19: the supervisor is SIGSTOPped. Its children keep serving: no request
// goes through it. Resumed, it carries on with nothing restarted.
TEST_F(FaultCatalogueTest, Row19_SupervisorSigStop_ChildrenKeepServing) {
  SupervisorProcess& s = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  const std::string target = Target();
  s.Signal(SIGSTOP);
  StartWorkflow("a", "row19", ActivityThenReturn("served without the supervisor"));
  EXPECT_EQ(Result("row19"), json("served without the supervisor"));
  s.Signal(SIGCONT);
  auto after = s.WaitReady(20s);
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_EQ(Restarts(*after, "bridgehost"), 0);
  EXPECT_EQ(Restarts(*after, "worker:a"), 0);
  EXPECT_EQ(Restarts(*after, "devserver"), 0);
  ExpectClosedOnce("row19");
  StopAndExpectClean(s);
}

// #21 and #30 (at a stop): a worker that ignores SIGTERM, and whose child
// does too. At the tree stop it is SIGKILLed after its shutdown timeout,
// with its whole process group: the grandchild goes too. The supervisor
// exits 0.
TEST_F(FaultCatalogueTest, Row21_WorkerIgnoresSigTerm_KilledWithItsGroupAfterShutdownTimeout) {
  const std::string pidfile = ScriptDir() + "/grandchild.pid";
  // SIG_IGN is inherited: the background sleep ignores SIGTERM too.
  const std::string stubborn = Script("stubborn.sh", "trap '' TERM\nsleep 600 &\necho $! > " +
                                                         pidfile + "\nwhile :; do wait; done\n");
  // No READY ever comes from a script: a long ready timeout and watchdog
  // keep the tree from killing it before the stop.
  SupervisorProcess& s = Launch(
      {.queues = {"a", "stubborn=" + stubborn},
       .args = {"--shutdown-ms", "1000", "--ready-ms", "600000", "--watchdog-ms", "600000"}});
  auto up = s.WaitStatus(
      [](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        const v1::CtlNode* w = FindNode(st, "worker:stubborn");
        return a && a->ready() && w && w->pid() > 0;
      },
      30s);
  ASSERT_TRUE(up.has_value()) << "the tree never started both workers";
  pid_t grandchild = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (grandchild == 0 && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(pidfile);
    if (!(in >> grandchild)) grandchild = 0;
    SupervisorProcess::SleepMs(10);
  }
  ASSERT_GT(grandchild, 0) << "the script never started its child";
  ASSERT_TRUE(ProcessAlive(grandchild));

  std::set<pid_t> pids = s.KnownChildPids();
  pids.insert(grandchild);
  s.Signal(SIGTERM);
  const auto exit = s.WaitExit(60s);
  EXPECT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);
  EXPECT_EQ(CountLogLines("'worker:stubborn' (pid " +
                          std::to_string(FindNode(*up, "worker:stubborn")->pid()) +
                          ") did not stop within its shutdown"),
            1);
  EXPECT_EQ(CountLogLines("'worker:a' (pid " + std::to_string(FindEntry(*up, "a")->pid()) +
                          ") did not stop within its shutdown"),
            0)
      << "the well-behaved worker was killed too";
  ExpectNothingLeft(s, pids);
}

// #22: the socket file is removed while B lives. Existing connections are
// unaffected; B notices within its path check (1 s) and binds the path
// again, so a worker restarted afterwards reaches the same B: nothing else
// restarts, nothing escalates. All defaults.
TEST_F(FaultCatalogueTest, Row22_BridgeSocketUnlinked_ExistingServeAndTheBridgeHostBindsItAgain) {
  SupervisorProcess& s = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t bridge = FindNode(*before, "bridgehost")->pid();
  const pid_t worker = FindEntry(*before, "a")->pid();
  ASSERT_EQ(::unlink(s.bridge_socket().c_str()), 0);
  StartWorkflow("a", "row22-existing", ActivityThenReturn("over the old connection"));
  EXPECT_EQ(Result("row22-existing"), json("over the old connection"));

  // Polled: the check runs on B's timer.
  struct stat socket_file {};
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (::stat(s.bridge_socket().c_str(), &socket_file) != 0 &&
         std::chrono::steady_clock::now() < deadline) {
    SupervisorProcess::SleepMs(20);
  }
  ASSERT_TRUE(S_ISSOCK(socket_file.st_mode)) << "bridge.sock was not bound again";
  EXPECT_GE(CountLogLines("had been removed or replaced: bound it again"), 1);

  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        return a && a->ready() && a->pid() != worker;
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the restarted worker did not reach the bridge host";
  EXPECT_EQ(FindNode(*after, "bridgehost")->pid(), bridge);
  EXPECT_EQ(Restarts(*after, "bridgehost"), 0);
  EXPECT_EQ(Restarts(*after, "devserver"), 0);
  EXPECT_EQ(CountLogLines("exit 3"), 0) << "a worker failed to reach the bridge host";
  EXPECT_EQ(CountLogLines("reached_max_restart_intensity"), 0);
  StartWorkflow("a", "row22-after", ActivityThenReturn("over the path bound again"));
  ExpectEveryWorkflowCompletedOnce([](const std::string& id) {
    return id == "row22-after" ? "over the path bound again" : "over the old connection";
  });
  StopAndExpectClean(s);
}

// The supervisor's CPU time so far (utime + stime), in clock ticks.
long CpuTicks(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) {
      stime = std::stol(field);
      break;
    }
  }
  return utime + stime;
}

// The lowest descriptor number `pid` does not use: with RLIMIT_NOFILE set to
// it, the process can open nothing more (the numbers below are taken, the
// ones above over the limit), while what it holds stays usable.
int LowestFreeFd(pid_t pid) {
  std::set<int> used;
  for (const auto& e :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    used.insert(std::stoi(e.path().filename().string()));
  }
  int n = 0;
  while (used.count(n) != 0) ++n;
  return n;
}

// #26: the supervisor runs out of descriptors (its RLIMIT_NOFILE lowered
// from outside to exactly what it holds). A killed worker cannot be
// restarted (socketpair/pipe: EMFILE): the spawn is retried after 100, 200,
// 400 ms..., not counted against intensity (counted, the retries would
// have used up every level in a millisecond and stopped the tree with exit
// 9), the rest of the tree runs on. A ctl connection waits in the backlog:
// accept fails too, and pauses instead of spinning the loop. Once the limit
// is raised again, the worker starts, the waiting ctl request is answered,
// and workflows complete.
TEST_F(FaultCatalogueTest, Row26_SupervisorOutOfDescriptors_SpawnRetriedUncountedTreeLivesOn) {
#if defined(HOURGLASS_SANITIZED)
  // UBSan's vptr check tests whether memory is readable by writing it to a
  // pipe; with no descriptor left that fails, and it reports every virtual
  // call as "invalid vptr" and aborts the supervisor. Runs in the default
  // build.
  GTEST_SKIP() << "sanitizers need descriptors of their own";
#endif
  SupervisorProcess& s = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t worker = FindEntry(*before, "a")->pid();
  const pid_t bridge = FindNode(*before, "bridgehost")->pid();
  struct rlimit original {};
  ASSERT_EQ(::prlimit(s.pid(), RLIMIT_NOFILE, nullptr, &original), 0);
  auto exhaust = [&] {
    struct rlimit tight = original;
    tight.rlim_cur = static_cast<rlim_t>(LowestFreeFd(s.pid()));
    return ::prlimit(s.pid(), RLIMIT_NOFILE, &tight, nullptr) == 0;
  };
  SupervisorProcess::SleepMs(200);  // the status connection closed on its side
  ASSERT_TRUE(exhaust());
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  // Reaping the worker freed its descriptors' numbers: once its restart has
  // failed, taken away again.
  for (int i = 0; i < 100 && CountLogLines("short of resources") == 0; ++i) {
    SupervisorProcess::SleepMs(50);
  }
  ASSERT_GE(CountLogLines("short of resources"), 1) << "the restart did not run out of fds";
  ASSERT_TRUE(exhaust());
  auto waiting = testing::CtlConnection::Connect(s.control_socket());
  ASSERT_TRUE(waiting.has_value()) << "connect goes to the backlog";
  v1::CtlRequest status;
  status.mutable_status()->set_stats_timeout_ms(100);
  ASSERT_TRUE(ipc::WriteMessage(waiting->fd(), status));
  const long cpu_before = CpuTicks(s.pid());
  SupervisorProcess::SleepMs(1500);
  const long cpu_used = CpuTicks(s.pid()) - cpu_before;
  EXPECT_FALSE(s.Exited()) << "the supervisor gave up for want of descriptors";
  // Not a performance figure: a loop spinning on a readable listening socket
  // or on immediate spawn retries would use the whole 1.5 s.
  EXPECT_LT(cpu_used, ::sysconf(_SC_CLK_TCK) / 2) << "the supervisor spun while out of fds";
  EXPECT_GE(CountLogLines("(the supervisor is short of resources); retrying in"), 3);
  EXPECT_EQ(CountLogLines("not accepting for 100 ms at a time"), 1) << "logged once per shortage";
  EXPECT_EQ(CountLogLines("reached_max_restart_intensity"), 0);
  EXPECT_TRUE(testing::ProcessAlive(bridge)) << "the bridge host was touched";

  ASSERT_EQ(::prlimit(s.pid(), RLIMIT_NOFILE, &original, nullptr), 0);
  auto answered = waiting->Read(10s);
  ASSERT_TRUE(answered.has_value()) << "the ctl request that waited was never answered";
  EXPECT_TRUE(answered->has_status());
  EXPECT_EQ(CountLogLines("control socket: accepting on"), 1);
  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        return a && a->ready() && a->pid() != worker;
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the worker did not come back once descriptors were";
  EXPECT_EQ(Restarts(*after, "worker:a"), 1);
  EXPECT_EQ(Restarts(*after, "bridgehost"), 0);
  EXPECT_EQ(FindNode(*after, "bridgehost")->pid(), bridge);
  StartWorkflow("a", "row26", ActivityThenReturn("after the shortage"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "after the shortage"; });
  StopAndExpectClean(s);
}

// #24: the disk under the supervisor's log is full: every write of its
// stderr fails (/dev/full: ENOSPC). Logging must never stop the supervisor:
// the tree starts, serves, restarts a killed worker and stops with exit 0.
TEST_F(FaultCatalogueTest, Row24_LogWritesFail_TheTreeServesRestartsAndStops) {
  SupervisorProcess& s = LaunchReady({.queues = {"a"}, .stderr_path = "/dev/full"});
  ASSERT_FALSE(HasFailure());
  StartWorkflow("a", "row24-before", ActivityThenReturn("logged nowhere"));
  EXPECT_EQ(Result("row24-before"), json("logged nowhere"));
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t worker = FindEntry(*before, "a")->pid();
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        return a && a->ready() && a->pid() != worker;
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the killed worker was not restarted";
  EXPECT_EQ(Restarts(*after, "worker:a"), 1);
  StartWorkflow("a", "row24-after", ActivityThenReturn("logged nowhere"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "logged nowhere"; });
  StopAndExpectClean(s);
}

// #25: whoever reads the supervisor's stderr stops reading (a hung journal, a
// stopped pager): here a FIFO the test holds open and never reads. Once the
// pipe is full, a blocking write would stop the supervisor, and with it the
// draining of its children's output, which would stop them in turn. Lines
// are dropped instead: a hundred worker restarts (each logged) fill the pipe,
// and the tree still restarts, answers, serves and stops.
TEST_F(FaultCatalogueTest, Row25_LogReaderStalled_TheTreeGoesOnAndLinesAreDropped) {
  const std::string fifo = ScriptDir() + "/stderr.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // Held open for reading (O_RDWR: the open does not wait for a writer) and
  // never read.
  ipc::UniqueFd never_read(::open(fifo.c_str(), O_RDWR | O_CLOEXEC));
  ASSERT_TRUE(never_read);
  SupervisorProcess& s = LaunchReady({.queues = {"a"}, .stderr_path = fifo, .log_level = "debug"});
  ASSERT_FALSE(HasFailure());
  constexpr int kRestarts = 100;
  for (int i = 0; i < kRestarts; ++i) {
    v1::CtlRequest restart;
    restart.mutable_restart()->set_child_id("worker:a");
    auto reply = s.Ctl(restart, 20s);
    ASSERT_TRUE(reply.has_value() && !reply->has_error())
        << "restart " << i << ": " << (reply ? reply->ShortDebugString() : "no reply");
  }
  int buffered = 0;
  ASSERT_EQ(::ioctl(never_read.get(), FIONREAD, &buffered), 0);
  // Full: 64 KiB less the unfilled tails of its pages (a line that does not
  // fit in a page's remainder takes a new page).
  EXPECT_GT(buffered, 56 * 1024) << "the pipe never filled: the test proves nothing";
  StartWorkflow("a", "row25", ActivityThenReturn("not logged"));
  EXPECT_EQ(Result("row25"), json("not logged"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "not logged"; });
  StopAndExpectClean(s);
}

// #5 and #34 with a stand-in bridge host (a script, through --bin-dir; the
// real dev server and worker binaries are linked beside it). Each failure
// before READY counts: the subsystem gives up on the second, the
// application (intensity 0) on the first escalation, and the supervisor
// exits 9. No worker is ever started: workers wait for the bridge host's
// READY (#4).
constexpr const char* kGiveUpOnSecondBridgeFailure = R"(
[application]
max_restarts = 0
period_ms = 60000
[subsystem]
max_restarts = 1
period_ms = 60000
)";

TEST_F(FaultCatalogueTest, Row05_BridgeHostDiesBeforeReadyRepeatedly_CountedThenGaveUp) {
  const std::string bin = ScriptDir() + "/bin";
  ASSERT_TRUE(std::filesystem::create_directory(bin));
  for (const char* name : {"hourglass-devserver", "hourglass-workerproc"}) {
    std::filesystem::create_symlink(testing::BinDir() + "/" + name, bin + "/" + name);
  }
  // SIGKILLs itself at once, before any READY.
  Script("bin/hourglass-bridgehost", "kill -9 $$\n");
  SupervisorProcess& s = Launch(
      {.queues = {"a"}, .args = {"--bin-dir", bin}, .config_toml = kGiveUpOnSecondBridgeFailure});
  const auto exit = s.WaitExit(60s);
  ASSERT_TRUE(ExitedWith(exit, exit_code::kGaveUp)) << DescribeStatus(exit);
  EXPECT_EQ(StartedPids(s, "bridgehost").size(), 2u);
  EXPECT_EQ(CountLogLines("child_terminated: 'bridgehost'"), 2) << "each death reported once";
  EXPECT_EQ(CountLogLines("supervisor 'subsystem': reached_max_restart_intensity"), 1);
  EXPECT_EQ(CountLogLines("supervisor 'application': reached_max_restart_intensity"), 1);
  EXPECT_EQ(CountLogLines("started 'worker:"), 0) << "a worker started without a bridge host";
  ExpectNothingLeft(s, s.KnownChildPids());
}

TEST_F(FaultCatalogueTest, Row34_BridgeHostNeverReady_ReadyTimeoutKillsCountedThenGaveUp) {
  const std::string bin = ScriptDir() + "/bin";
  ASSERT_TRUE(std::filesystem::create_directory(bin));
  for (const char* name : {"hourglass-devserver", "hourglass-workerproc"}) {
    std::filesystem::create_symlink(testing::BinDir() + "/" + name, bin + "/" + name);
  }
  // Runs, never reports READY.
  Script("bin/hourglass-bridgehost", "exec sleep 600\n");
  // 3 s: far beyond the real dev server's READY even on a loaded machine,
  // which has the same deadline.
  SupervisorProcess& s = Launch({.queues = {"a"},
                                 .args = {"--bin-dir", bin, "--ready-ms", "3000"},
                                 .config_toml = kGiveUpOnSecondBridgeFailure});
  const auto exit = s.WaitExit(60s);
  ASSERT_TRUE(ExitedWith(exit, exit_code::kGaveUp)) << DescribeStatus(exit);
  EXPECT_EQ(StartedPids(s, "bridgehost").size(), 2u);
  EXPECT_EQ(CountLogLines("failed (no READY within 3000ms): SIGKILL"), 2);
  EXPECT_EQ(CountLogLines("supervisor 'subsystem': reached_max_restart_intensity"), 1);
  EXPECT_EQ(CountLogLines("started 'worker:"), 0) << "a worker started without a bridge host";
  ExpectNothingLeft(s, s.KnownChildPids());
}

// #28 and #29 for workers (transient): a worker that exits 0 or 10
// (exit_code::kShutdown) on its own is not restarted, and nothing else
// moves; one that exits 3 is abnormal and is restarted.
TEST_F(FaultCatalogueTest, Row28_29_WorkerExitsZeroOrShutdown_NotRestarted) {
  const std::string zero = Script("zero.sh", "exit 0\n");
  const std::string ten = Script("ten.sh", "exit 10\n");
  const std::string marker = ScriptDir() + "/three.runs";
  // Exits 3 twice, then stays up (as a never-ready worker) so that the
  // group does not give up.
  const std::string three =
      Script("three.sh", "echo run >> " + marker + "\nif [ $(wc -l < " + marker +
                             ") -le 2 ]; then exit 3; fi\nexec sleep 600\n");
  SupervisorProcess& s = Launch({.queues = {"a", "zero=" + zero, "ten=" + ten, "three=" + three},
                                 .args = {"--ready-ms", "600000", "--watchdog-ms", "600000"}});
  auto up = s.WaitStatus(
      [](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        const v1::CtlNode* t = FindNode(st, "worker:three");
        return a && a->ready() && t && t->pid() > 0 && t->restart_count() == 2;
      },
      30s);
  ASSERT_TRUE(up.has_value()) << "the tree did not settle";
  ASSERT_TRUE(WaitLogLine(s, "'worker:zero'")) << "worker:zero never ran";
  ASSERT_TRUE(WaitLogLine(s, "'worker:ten'")) << "worker:ten never ran";
  // A workflow round trip: time enough for a wrongful restart to show.
  StartWorkflow("a", "row28", ActivityThenReturn("unaffected"));
  ExpectEveryWorkflowCompletedOnce([](const std::string&) { return "unaffected"; });
  auto last = s.Status();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(StartedPids(s, "worker:zero").size(), 1u) << "a worker that exited 0 was restarted";
  EXPECT_EQ(StartedPids(s, "worker:ten").size(), 1u) << "a worker that exited 10 was restarted";
  EXPECT_EQ(StartedPids(s, "worker:three").size(), 3u);
  EXPECT_EQ(last->cascades(), 0u);
  EXPECT_EQ(Restarts(*last, "bridgehost"), 0);
  EXPECT_EQ(Restarts(*last, "worker:a"), 0);
  EXPECT_EQ(CountLogLines("child_terminated: 'worker:zero'"), 0);
  EXPECT_EQ(CountLogLines("child_terminated: 'worker:ten'"), 0);
  StopAndExpectClean(s);
}

// #28 for a permanent child: the dev server, stopped from outside with
// SIGTERM, exits 0 and is restarted all the same; nothing else moves.
TEST_F(FaultCatalogueTest, Row28_PermanentDevServerExitsZero_Restarted) {
  SupervisorProcess& s = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  const auto before = s.Status();
  ASSERT_TRUE(before.has_value());
  const pid_t dev = FindNode(*before, "devserver")->pid();
  ASSERT_EQ(::kill(dev, SIGTERM), 0);
  auto after = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const v1::CtlNode* d = FindNode(st, "devserver");
        return d && d->pid() != dev && d->state() == "running";
      },
      30s);
  ASSERT_TRUE(after.has_value()) << "the dev server was not restarted";
  EXPECT_EQ(Restarts(*after, "devserver"), 1);
  EXPECT_EQ(Restarts(*after, "bridgehost"), 0);
  EXPECT_EQ(after->cascades(), 0u);
  StartWorkflow("a", "row28-dev", ActivityThenReturn("after the dev server's exit"));
  ExpectEveryWorkflowCompletedOnce(
      [](const std::string&) { return "after the dev server's exit"; });
  StopAndExpectClean(s);
}

// #30 at a restart: a worker leaves a daemonised grandchild (double fork:
// reparented to the supervisor, still in the worker's process group) and is
// SIGKILLed from outside. The catalogue wants the grandchild killed with its
// process group when the worker is restarted.
//
// DISABLED: the supervisor kills a child's process group only when it sends
// the SIGKILL itself (shutdown timeout, watchdog, ready timeout); a worker
// killed from outside, or one that exits on its own, leaves its group's
// other members running, and they survive the tree's stop too. Reported.
TEST_F(FaultCatalogueTest, Row30_DaemonisedGrandchildKilledWhenItsWorkerRestarts) {
  const std::string pidfile = ScriptDir() + "/orphan.pid";
  const std::string daemonising =
      Script("daemonising.sh", "( sleep 600 & echo $! > " + pidfile + " )\nexec sleep 600\n");
  SupervisorProcess& s = Launch({.queues = {"a", "d=" + daemonising},
                                 .args = {"--ready-ms", "600000", "--watchdog-ms", "600000"}});
  auto up = s.WaitStatus(
      [](const v1::CtlStatusReply& st) {
        const auto* a = FindEntry(st, "a");
        const v1::CtlNode* d = FindNode(st, "worker:d");
        return a && a->ready() && d && d->pid() > 0;
      },
      30s);
  ASSERT_TRUE(up.has_value());
  pid_t orphan = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (orphan == 0 && std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(pidfile);
    if (!(in >> orphan)) orphan = 0;
    SupervisorProcess::SleepMs(10);
  }
  ASSERT_GT(orphan, 0);
  const pid_t worker = FindNode(*up, "worker:d")->pid();
  ASSERT_EQ(::kill(worker, SIGKILL), 0);
  auto restarted = s.WaitStatus(
      [&](const v1::CtlStatusReply& st) {
        const v1::CtlNode* d = FindNode(st, "worker:d");
        return d && d->pid() > 0 && d->pid() != worker;
      },
      30s);
  ASSERT_TRUE(restarted.has_value());
  // Polled, not asserted at once: the kill and the reaping are asynchronous.
  const auto gone_by = std::chrono::steady_clock::now() + 10s;
  while (ProcessExists(orphan) && std::chrono::steady_clock::now() < gone_by) {
    SupervisorProcess::SleepMs(20);
  }
  EXPECT_FALSE(ProcessAlive(orphan)) << "the worker's daemonised child outlived its restart";
  EXPECT_FALSE(ProcessExists(orphan)) << "the worker's daemonised child was not reaped";
  std::set<pid_t> pids = s.KnownChildPids();
  pids.insert(orphan);
  s.Signal(SIGTERM);
  EXPECT_TRUE(ExitedWith(s.WaitExit(60s), exit_code::kOk));
  ExpectNothingLeft(s, pids);
}

// --- A SIGKILL at each fault point -------------------------------------------------

enum class Owner { kBridgeHost, kWorker, kExecutor, kDevServer };
// What brings the process to the point.
enum class Trigger {
  kWorkflows,          // the workflows themselves
  kFirstRegistration,  // the tree's own start (armed from the environment)
  kStopWorker,         // `ctl stop-worker` of a second queue
  kStartWorkflowCall,  // the first StartWorkflowExecution (its reply is lost)
};

struct FaultPointCase {
  const char* point;
  Owner owner;
  Trigger trigger;
};

std::ostream& operator<<(std::ostream& out, const FaultPointCase& c) { return out << c.point; }

class FaultPointCrashTest : public FaultCatalogueTest,
                            public ::testing::WithParamInterface<FaultPointCase> {};

constexpr const char* kQueue = "fp";
constexpr const char* kWorkerId = "worker:fp";

TEST_P(FaultPointCrashTest, CrashOnce_WorkflowsCompleteOnceRestartsAsExpectedStopsClean) {
  const FaultPointCase& c = GetParam();
  // Process isolation for executor.*: the activity runs in an executor
  // process, which the worker hands its armed executor point to.
  std::string config = std::string("[[queue]]\nname = \"") + kQueue + "\"\n";
  if (c.owner == Owner::kExecutor) config += "isolation = \"process\"\n";
  if (c.trigger == Trigger::kStopWorker) config += "[[queue]]\nname = \"extra\"\n";
  // Armed from the start in every process (each arms its own role's points;
  // a restarted process starts disarmed), so a registration at the tree's
  // start can be hit too.
  SupervisorProcess& s =
      LaunchReady({.args = {"--shutdown-ms", "5000"},
                   .config_toml = config,
                   .env = {std::string("HOURGLASS_FAILPOINTS=") + c.point + "=1*crash"}});
  ASSERT_FALSE(HasFailure());
  const std::string fired = std::string("fault point ") + c.point + " fired: 1*crash";

  // Bring the owner to the point.
  switch (c.trigger) {
    case Trigger::kWorkflows:
      for (int i = 0; i < 3; ++i) {
        const std::string id = std::string("fp-") + std::to_string(i);
        StartWorkflowRetrying(kQueue, id, ActivityThenReturn("done " + id));
      }
      break;
    case Trigger::kFirstRegistration:
      break;  // already fired while the tree started
    case Trigger::kStopWorker: {
      v1::CtlRequest stop;
      stop.mutable_stop_worker()->set_task_queue("extra");
      // Its reply may be an error (the bridge host died under it): what is
      // checked is the tree afterwards.
      s.Ctl(stop, 30s);
      break;
    }
    case Trigger::kStartWorkflowCall:
      // The dev server dies after committing the start, before answering:
      // the CLI fails, the workflow exists all the same.
      StartWorkflowRetrying(kQueue, "fp-0", ActivityThenReturn("done fp-0"));
      break;
  }
  ASSERT_TRUE(WaitLogLine(s, fired, 60s)) << "the point never fired";

  // The owner's restart, and the tree whole again.
  const std::string owner_id = c.owner == Owner::kBridgeHost  ? "bridgehost"
                               : c.owner == Owner::kWorker    ? kWorkerId
                               : c.owner == Owner::kDevServer ? "devserver"
                                                              : "";
  if (!owner_id.empty()) {
    auto restarted = s.WaitStatus(
        [&](const v1::CtlStatusReply& st) {
          const v1::CtlNode* n = FindNode(st, owner_id);
          const auto* w = FindEntry(st, kQueue);
          return n && n->restart_count() >= 1 && n->state() == "running" && w && w->ready();
        },
        60s);
    ASSERT_TRUE(restarted.has_value()) << owner_id << " was not restarted";
  }
  ASSERT_TRUE(s.WaitReady(60s).has_value()) << "the tree did not recover";
  if (c.trigger == Trigger::kStartWorkflowCall) {
    StartWorkflowRetrying(kQueue, "fp-1", ActivityThenReturn("done fp-1"));
  } else if (c.trigger != Trigger::kWorkflows) {
    // The point is off the workflow path: these show the tree serves.
    for (int i = 0; i < 2; ++i) {
      const std::string id = std::string("fp-") + std::to_string(i);
      StartWorkflowRetrying(kQueue, id, ActivityThenReturn("done " + id));
    }
  }
  ExpectEveryWorkflowCompletedOnce([](const std::string& id) { return "done " + id; });

  auto st = s.Status();
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(CountLogLines(fired), 1);
  switch (c.owner) {
    case Owner::kBridgeHost:
      EXPECT_EQ(Restarts(*st, "bridgehost"), 1);
      EXPECT_EQ(st->cascades(), 1u);
      EXPECT_EQ(Restarts(*st, "devserver"), 0);
      EXPECT_EQ(StartedPids(s, "bridgehost").size(), 2u);
      EXPECT_EQ(StartedPids(s, kWorkerId).size(), 2u) << "the cascade restarts the worker once";
      break;
    case Owner::kWorker:
      EXPECT_EQ(Restarts(*st, kWorkerId), 1);
      EXPECT_EQ(Restarts(*st, "bridgehost"), 0);
      EXPECT_EQ(Restarts(*st, "devserver"), 0);
      EXPECT_EQ(st->cascades(), 0u);
      break;
    case Owner::kExecutor:
      // A temporary child: never restarted; its worker fails the attempt
      // and the server retries it.
      EXPECT_EQ(Restarts(*st, kWorkerId), 0);
      EXPECT_EQ(Restarts(*st, "bridgehost"), 0);
      EXPECT_EQ(Restarts(*st, "devserver"), 0);
      EXPECT_EQ(st->cascades(), 0u);
      break;
    case Owner::kDevServer:
      EXPECT_EQ(Restarts(*st, "devserver"), 1);
      EXPECT_EQ(Restarts(*st, "bridgehost"), 0);
      EXPECT_EQ(Restarts(*st, kWorkerId), 0);
      EXPECT_EQ(st->cascades(), 0u);
      break;
  }
  EXPECT_EQ(CountLogLines("reached_max_restart_intensity"), 0);
  StopAndExpectClean(s);
}

INSTANTIATE_TEST_SUITE_P(
    EveryPoint, FaultPointCrashTest,
    ::testing::Values(
        FaultPointCase{"bridgehost.poll_workflow_activation.before_send", Owner::kBridgeHost,
                       Trigger::kWorkflows},
        FaultPointCase{"bridgehost.poll_activity_task.before_send", Owner::kBridgeHost,
                       Trigger::kWorkflows},
        FaultPointCase{"bridgehost.complete_activity_task.before_reply", Owner::kBridgeHost,
                       Trigger::kWorkflows},
        FaultPointCase{"bridgehost.respond_workflow_task.after_accepted", Owner::kBridgeHost,
                       Trigger::kWorkflows},
        FaultPointCase{"bridgehost.register_worker.before_reply", Owner::kBridgeHost,
                       Trigger::kFirstRegistration},
        FaultPointCase{"bridgehost.unregister_worker.before_reply", Owner::kBridgeHost,
                       Trigger::kStopWorker},
        FaultPointCase{"worker.activation.before_evaluate", Owner::kWorker, Trigger::kWorkflows},
        FaultPointCase{"worker.activity.before_complete", Owner::kWorker, Trigger::kWorkflows},
        FaultPointCase{"executor.activity.before_complete", Owner::kExecutor, Trigger::kWorkflows},
        FaultPointCase{"devserver.start_workflow_execution.after_commit", Owner::kDevServer,
                       Trigger::kStartWorkflowCall},
        FaultPointCase{"devserver.respond_workflow_task_completed.after_commit", Owner::kDevServer,
                       Trigger::kWorkflows},
        FaultPointCase{"devserver.respond_activity_task_completed.after_commit", Owner::kDevServer,
                       Trigger::kWorkflows}),
    [](const ::testing::TestParamInfo<FaultPointCase>& point_info) {
      std::string name = point_info.param.point;
      std::replace(name.begin(), name.end(), '.', '_');
      return name;
    });

}  // namespace
}  // namespace hourglass
