// The real `hourglass ctl` binary against no supervisor, and against a stub
// supervisor in this process: a thread that accepts one connection on
// <dir>/supervisor.sock, reads the CtlRequest frame, checks it, and writes a
// canned CtlReply. The stub tests the client's encoding and decoding of
// proto/hourglass/ipc/v1/ctl.proto; the real supervisor is tested elsewhere.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/blocking_frames.h"
#include "ipc/frame.h"
#include "ipc/unique_fd.h"
#include "ipc/unix_socket.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

extern char** environ;

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ::hourglass::ipc::v1;

struct CliRun {
  int exit_code = -1;  // -1: killed after the test's deadline, or died by a signal
  std::string out;
  std::string err;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs `hourglass <args>` with stdout and stderr in files of `scratch`, so
// the test sees every byte (a trailing newline included).
CliRun RunHourglass(std::vector<std::string> args, const std::string& scratch) {
  static int runs = 0;
  const std::string out_path = scratch + "/out-" + std::to_string(++runs);
  const std::string err_path = scratch + "/err-" + std::to_string(runs);
  args.insert(args.begin(), testing::BinDir() + "/hourglass");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&actions, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  CliRun run;
  if (rc != 0) {
    ADD_FAILURE() << "could not spawn " << args[0];
    return run;
  }
  // A client that hangs must fail the test, not the whole ctest run.
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  int status = 0;
  while (::waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << "hourglass did not exit within 30 s";
      break;
    }
    std::this_thread::sleep_for(5ms);
  }
  if (WIFEXITED(status)) run.exit_code = WEXITSTATUS(status);
  run.out = ReadAll(out_path);
  run.err = ReadAll(err_path);
  return run;
}

// Answers one connection. `answer` checks the request (EXPECT_*, safe from
// this thread) and returns the reply, or nothing: then the stub keeps silent
// until the client hangs up, or with kHangUp closes the connection at once.
class StubSupervisor {
 public:
  using Answer = std::function<std::optional<v1::CtlReply>(const v1::CtlRequest&)>;
  enum class Silence { kWaitForClient, kHangUp };

  StubSupervisor(const std::string& socket_path, Answer answer,
                 Silence silence = Silence::kWaitForClient)
      : answer_(std::move(answer)), silence_(silence) {
    auto listener = ipc::ListenUnixSocket(socket_path);
    if (!listener.ok()) {
      ADD_FAILURE() << "listen " << socket_path << ": " << listener.error().message();
      return;
    }
    listener_ = std::move(*listener);
    thread_ = std::thread([this] { Serve(); });
  }
  ~StubSupervisor() { Join(); }

  void Join() {
    if (thread_.joinable()) thread_.join();
  }
  bool served() const { return served_; }

 private:
  void Serve() {
    pollfd pfd{listener_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 30'000) != 1) {
      ADD_FAILURE() << "the client never connected";
      return;
    }
    ipc::UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) {
      ADD_FAILURE() << "accept failed";
      return;
    }
    ipc::FrameDecoder decoder;
    v1::CtlRequest request;
    if (!ipc::ReadMessage(conn.get(), decoder, request, 30s)) {
      ADD_FAILURE() << "no CtlRequest frame";
      return;
    }
    served_ = true;
    if (auto reply = answer_(request)) {
      EXPECT_TRUE(ipc::WriteMessage(conn.get(), *reply));
      return;
    }
    if (silence_ == Silence::kHangUp) return;
    // Silent: wait for the client to give up and close (EOF).
    EXPECT_FALSE(ipc::ReadFrame(conn.get(), decoder, 30s).has_value());
  }

  Answer answer_;
  Silence silence_;
  ipc::UniqueFd listener_;
  std::thread thread_;
  bool served_ = false;
};

v1::CtlReply ErrorReply(v1::CtlErrorKind kind, const std::string& message) {
  v1::CtlReply reply;
  reply.mutable_error()->set_kind(kind);
  reply.mutable_error()->set_message(message);
  return reply;
}

class CtlTest : public ::testing::Test {
 protected:
  std::string socket() const { return dir_.path() + "/supervisor.sock"; }
  CliRun Ctl(std::vector<std::string> args) {
    return RunHourglass(std::move(args), scratch_.path());
  }

  testing::TempDir scratch_{"hg-ctl-out"};
  testing::TempDir dir_{"hg-ctl"};
};

TEST_F(CtlTest, NoSupervisorIsUnreachable) {
  const CliRun run = Ctl({"ctl", "status", "--runtime-dir", dir_.path()});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "hourglass: unavailable: hourglass-supervisor is not running at " + socket() +
                         " (no such socket)\n");
}

