// hourglass-supervisor with the real tree under it (embedded dev server,
// bridge host, hourglass-workerproc per queue), as an operator runs it:
// processes are killed, stopped and signalled from outside, workflows are run
// with the real `hourglass` CLI, and the supervisor is observed through its
// control socket (ctl.proto), its log and /proc. DESIGN.md §7 is the table of
// outcomes these tests check.
//
// Timeouts and restart intensities are made small through flags and a config
// file, so the whole binary stays fast on a 2-core machine.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/envelope.h"
#include "ipc/exit_codes.h"
#include "ipc/frame.h"
#include "tests/testing/supervisor_process.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
using json = nlohmann::json;
using testing::CtlConnection;
using testing::DescribeStatus;
using testing::ExitedWith;
using testing::FindEntry;
using testing::FindNode;
using testing::LastLine;
using testing::ProcessAlive;
using testing::ProcessGroupAlive;
using testing::RunHourglassCli;
using testing::SupervisorOptions;
using testing::SupervisorProcess;

// A crash loop ends the supervisor after two worker crashes: the workers
// group gives up on its second restart, and neither the subsystem nor the
// application may restart anything.
constexpr const char* kGiveUpFast = R"(
[application]
max_restarts = 0
period_ms = 10000
[subsystem]
max_restarts = 0
period_ms = 10000
[workers]
max_restarts = 1
period_ms = 10000
)";

// KitchenSink with a timer: in flight for about `ms`, then returns `tag`.
std::string TimerInput(int ms, const std::string& tag) {
  return json{{"actions", json::array({json{{"timer", ms}}, json{{"activity", "noop"}},
                                       json{{"return", tag}}})}}
      .dump();
}

v1::CtlRequest StatusRequest() {
  v1::CtlRequest r;
  r.mutable_status();
  return r;
}
v1::CtlRequest StartWorkerRequest(const std::string& queue, const std::string& exec = "") {
  v1::CtlRequest r;
  r.mutable_start_worker()->set_task_queue(queue);
  r.mutable_start_worker()->set_exec(exec);
  return r;
}
v1::CtlRequest StopWorkerRequest(const std::string& queue) {
  v1::CtlRequest r;
  r.mutable_stop_worker()->set_task_queue(queue);
  return r;
}
v1::CtlRequest WhereisRequest(const std::string& queue) {
  v1::CtlRequest r;
  r.mutable_whereis()->set_task_queue(queue);
  return r;
}
v1::CtlRequest RestartRequest(const std::string& id) {
  v1::CtlRequest r;
  r.mutable_restart()->set_child_id(id);
  return r;
}

std::string Describe(const std::optional<v1::CtlReply>& r) {
  return r ? r->ShortDebugString() : std::string("<no reply>");
}

class SupervisorIntegrationTest : public ::testing::Test {
 protected:
  void SetUp() override { started_ = std::chrono::steady_clock::now(); }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& s : supervisors_) s->DumpLog(std::cerr, 80);
    }
    // Later supervisors may live in an earlier one's directory: stop them
    // first.
    while (!supervisors_.empty()) supervisors_.pop_back();
    std::cerr << "[wall time "
              << std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - started_)
                     .count()
              << " ms]\n";
  }

  // Starts a supervisor (fails the test if it cannot be spawned).
  SupervisorProcess& Launch(SupervisorOptions options) {
    supervisors_.push_back(std::make_unique<SupervisorProcess>(std::move(options)));
    SupervisorProcess& s = *supervisors_.back();
    EXPECT_TRUE(s.Start());
    return s;
  }

  // Starts one and waits until every queue is served; its status then.
  v1::CtlStatusReply LaunchReady(SupervisorOptions options) {
    SupervisorProcess& s = Launch(std::move(options));
    auto status = s.WaitReady(20s);
    EXPECT_TRUE(status.has_value()) << "the tree never became ready";
    return status.value_or(v1::CtlStatusReply());
  }
  SupervisorProcess& sup() { return *supervisors_.front(); }

  // `hourglass workflow start`; fails the test if it did not succeed.
  void StartWorkflow(SupervisorProcess& s, const std::string& queue, const std::string& type,
                     const std::string& id, const std::string& input) {
    auto r =
        RunHourglassCli({"workflow", "start", "--bridge-socket", s.bridge_socket(), "--task-queue",
                         queue, "--type", type, "--workflow-id", id, "--input", input},
                        20s, s.dir() + "/cli.log");
    EXPECT_TRUE(r.ok()) << "workflow start " << id << ": " << r.out << " "
                        << LastLine(s.dir() + "/cli.log");
  }

  // `hourglass workflow result`: the result of a COMPLETED workflow, or the
  // test fails.
  json WorkflowResult(SupervisorProcess& s, const std::string& id,
                      std::chrono::seconds timeout = 30s) {
    auto r = RunHourglassCli({"workflow", "result", "--bridge-socket", s.bridge_socket(),
                              "--workflow-id", id, "--timeout", std::to_string(timeout.count())},
                             timeout + 5s, s.dir() + "/cli.log");
    EXPECT_TRUE(r.ok()) << "workflow result " << id << ": " << r.out << " "
                        << LastLine(s.dir() + "/cli.log");
    const json j = json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return json();
    EXPECT_EQ(j.value("status", ""), "COMPLETED") << r.out;
    return j.contains("result") ? j["result"] : json();
  }

  std::vector<std::unique_ptr<SupervisorProcess>> supervisors_;
  std::chrono::steady_clock::time_point started_;
};

