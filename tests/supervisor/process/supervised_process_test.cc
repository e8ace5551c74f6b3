// SupervisedProcess and Reaper on a real event loop with real children: the
// shell the supervisor's policy core drives.

#include "supervisor/process/supervised_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ipc/exit_codes.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass::supervisor {
namespace {

using namespace std::chrono_literals;

// Runs `loop` until `done()` or the timeout; true if done.
bool RunUntil(ipc::EventLoop& loop, const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto tick = loop.AddPeriodicTimer(5ms, [&] {
    if (done() || std::chrono::steady_clock::now() >= deadline) loop.Stop();
  });
  loop.RunForever();
  return done();
}

TEST(SupervisedProcess, Output_LinesPerStreamAndTheExitStatusArrive) {
  ipc::EventLoop loop;
  Reaper reaper(loop);
  std::vector<std::string> out, err;
  std::optional<int> status;
  LaunchSpec spec;
  spec.id = "talker";
  spec.argv = {"/bin/sh", "-c", "echo one; echo two >&2; printf 'no newline'; exit 3"};
  auto p = SupervisedProcess::Start(loop, reaper, spec,
                                    {nullptr, [&](int s) { status = s; },
                                     [&](bool is_err, const std::string& line) { (is_err ? err : out).push_back(line); }});
  ASSERT_TRUE(p.ok());
  EXPECT_GT((*p)->pid(), 0);
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value() && out.size() == 2 && err.size() == 1; }));
  EXPECT_EQ(out, (std::vector<std::string>{"one", "no newline"}));
  EXPECT_EQ(err, (std::vector<std::string>{"two"}));
  EXPECT_EQ(DescribeWaitStatus(*status), "exit 3");
  EXPECT_FALSE((*p)->running());
  EXPECT_FALSE((*p)->Signal(SIGTERM)) << "no signal through a reaped pid";
}

TEST(SupervisedProcess, ControlChannel_BridgeHostReportsReadyAndLeavesOnEof) {
  testing::TempDir dir("hg-sp");
  ipc::EventLoop loop;
  Reaper reaper(loop);
  std::optional<ipc::v1::ControlMessage> ready;
  std::optional<int> status;
  LaunchSpec spec;
  spec.id = "bridgehost";
  spec.argv = {testing::BinDir() + "/hourglass-bridgehost", "--target", "127.0.0.1:1", "--runtime-dir",
               dir.path() + "/run", "--control-fd", "3", "--log-level", "error"};
  auto p = SupervisedProcess::Start(loop, reaper, spec,
                                    {[&](const ipc::v1::ControlMessage& m) {
                                       if (m.has_ready()) ready = m;
                                     },
                                     [&](int s) { status = s; }, nullptr});
  ASSERT_TRUE(p.ok()) << ipc::Describe(p.error());
  ASSERT_TRUE(RunUntil(loop, [&] { return ready.has_value(); }));
  EXPECT_EQ(ready->ready().pid(), (*p)->pid());
  EXPECT_EQ(ready->ready().socket_path(), dir.path() + "/run/bridge.sock");
  (*p)->CloseControl();
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value(); }));
  EXPECT_EQ(DescribeWaitStatus(*status), "exit " + std::to_string(exit_code::kSupervisorGone));
}

TEST(SupervisedProcess, ControlChannel_DevServerReportsItsBoundAddressAndStopsOnShutdown) {
  testing::TempDir dir("hg-sp");
  ipc::EventLoop loop;
  Reaper reaper(loop);
  std::optional<ipc::v1::ControlMessage> ready;
  int heartbeats = 0;
  std::optional<int> status;
  LaunchSpec spec;
  spec.id = "devserver";
  spec.argv = {testing::BinDir() + "/hourglass-devserver", "--port", "0", "--db-filename", dir.path() + "/dev.db",
               "--control-fd", "3", "--heartbeat-ms", "50", "--log-level", "warn"};
  auto p = SupervisedProcess::Start(loop, reaper, spec,
                                    {[&](const ipc::v1::ControlMessage& m) {
                                       if (m.has_ready()) ready = m;
                                       if (m.has_heartbeat()) ++heartbeats;
                                     },
                                     [&](int s) { status = s; }, nullptr});
  ASSERT_TRUE(p.ok()) << ipc::Describe(p.error());
  ASSERT_TRUE(RunUntil(loop, [&] { return ready.has_value() && heartbeats >= 2; }));
  EXPECT_EQ(ready->ready().address().rfind("127.0.0.1:", 0), 0u) << ready->ready().address();
  EXPECT_NE(ready->ready().address(), "127.0.0.1:0");
  ipc::v1::ControlMessage shutdown;
  shutdown.mutable_shutdown()->set_reason("test");
  ASSERT_TRUE((*p)->SendControl(shutdown));
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value(); }));
  EXPECT_EQ(DescribeWaitStatus(*status), "exit 0");
}