TEST_F(CtlTest, StaleSocketIsUnreachable) {
  // A socket file nobody listens on, as a killed supervisor leaves it.
  { auto listener = ipc::ListenUnixSocket(socket()); }
  const CliRun run = Ctl({"ctl", "--socket", socket(), "whereis", "orders"});
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_NE(run.err.find("not running at " + socket()), std::string::npos) << run.err;
}

TEST_F(CtlTest, StatusJson) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) {
    EXPECT_TRUE(request.has_status()) << request.ShortDebugString();
    v1::CtlReply reply;
    auto* status = reply.mutable_status();
    status->set_supervisor_pid(4242);
    status->set_namespace_("default");
    status->set_bridge_epoch(3);
    v1::CtlNode* node = status->add_nodes();
    node->set_id("worker:orders");
    node->set_depth(3);
    node->set_kind("child");
    node->set_state("running");
    node->set_pid(4250);
    node->mutable_stats()->set_task_queue("orders");
    node->mutable_stats()->set_workflow_poll_loop(v1::POLL_LOOP_STATE_POLLING);
    v1::CtlRegistryEntry* entry = status->add_registry();
    entry->set_task_queue("orders");
    entry->set_child_id("worker:orders");
    entry->set_pid(4250);
    entry->set_ready(true);
    return reply;
  });
  const CliRun run = Ctl({"ctl", "status", "--json", "--runtime-dir", dir_.path()});
  stub.Join();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  ASSERT_FALSE(run.out.empty());
  EXPECT_EQ(run.out.back(), '\n');
  EXPECT_EQ(run.out.find('\n'), run.out.size() - 1) << "one line";
  const auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["supervisor_pid"], 4242);
  EXPECT_EQ(json["namespace"], "default");
  EXPECT_EQ(json["bridge_epoch"], "3");
  EXPECT_EQ(json["stopping"], false);
  EXPECT_EQ(json["cascades"], 0);
  ASSERT_EQ(json["nodes"].size(), 1u);
  EXPECT_EQ(json["nodes"][0]["id"], "worker:orders");
  EXPECT_EQ(json["nodes"][0]["pid"], 4250);
  EXPECT_EQ(json["nodes"][0]["stop_pending"], false);
  EXPECT_EQ(json["nodes"][0]["stats"]["workflow_poll_loop"], "POLL_LOOP_STATE_POLLING");
  EXPECT_EQ(json["nodes"][0]["stats"]["activity_poll_loop"], "POLL_LOOP_STATE_UNSPECIFIED");
  EXPECT_EQ(json["registry"][0]["task_queue"], "orders");
  EXPECT_EQ(json["registry"][0]["ready"], true);
  EXPECT_EQ(json["launcher_queues"], nlohmann::json::array());
}

TEST_F(CtlTest, StatusTextThroughSocketFlag) {
  const std::string other = dir_.path() + "/other.sock";
  StubSupervisor stub(other, [](const v1::CtlRequest& request) {
    EXPECT_TRUE(request.has_status());
    v1::CtlReply reply;
    reply.mutable_status()->set_supervisor_pid(4242);
    reply.mutable_status()->add_launcher_queues("orders");
    return reply;
  });
  // The flags of `ctl` may follow the subcommand.
  const CliRun run = Ctl({"ctl", "status", "--socket", other, "--timeout-ms", "5000"});
  stub.Join();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out.rfind("supervisor: pid 4242, up 0ms, rss 0 B\n", 0), 0u) << run.out;
  EXPECT_NE(run.out.find("\nlauncher queues: orders\n"), std::string::npos) << run.out;
}

TEST_F(CtlTest, WhereisPrintsThePidAlone) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) {
    EXPECT_EQ(request.kind_case(), v1::CtlRequest::kWhereis);
    EXPECT_EQ(request.whereis().task_queue(), "orders");
    v1::CtlReply reply;
    auto* entry = reply.mutable_whereis()->mutable_entry();
    entry->set_task_queue("orders");
    entry->set_child_id("worker:orders");
    entry->set_pid(4250);
    entry->set_ready(true);
    return reply;
  });
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "whereis", "orders"});
  stub.Join();
  EXPECT_TRUE(stub.served());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "4250\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(CtlTest, WhereisOfAWorkerWithoutProcessPrintsNoPid) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest&) {
    v1::CtlReply reply;
    reply.mutable_whereis()->mutable_entry()->set_task_queue("orders");
    reply.mutable_whereis()->mutable_entry()->set_child_id("worker:orders");
    return reply;
  });
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "whereis", "orders"});
  stub.Join();
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.out, "");  // never "0": `kill 0` signals the caller's process group
  EXPECT_EQ(run.err.rfind("hourglass: not_found: task queue orders has no worker process", 0), 0u)
      << run.err;
}