// Every child pid of a status, by node id.
std::map<std::string, pid_t> ChildPids(const v1::CtlStatusReply& s) {
  std::map<std::string, pid_t> out;
  for (const auto& n : s.nodes()) {
    if (n.kind() == "child" && n.pid() > 0) out[n.id()] = n.pid();
  }
  return out;
}

// --- DESIGN §7: what dies, what happens, what is lost -------------------------

TEST_F(SupervisorIntegrationTest,
       BridgeHostKill_EveryWorkerReplacedAndWorkflowsStartedBeforeComplete) {
  const auto before = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  const pid_t bridge = FindNode(before, "bridgehost")->pid();
  const pid_t worker_a = FindEntry(before, "a")->pid();
  const pid_t worker_b = FindEntry(before, "b")->pid();
  ASSERT_GT(bridge, 0);

  std::vector<std::pair<std::string, std::string>> workflows;  // id, expected result
  for (const std::string q : {"a", "b"}) {
    for (int i = 0; i < 2; ++i) {
      const std::string id = "bh-kill-" + q + std::to_string(i);
      StartWorkflow(sup(), q, "KitchenSink", id, TimerInput(1500, "done " + id));
      workflows.emplace_back(id, "done " + id);
    }
  }
  ASSERT_FALSE(HasFailure());
  // Let the first workflow tasks run, so the timers are in flight.
  SupervisorProcess::SleepMs(300);
  ASSERT_EQ(::kill(bridge, SIGKILL), 0);

  auto after = sup().WaitStatus(
      [&](const v1::CtlStatusReply& s) {
        const auto* bh = FindNode(s, "bridgehost");
        const auto* a = FindEntry(s, "a");
        const auto* b = FindEntry(s, "b");
        return bh && bh->pid() > 0 && bh->pid() != bridge && s.bridge_epoch() != 0 &&
               s.bridge_epoch() != before.bridge_epoch() && a && a->ready() &&
               a->pid() != worker_a && b && b->ready() && b->pid() != worker_b;
      },
      15s);
  ASSERT_TRUE(after.has_value()) << "the tree did not come back after the bridge host's death";
  EXPECT_EQ(after->cascades(), 1u);
  EXPECT_NE(FindNode(*after, "bridgehost")->pid(), bridge);
  EXPECT_NE(after->bridge_epoch(), before.bridge_epoch());
  for (const std::string q : {"a", "b"}) {
    const auto* e = FindEntry(*after, q);
    EXPECT_EQ(e->child_id(), "worker:" + q);
    EXPECT_NE(e->pid(), q == "a" ? worker_a : worker_b) << "registry entry not replaced";
    EXPECT_EQ(FindNode(*after, "worker:" + q)->pid(), e->pid());
  }
  EXPECT_EQ(after->registry_size(), 2);
  EXPECT_FALSE(ProcessAlive(worker_a));
  EXPECT_FALSE(ProcessAlive(worker_b));

  for (const auto& [id, expected] : workflows) {
    EXPECT_EQ(WorkflowResult(sup(), id), json(expected)) << id;
  }
  // Nothing else happened meanwhile.
  auto last = sup().Status();
  ASSERT_TRUE(last.has_value());
  EXPECT_EQ(last->cascades(), 1u);
}