TEST(SupervisedProcess, ControlChannel_DevServerLeavesWhenTheSupervisorIsGone) {
  testing::TempDir dir("hg-sp");
  ipc::EventLoop loop;
  Reaper reaper(loop);
  bool ready = false;
  std::optional<int> status;
  LaunchSpec spec;
  spec.id = "devserver";
  spec.argv = {testing::BinDir() + "/hourglass-devserver", "--port", "0", "--control-fd", "3", "--log-level", "warn"};
  auto p = SupervisedProcess::Start(loop, reaper, spec,
                                    {[&](const ipc::v1::ControlMessage& m) { ready = ready || m.has_ready(); },
                                     [&](int s) { status = s; }, nullptr});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(RunUntil(loop, [&] { return ready; }));
  (*p)->CloseControl();
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value(); }));
  EXPECT_EQ(DescribeWaitStatus(*status), "exit " + std::to_string(exit_code::kSupervisorGone));
}

TEST(SupervisedProcess, Signal_GoesThroughThePidfd) {
  ipc::EventLoop loop;
  Reaper reaper(loop);
  std::optional<int> status;
  LaunchSpec spec;
  spec.id = "sleeper";
  spec.argv = {"/bin/sleep", "30"};
  auto p = SupervisedProcess::Start(loop, reaper, spec, {nullptr, [&](int s) { status = s; }, nullptr});
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE((*p)->Signal(SIGTERM));
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value(); }));
  EXPECT_EQ(DescribeWaitStatus(*status), "killed by SIGTERM");
}

TEST(Reaper, Orphans_AChildsGroupDiesWithItAndIsReapedByTheSubreaper) {
  ipc::EventLoop loop;
  std::vector<std::pair<pid_t, int>> orphans;
  Reaper reaper(loop, [&](pid_t pid, int s) { orphans.emplace_back(pid, s); });
  std::optional<int> status;
  std::vector<std::string> out;
  LaunchSpec spec;
  spec.id = "parent";
  // The grandchild would outlive its parent by minutes; it is in the
  // parent's process group, so it is killed when the parent exits (fault
  // catalogue #30), reparented to us, and reaped as an orphan.
  spec.argv = {"/bin/sh", "-c", "sleep 600 & echo $!; exit 0"};
  auto p = SupervisedProcess::Start(loop, reaper, spec,
                                    {nullptr, [&](int s) { status = s; },
                                     [&](bool, const std::string& line) { out.push_back(line); }});
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value() && !orphans.empty(); }));
  EXPECT_EQ(DescribeWaitStatus(*status), "exit 0");
  ASSERT_EQ(out.size(), 1u);
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(orphans[0].first, static_cast<pid_t>(std::stoi(out[0])));
  EXPECT_EQ(DescribeWaitStatus(orphans[0].second), "killed by SIGKILL");
  EXPECT_EQ(reaper.tracked(), 0u);
}

TEST(Reaper, LeaveGroup_AnUntrackedGroupIsNotTouched) {
  // Only a tracked leader's group is killed: a child tracked with the
  // default leaves its group alone (the grandchild ends on its own).
  ipc::EventLoop loop;
  std::vector<std::pair<pid_t, int>> orphans;
  Reaper reaper(loop, [&](pid_t pid, int s) { orphans.emplace_back(pid, s); });
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::setsid();
    if (::fork() == 0) {
      ::usleep(300 * 1000);
      ::_exit(7);
    }
    ::_exit(0);
  }
  std::optional<int> status;
  reaper.Track(child, [&](int s) { status = s; });
  ASSERT_TRUE(RunUntil(loop, [&] { return status.has_value() && !orphans.empty(); }));
  EXPECT_EQ(DescribeWaitStatus(*status), "exit 0");
  ASSERT_EQ(orphans.size(), 1u);
  EXPECT_EQ(DescribeWaitStatus(orphans[0].second), "exit 7");
}

}  // namespace
}  // namespace hourglass::supervisor