TEST_F(CtlTest, StartWorkerSendsExecIsolationAndExtraArgs) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) {
    EXPECT_EQ(request.kind_case(), v1::CtlRequest::kStartWorker);
    const auto& start = request.start_worker();
    EXPECT_EQ(start.task_queue(), "orders");
    EXPECT_EQ(start.exec(), "/opt/orders/worker");
    EXPECT_EQ(start.isolation(), "process");
    EXPECT_EQ(std::vector<std::string>(start.args().begin(), start.args().end()),
              (std::vector<std::string>{"--max-cached-workflows", "10", "--log-level", "debug"}));
    v1::CtlReply reply;
    reply.mutable_done()->set_message("worker:orders ready (pid 4251)");
    return reply;
  });
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "start-worker", "orders", "--exec",
                          "/opt/orders/worker", "--isolation", "process", "--",
                          "--max-cached-workflows", "10", "--log-level", "debug"});
  stub.Join();
  EXPECT_TRUE(stub.served());
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "worker:orders ready (pid 4251)\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(CtlTest, WhichChildrenOfANamedSupervisor) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) {
    EXPECT_EQ(request.kind_case(), v1::CtlRequest::kWhichChildren);
    EXPECT_EQ(request.which_children().supervisor(), "workers");
    v1::CtlReply reply;
    v1::CtlNode* child = reply.mutable_which_children()->add_children();
    child->set_id("worker:orders");
    child->set_kind("child");
    child->set_state("running");
    child->set_pid(4250);
    return reply;
  });
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "which-children", "workers"});
  stub.Join();
  EXPECT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.out, "worker:orders  child  running  4250\n");
}

TEST_F(CtlTest, NotFoundErrorExitsFour) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) {
    EXPECT_EQ(request.kind_case(), v1::CtlRequest::kStopWorker);
    EXPECT_EQ(request.stop_worker().task_queue(), "nope");
    return ErrorReply(v1::CTL_ERROR_KIND_NOT_FOUND, "no worker for queue 'nope'");
  });
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "stop-worker", "nope"});
  stub.Join();
  EXPECT_EQ(run.exit_code, 4);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "hourglass: not_found: no worker for queue 'nope'\n");
}

TEST_F(CtlTest, RefusedExitsFive) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) {
    EXPECT_EQ(request.restart().child_id(), "bridgehost");
    return ErrorReply(v1::CTL_ERROR_KIND_REFUSED, "the tree is stopping");
  });
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "restart", "bridgehost"});
  stub.Join();
  EXPECT_EQ(run.exit_code, 5);
  EXPECT_EQ(run.err, "hourglass: refused: the tree is stopping\n");
}

TEST_F(CtlTest, NoReplyWithinTheTimeout) {
  StubSupervisor stub(socket(), [](const v1::CtlRequest& request) -> std::optional<v1::CtlReply> {
    EXPECT_TRUE(request.has_reload_bridge());
    return std::nullopt;
  });
  const CliRun run =
      Ctl({"ctl", "--runtime-dir", dir_.path(), "--timeout-ms", "300", "reload-bridge"});
  stub.Join();
  EXPECT_EQ(run.exit_code, 6);
  EXPECT_EQ(run.err.rfind("hourglass: deadline_exceeded: no reply from hourglass-supervisor at " +
                              socket() + " within 300 ms",
                          0),
            0u)
      << run.err;
}

TEST_F(CtlTest, HangUpWithoutReplyIsUnreachable) {
  StubSupervisor stub(
      socket(), [](const v1::CtlRequest&) -> std::optional<v1::CtlReply> { return std::nullopt; },
      StubSupervisor::Silence::kHangUp);
  const CliRun run = Ctl({"ctl", "--runtime-dir", dir_.path(), "stop"});
  stub.Join();
  EXPECT_EQ(run.exit_code, 3);
  EXPECT_EQ(run.err.rfind("hourglass: unavailable: hourglass-supervisor at " + socket() +
                              " closed the connection without a reply",
                          0),
            0u)
      << run.err;
}

TEST_F(CtlTest, UsageErrorsConnectToNothing) {
  // No stub: a usage error must not depend on what is reachable.
  EXPECT_EQ(Ctl({"ctl", "start-worker", "orders", "--isolation", "fiber"}).exit_code, 2);
  EXPECT_EQ(Ctl({"ctl", "whereis"}).exit_code, 2);
  EXPECT_EQ(Ctl({"ctl", "whereis", "", "--runtime-dir", dir_.path()}).exit_code, 2);
  EXPECT_EQ(Ctl({"ctl", "status", "--runtime-dir", dir_.path(), "--socket", socket()}).exit_code,
            2);
}

}  // namespace
}  // namespace hourglass