TEST_F(SupervisorIntegrationTest, WorkerKill_OnlyThatQueueRestarts) {
  const auto before = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  const pid_t bridge = FindNode(before, "bridgehost")->pid();
  const pid_t worker_a = FindEntry(before, "a")->pid();
  const pid_t worker_b = FindEntry(before, "b")->pid();
  ASSERT_EQ(::kill(worker_a, SIGKILL), 0);

  auto after = sup().WaitStatus(
      [&](const v1::CtlStatusReply& s) {
        const auto* a = FindEntry(s, "a");
        return a && a->ready() && a->pid() != worker_a;
      },
      10s);
  ASSERT_TRUE(after.has_value()) << "worker:a was not restarted";
  EXPECT_EQ(FindEntry(*after, "b")->pid(), worker_b);
  EXPECT_EQ(FindNode(*after, "bridgehost")->pid(), bridge);
  EXPECT_EQ(after->bridge_epoch(), before.bridge_epoch());
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_EQ(FindNode(*after, "worker:a")->restart_count(), 1);
  EXPECT_EQ(FindNode(*after, "worker:b")->restart_count(), 0);

  StartWorkflow(sup(), "a", "Hello", "after-worker-kill", "\"World\"");
  EXPECT_EQ(WorkflowResult(sup(), "after-worker-kill"), json("Hello, World!"));
}

TEST_F(SupervisorIntegrationTest, DevServerKill_OnlyItRestartsNoCascade) {
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  const auto pids = ChildPids(before);
  const pid_t dev = pids.at("devserver");
  ASSERT_EQ(::kill(dev, SIGKILL), 0);
  auto after = sup().WaitStatus(
      [&](const v1::CtlStatusReply& s) {
        const auto* d = FindNode(s, "devserver");
        return d && d->pid() > 0 && d->pid() != dev && d->state() == "running";
      },
      10s);
  ASSERT_TRUE(after.has_value()) << "the dev server was not restarted";
  // The bridge host keeps its connection target (same port) and retries; no
  // cascade (DESIGN §7).
  EXPECT_EQ(FindNode(*after, "bridgehost")->pid(), pids.at("bridgehost"));
  EXPECT_EQ(FindNode(*after, "worker:a")->pid(), pids.at("worker:a"));
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_EQ(after->target(), before.target()) << "the dev server moved to another port";
  StartWorkflow(sup(), "a", "Hello", "after-dev-kill", "\"again\"");
  EXPECT_EQ(WorkflowResult(sup(), "after-dev-kill"), json("Hello, again!"));
}

TEST_F(SupervisorIntegrationTest, CrashLoop_PastIntensity_SupervisorExitsGaveUp) {
  SupervisorProcess& s = Launch({.queues = {"crashy=/bin/false"}, .config_toml = kGiveUpFast});
  const auto exit = s.WaitExit(15s);
  ASSERT_TRUE(ExitedWith(exit, exit_code::kGaveUp)) << DescribeStatus(exit);
  const std::string log = s.Log();
  EXPECT_NE(log.find("reached_max_restart_intensity"), std::string::npos);
  EXPECT_NE(log.find("hourglass-supervisor exits 9"), std::string::npos);
  // The dev server, the bridge host and every crashed worker: all gone.
  const auto pids = s.KnownChildPids();
  EXPECT_GE(pids.size(), 3u) << "expected the dev server, the bridge host and workers in the log";
  for (pid_t p : pids) {
    EXPECT_FALSE(ProcessAlive(p)) << "pid " << p << " survived the supervisor";
    EXPECT_FALSE(ProcessGroupAlive(p)) << "process group " << p << " survived the supervisor";
  }
}

TEST_F(SupervisorIntegrationTest, SigTerm_OrderedGracefulStop_NothingLost) {
  LaunchReady({.queues = {"a"}, .args = {"--shutdown-ms", "3000"}});
  ASSERT_FALSE(HasFailure());
  // An activity of 1.5 s, in flight when SIGTERM arrives; its start-to-close
  // timeout is short, so even an abandoned attempt is retried quickly.
  const std::string input =
      json{{"actions",
            json::array({json{{"activity", "delay"}, {"args", {1500}}, {"start_to_close_ms", 4000}},
                         json{{"return", "survived the stop"}}})}}
          .dump();
  StartWorkflow(sup(), "a", "KitchenSink", "sigterm-wf", input);
  ASSERT_FALSE(HasFailure());
  auto inflight = sup().WaitStatus(
      [](const v1::CtlStatusReply& s) {
        const auto* w = FindNode(s, "worker:a");
        return w && w->has_stats() && w->stats().inflight_activities() > 0;
      },
      10s);
  EXPECT_TRUE(inflight.has_value()) << "the activity never showed in flight";

  sup().Signal(SIGTERM);
  const auto exit = sup().WaitExit(15s);
  ASSERT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);

  // Reverse start order: worker, then bridge host, then dev server.
  const auto lines = sup().LogLines();
  auto index_of = [&](const std::string& needle) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (lines[i].find(needle) != std::string::npos) return static_cast<long>(i);
    }
    return -1L;
  };
  const long worker = index_of("stopped 'worker:a'");
  const long bridge = index_of("stopped 'bridgehost'");
  const long dev = index_of("stopped 'devserver'");
  ASSERT_GE(worker, 0);
  ASSERT_GE(bridge, 0);
  ASSERT_GE(dev, 0);
  EXPECT_LT(worker, bridge);
  EXPECT_LT(bridge, dev);
  EXPECT_NE(sup().Log().find("hourglass-supervisor exits 0"), std::string::npos);
  struct stat st;
  EXPECT_NE(::stat(sup().control_socket().c_str(), &st), 0) << "supervisor.sock left behind";
  EXPECT_NE(::stat(sup().bridge_socket().c_str(), &st), 0) << "bridge.sock left behind";
  for (pid_t p : sup().KnownChildPids()) EXPECT_FALSE(ProcessAlive(p)) << "pid " << p;

  // A new supervisor on the same runtime directory (the same dev.db) finishes
  // the workflow.
  SupervisorProcess& second =
      Launch({.queues = {"a"}, .dir = sup().dir(), .log_name = "second.log"});
  ASSERT_TRUE(second.WaitReady(20s).has_value());
  EXPECT_EQ(WorkflowResult(second, "sigterm-wf"), json("survived the stop"));
}

TEST_F(SupervisorIntegrationTest, SupervisorKill_NoChildLeftAfterTwoSeconds) {
  const auto status = LaunchReady({.queues = {"a", "b"}});
  ASSERT_FALSE(HasFailure());
  const auto pids = ChildPids(status);
  ASSERT_EQ(pids.size(), 4u);  // devserver, bridgehost, worker:a, worker:b
  const auto killed_at = std::chrono::steady_clock::now();
  sup().Signal(SIGKILL);
  ASSERT_TRUE(sup().WaitExit(5s).has_value());
  // Watched for longer than the bound, so a failure says by how much it
  // was missed.
  std::map<std::string, std::chrono::milliseconds> gone_after;
  while (gone_after.size() < pids.size() && std::chrono::steady_clock::now() < killed_at + 10s) {
    for (const auto& [id, pid] : pids) {
      if (!gone_after.count(id) && !ProcessAlive(pid) && !ProcessGroupAlive(pid)) {
        gone_after[id] = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - killed_at);
      }
    }
    SupervisorProcess::SleepMs(10);
  }
  for (const auto& [id, pid] : pids) {
    ASSERT_TRUE(gone_after.count(id)) << id << " (pid " << pid << ") still alive after 10 s";
    EXPECT_LE(gone_after[id].count(), 2000)
        << id << " (pid " << pid << ", with its process group) outlived the supervisor by "
        << gone_after[id].count() << " ms";
  }
  // Stale sockets and locks of a killed tree do not stop the next one.
  SupervisorProcess& next =
      Launch({.queues = {"a", "b"}, .dir = sup().dir(), .log_name = "second.log"});
  EXPECT_TRUE(next.WaitReady(20s).has_value()) << "a new supervisor did not start cleanly";
}

TEST_F(SupervisorIntegrationTest, BridgeHostSigStop_WatchdogKillsItAndCascades) {
  const auto before = LaunchReady(
      {.queues = {"a", "b"}, .args = {"--heartbeat-ms", "100", "--watchdog-ms", "1000"}});
  ASSERT_FALSE(HasFailure());
  const pid_t bridge = FindNode(before, "bridgehost")->pid();
  const pid_t worker_a = FindEntry(before, "a")->pid();
  const pid_t worker_b = FindEntry(before, "b")->pid();
  const auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(bridge, SIGSTOP), 0);

  auto after = sup().WaitStatus(
      [&](const v1::CtlStatusReply& s) {
        const auto* bh = FindNode(s, "bridgehost");
        const auto* a = FindEntry(s, "a");
        const auto* b = FindEntry(s, "b");
        return bh && bh->pid() > 0 && bh->pid() != bridge && a && a->ready() &&
               a->pid() != worker_a && b && b->ready() && b->pid() != worker_b;
      },
      5s);
  ASSERT_TRUE(after.has_value()) << "no new bridge host within 5 s of SIGSTOP";
  std::cerr << "replaced after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - stopped_at)
                   .count()
            << " ms\n";
  EXPECT_EQ(after->cascades(), 1u);
  EXPECT_NE(after->bridge_epoch(), before.bridge_epoch());
  EXPECT_FALSE(ProcessAlive(bridge)) << "the stopped bridge host is still there";
  EXPECT_NE(sup().Log().find("bridgehost: silent on its control channel"), std::string::npos);
}

TEST_F(SupervisorIntegrationTest, ExecFailure_ClearMessageAndGaveUp) {
  SupervisorProcess& s =
      Launch({.queues = {"missing=/nonexistent/worker"}, .config_toml = kGiveUpFast});
  const auto exit = s.WaitExit(15s);
  EXPECT_TRUE(ExitedWith(exit, exit_code::kGaveUp)) << DescribeStatus(exit);
  bool named = false;
  for (const auto& line : s.LogLines()) {
    if (line.find("/nonexistent/worker") != std::string::npos &&
        line.find("No such file or directory") != std::string::npos) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "no log line names the path and the errno text";
}

TEST_F(SupervisorIntegrationTest, StartWorkerNonexistentExec_InvalidArgumentTreeUnaffected) {
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  auto reply = sup().Ctl(StartWorkerRequest("ghost", "/nonexistent"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().kind(), v1::CTL_ERROR_KIND_INVALID_ARGUMENT) << Describe(reply);
  EXPECT_NE(reply->error().message().find("/nonexistent"), std::string::npos);
  auto after = sup().Status();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(ChildPids(*after), ChildPids(before));
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_EQ(
      std::vector<std::string>(after->launcher_queues().begin(), after->launcher_queues().end()),
      std::vector<std::string>{"a"});
  EXPECT_EQ(FindEntry(*after, "ghost"), nullptr);
}

TEST_F(SupervisorIntegrationTest, StartWorkerCrashingExec_FailedQueueForgottenTreeUnaffected) {
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  auto reply = sup().Ctl(StartWorkerRequest("crashy", "/bin/false"));
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().kind(), v1::CTL_ERROR_KIND_FAILED) << Describe(reply);
  // It is not retried behind the operator's back: give a restart loop time
  // to show, then check nothing else moved.
  SupervisorProcess::SleepMs(500);
  auto after = sup().Status();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(FindEntry(*after, "crashy"), nullptr);
  EXPECT_EQ(FindNode(*after, "worker:crashy"), nullptr);
  EXPECT_EQ(
      std::vector<std::string>(after->launcher_queues().begin(), after->launcher_queues().end()),
      std::vector<std::string>{"a"});
  EXPECT_EQ(FindNode(*after, "bridgehost")->pid(), FindNode(before, "bridgehost")->pid());
  EXPECT_EQ(FindEntry(*after, "a")->pid(), FindEntry(before, "a")->pid());
  EXPECT_EQ(after->cascades(), 0u);
  EXPECT_FALSE(sup().Exited());
}

// --- Privileges -------------------------------------------------------------------

constexpr uid_t kNobody = 65534;

// Forks a child that becomes uid `uid`, connects to `path` and, if that
// worked, sends `frame` and reads until EOF. Only raw syscalls after fork.
// Returns the child's exit code (0: connected and saw EOF, 15: connected and
// saw ECONNRESET, 20: EACCES on connect, other: failures) and what it read.
std::pair<int, std::string> ConnectAsUid(const std::string& path, uid_t uid,
                                         const std::string& frame) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), std::min(path.size(), sizeof(addr.sun_path) - 1));
  int out[2];
  if (::pipe(out) != 0) return {-1, ""};
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    if (::setgid(uid) != 0 || ::setuid(uid) != 0) ::_exit(10);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::_exit(errno == EACCES ? 20 : 21);
    }
    // The server may already have closed: a failed send is not the point.
    (void)::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
    char buf[4096];
    for (;;) {
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, 10000) != 1) ::_exit(12);  // never closed
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      // A close with our request still unread in the server's buffer shows
      // as ECONNRESET after the data, not as EOF: closed all the same.
      if (n < 0) ::_exit(errno == ECONNRESET ? 15 : 13);
      if (n == 0) ::_exit(0);
      if (::write(out[1], buf, static_cast<size_t>(n)) != n) ::_exit(14);
    }
  }
  ::close(out[1]);
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof(buf))) > 0;)
    got.append(buf, static_cast<size_t>(n));
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, got};
}

TEST_F(SupervisorIntegrationTest, ControlSocket_OtherUidRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another uid";
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  // The temporary directory above the runtime directory is 0700 too (mkdtemp):
  // open it, so that the runtime directory's own mode is what is tested.
  ASSERT_EQ(::chmod(sup().dir().c_str(), 0711), 0);
  v1::CtlRequest request = StatusRequest();
  const std::string frame = std::move(ipc::EncodeMessageFrame(request, 1024)).value();

  auto [code, bytes] = ConnectAsUid(sup().control_socket(), kNobody, frame);
  EXPECT_EQ(code, 20) << "uid 65534 reached the socket through a 0700 runtime directory";

  // For this test only: let the other uid reach the socket, so the peer
  // check itself is what refuses it.
  ASSERT_EQ(::chmod(sup().runtime_dir().c_str(), 0711), 0);
  ASSERT_EQ(::chmod(sup().control_socket().c_str(), 0666), 0);
  std::tie(code, bytes) = ConnectAsUid(sup().control_socket(), kNobody, frame);
  EXPECT_TRUE(code == 0 || code == 15) << "the refused connection was not closed (" << code << ")";
  ipc::FrameDecoder decoder;
  decoder.Feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  auto item = decoder.Next();
  ASSERT_EQ(item.status, ipc::FrameDecoder::Status::kFrame)
      << "no whole reply frame (" << bytes.size() << " bytes)";
  v1::CtlReply reply;
  ASSERT_TRUE(reply.ParseFromArray(item.body.data(), static_cast<int>(item.body.size())));
  EXPECT_EQ(reply.error().kind(), v1::CTL_ERROR_KIND_REFUSED) << reply.ShortDebugString();
  EXPECT_FALSE(reply.has_status()) << "a refused peer got the status";
  EXPECT_EQ(decoder.Next().status, ipc::FrameDecoder::Status::kNeedMore)
      << "more than one reply to a refused peer";
  // The supervisor still serves its own uid.
  auto after = sup().Status();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(ChildPids(*after), ChildPids(before));
}

// "CapEff:\t0000000000000000" -> the hex value; "NoNewPrivs:\t1" -> 1.
std::map<std::string, std::string> ProcStatus(pid_t pid) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(" \t"));
    out[line.substr(0, colon)] = value;
  }
  return out;
}

TEST_F(SupervisorIntegrationTest, Children_HaveNoCapabilitiesAndNoNewPrivs) {
  const auto status = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  const auto pids = ChildPids(status);
  ASSERT_EQ(pids.size(), 3u);
  for (const auto& [id, pid] : pids) {
    auto st = ProcStatus(pid);
    ASSERT_FALSE(st.empty()) << id;
    for (const char* set : {"CapEff", "CapPrm", "CapBnd", "CapAmb", "CapInh"}) {
      EXPECT_EQ(std::stoull(st[set], nullptr, 16), 0u) << id << " " << set << " " << st[set];
    }
    EXPECT_EQ(st["NoNewPrivs"], "1") << id;
  }
  if (::geteuid() == 0) {
    // The contrast: the supervisor itself still has them.
    EXPECT_NE(std::stoull(ProcStatus(sup().pid())["CapEff"], nullptr, 16), 0u);
  }
}

// --- The control socket end to end ----------------------------------------------

TEST_F(SupervisorIntegrationTest, CtlStartWorker_DoneOnceReadyServesAndDuplicateRefused) {
  LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  auto reply = sup().Ctl(StartWorkerRequest("c"));
  ASSERT_TRUE(reply.has_value() && reply->has_done()) << Describe(reply);
  // Done means READY: the registry says so at once.
  auto status = sup().Status();
  ASSERT_TRUE(status.has_value());
  const auto* entry = FindEntry(*status, "c");
  ASSERT_NE(entry, nullptr);
  EXPECT_TRUE(entry->ready());
  EXPECT_GT(entry->pid(), 0);
  auto whereis = sup().Ctl(WhereisRequest("c"));
  ASSERT_TRUE(whereis.has_value() && whereis->has_whereis()) << Describe(whereis);
  EXPECT_EQ(whereis->whereis().entry().pid(), entry->pid());
  EXPECT_EQ(whereis->whereis().entry().child_id(), "worker:c");
  EXPECT_TRUE(ProcessAlive(entry->pid()));

  StartWorkflow(sup(), "c", "Hello", "on-c", "\"ctl\"");
  EXPECT_EQ(WorkflowResult(sup(), "on-c"), json("Hello, ctl!"));

  auto again = sup().Ctl(StartWorkerRequest("c"));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->error().kind(), v1::CTL_ERROR_KIND_REFUSED) << Describe(again);
  auto after = sup().Status();
  ASSERT_TRUE(after.has_value());
  EXPECT_EQ(FindEntry(*after, "c")->pid(), entry->pid()) << "the duplicate touched the worker";
}

TEST_F(SupervisorIntegrationTest,
       CtlStopWorkerAndReloadBridge_StoppedQueueStaysGoneStartedOneReturns) {
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  for (const std::string q : {"c", "d"}) {
    auto r = sup().Ctl(StartWorkerRequest(q));
    ASSERT_TRUE(r.has_value() && r->has_done()) << q << ": " << Describe(r);
  }
  auto with_both = sup().Status();
  ASSERT_TRUE(with_both.has_value());
  const pid_t worker_c = FindEntry(*with_both, "c")->pid();
  const pid_t worker_d = FindEntry(*with_both, "d")->pid();

  auto stopped = sup().Ctl(StopWorkerRequest("c"));
  ASSERT_TRUE(stopped.has_value() && stopped->has_done()) << Describe(stopped);
  EXPECT_FALSE(ProcessAlive(worker_c)) << "stop-worker answered before the worker was gone";
  auto whereis = sup().Ctl(WhereisRequest("c"));
  ASSERT_TRUE(whereis.has_value());
  EXPECT_EQ(whereis->error().kind(), v1::CTL_ERROR_KIND_NOT_FOUND) << Describe(whereis);

  v1::CtlRequest reload;
  reload.mutable_reload_bridge();
  auto reloaded = sup().Ctl(reload);
  ASSERT_TRUE(reloaded.has_value() && reloaded->has_done()) << Describe(reloaded);
  auto after = sup().Status();
  ASSERT_TRUE(after.has_value());
  EXPECT_NE(after->bridge_epoch(), before.bridge_epoch());
  EXPECT_NE(after->bridge_epoch(), 0u);
  EXPECT_NE(reloaded->done().message().find(std::to_string(after->bridge_epoch())),
            std::string::npos)
      << reloaded->done().message();
  EXPECT_NE(FindNode(*after, "bridgehost")->pid(), FindNode(before, "bridgehost")->pid());
  // A request, not a failure: counted as a cascade of the subsystem but not
  // against intensity.
  EXPECT_EQ(FindNode(*after, "subsystem")->restarts_in_period(), 0);
  // c stays stopped; d, started at run time, is back with a new process.
  EXPECT_EQ(FindEntry(*after, "c"), nullptr);
  const std::vector<std::string> kept(after->launcher_queues().begin(),
                                      after->launcher_queues().end());
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "c"), 0);
  EXPECT_EQ(std::count(kept.begin(), kept.end(), "d"), 1);
  const auto* d = FindEntry(*after, "d");
  ASSERT_NE(d, nullptr) << "the runtime-started queue was not brought back";
  EXPECT_TRUE(d->ready());
  EXPECT_NE(d->pid(), worker_d);
  ASSERT_NE(FindEntry(*after, "a"), nullptr);
  EXPECT_TRUE(FindEntry(*after, "a")->ready());
  whereis = sup().Ctl(WhereisRequest("c"));
  ASSERT_TRUE(whereis.has_value());
  EXPECT_EQ(whereis->error().kind(), v1::CTL_ERROR_KIND_NOT_FOUND) << Describe(whereis);
}

TEST_F(SupervisorIntegrationTest, CtlWhichChildrenAndUnknownRestart_ListsSubsystemAndNotFound) {
  LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  v1::CtlRequest which;
  which.mutable_which_children()->set_supervisor("subsystem");
  auto reply = sup().Ctl(which);
  ASSERT_TRUE(reply.has_value() && reply->has_which_children()) << Describe(reply);
  std::vector<std::string> ids;
  for (const auto& n : reply->which_children().children()) ids.push_back(n.id());
  EXPECT_EQ(ids, (std::vector<std::string>{"bridgehost", "workers"}));

  auto restart = sup().Ctl(RestartRequest("no-such-child"));
  ASSERT_TRUE(restart.has_value());
  EXPECT_EQ(restart->error().kind(), v1::CTL_ERROR_KIND_NOT_FOUND) << Describe(restart);
}

TEST_F(SupervisorIntegrationTest, CtlMalformedFrame_ProtocolErrorAndStillServing) {
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  // A well-framed body that is not a CtlRequest: the connection survives.
  auto c = CtlConnection::Connect(sup().control_socket());
  ASSERT_TRUE(c.has_value());
  const std::string garbage("\x00\x00\x00\x06\xff\xff\xff\xff\xff\xff", 10);
  ASSERT_TRUE(c->SendBytes(garbage));
  auto reply = c->Read(5s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().kind(), v1::CTL_ERROR_KIND_PROTOCOL) << Describe(reply);
  auto status = c->Call(StatusRequest(), 5s);
  EXPECT_TRUE(status.has_value() && status->has_status()) << Describe(status);

  // Bytes that are no frame at all (a length of ~1.2 GB).
  auto raw = CtlConnection::Connect(sup().control_socket());
  ASSERT_TRUE(raw.has_value());
  ASSERT_TRUE(raw->SendBytes("GARBAGE! not a frame"));
  auto raw_reply = raw->Read(5s);
  ASSERT_TRUE(raw_reply.has_value());
  EXPECT_EQ(raw_reply->error().kind(), v1::CTL_ERROR_KIND_PROTOCOL) << Describe(raw_reply);

  auto after = sup().Status();
  ASSERT_TRUE(after.has_value()) << "the supervisor stopped serving";
  EXPECT_EQ(ChildPids(*after), ChildPids(before));
}

TEST_F(SupervisorIntegrationTest, CtlStop_DoneThenExitsZero) {
  LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  v1::CtlRequest stop;
  stop.mutable_stop();
  auto reply = sup().Ctl(stop, 20s);
  ASSERT_TRUE(reply.has_value() && reply->has_done()) << Describe(reply);
  const auto exit = sup().WaitExit(10s);
  EXPECT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);
  for (pid_t p : sup().KnownChildPids()) EXPECT_FALSE(ProcessAlive(p)) << "pid " << p;
}

TEST_F(SupervisorIntegrationTest, SecondSupervisor_SameRuntimeDir_Refused) {
  const auto before = LaunchReady({.queues = {"a"}});
  ASSERT_FALSE(HasFailure());
  SupervisorProcess& second =
      Launch({.queues = {"a"}, .dir = sup().dir(), .log_name = "second.log"});
  const auto exit = second.WaitExit(5s);
  ASSERT_TRUE(exit.has_value()) << "the second supervisor did not exit at once";
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) != 0) << DescribeStatus(exit);
  EXPECT_NE(second.Log().find("pid " + std::to_string(sup().pid())), std::string::npos)
      << "the refusal does not name the owner";
  EXPECT_TRUE(second.KnownChildPids().empty()) << "the second supervisor started children";
  // The first one is untouched, its socket included.
  auto after = sup().Status();
  ASSERT_TRUE(after.has_value()) << "the first supervisor's control socket is gone";
  EXPECT_EQ(ChildPids(*after), ChildPids(before));
}

}  // namespace
}  // namespace hourglass
