// The supervisor's child launcher, with real processes: what a child finds
// when it starts (fds, session, signals, capabilities, user) and how a
// failed exec is reported.

#include "supervisor/process/child_launcher.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>

namespace hourglass::supervisor {
namespace {

// Everything the child wrote to stdout, and its wait status.
struct Finished {
  std::string out;
  int status = -1;
};

Finished RunToEnd(LaunchedChild& child) {
  Finished f;
  for (;;) {
    pollfd pfd{child.stdout_fd.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 10000) <= 0) break;
    char buf[4096];
    const ssize_t n = ::read(child.stdout_fd.get(), buf, sizeof(buf));
    if (n <= 0) break;
    f.out.append(buf, static_cast<size_t>(n));
  }
  ::waitpid(child.pid, &f.status, 0);
  return f;
}

LaunchedChild Sh(const std::string& script, LaunchSpec spec = {}) {
  spec.id = "test";
  spec.argv = {"/bin/sh", "-c", script};
  auto child = Launch(spec);
  EXPECT_TRUE(child.ok()) << (child.ok() ? "" : ipc::Describe(child.error()));
  return child.ok() ? std::move(child).value() : LaunchedChild{};
}

std::string StatusField(const std::string& status, const std::string& field) {
  std::istringstream in(status);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      const size_t v = line.find_first_not_of(" \t", field.size() + 1);
      return line.substr(v);
    }
  }
  return "";
}

TEST(ChildLauncher, FdMap_OnlyTheMappedFdsReachTheChild) {
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  ipc::UniqueFd r(p[0]), w(p[1]);
  // A stray fd without CLOEXEC in the supervisor must not leak either.
  const int stray = ::dup(r.get());
  LaunchSpec spec;
  spec.fd_map = {{3, w.get()}};
  // The test reads the running child's fd table itself: nothing in the
  // child opens a file to list it.
  auto child = Sh("exec sleep 5", spec);
  // Launch() returns after exec, so the table is final.
  std::set<int> fds;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(child.pid) + "/fd", ec)) {
    fds.insert(std::stoi(e.path().filename().string()));
  }
  ::close(stray);
  EXPECT_EQ(fds, (std::set<int>{0, 1, 2, 3}));
  ASSERT_TRUE(SignalChild(child.pidfd.get(), SIGKILL));
  auto f = RunToEnd(child);
  EXPECT_TRUE(WIFSIGNALED(f.status));
}

TEST(ChildLauncher, FdMap_SourcesOnEachOthersTargetsAreNotClobbered) {
  // Child fd 4 comes from supervisor fd A and child fd 3 from B, where B's
  // number may equal 4: each child fd must still name its own pipe.
  int a[2], b[2];
  ASSERT_EQ(::pipe2(a, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe2(b, O_CLOEXEC), 0);
  ipc::UniqueFd ar(a[0]), aw(a[1]), br(b[0]), bw(b[1]);
  LaunchSpec spec;
  spec.fd_map = {{aw.get() == 4 ? 3 : 4, aw.get()}, {aw.get() == 4 ? 4 : 3, bw.get()}};
  const int fd_for_a = spec.fd_map[0].first;
  const int fd_for_b = spec.fd_map[1].first;
  auto child = Sh("echo A >&" + std::to_string(fd_for_a) + "; echo B >&" + std::to_string(fd_for_b), spec);
  aw.Reset();
  bw.Reset();
  RunToEnd(child);
  char buf[8] = {};
  ASSERT_GT(::read(ar.get(), buf, sizeof(buf)), 0);
  EXPECT_EQ(std::string(buf), "A\n");
  char buf2[8] = {};
  ASSERT_GT(::read(br.get(), buf2, sizeof(buf2)), 0);
  EXPECT_EQ(std::string(buf2), "B\n");
}

TEST(ChildLauncher, Session_TheChildLeadsANewSession) {
  auto child = Sh("cut -d' ' -f6 /proc/$$/stat");
  const pid_t pid = child.pid;
  auto f = RunToEnd(child);
  EXPECT_EQ(f.out, std::to_string(pid) + "\n");
}

TEST(ChildLauncher, Signals_IgnoredAndBlockedSignalsDoNotLeakIntoTheChild) {
  auto old_pipe = ::signal(SIGPIPE, SIG_IGN);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  ::sigprocmask(SIG_BLOCK, &block, &old_mask);
  auto child = Sh("grep -E '^(SigIgn|SigBlk)' /proc/self/status");
  ::sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  ::signal(SIGPIPE, old_pipe);
  auto f = RunToEnd(child);
  EXPECT_EQ(StatusField(f.out, "SigIgn"), "0000000000000000");
  EXPECT_EQ(StatusField(f.out, "SigBlk"), "0000000000000000");
}

TEST(ChildLauncher, Capabilities_NoneEvenForARootChildAndNoNewPrivs) {
  auto child = Sh("grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status");
  auto f = RunToEnd(child);
  EXPECT_EQ(StatusField(f.out, "CapEff"), "0000000000000000") << f.out;
  EXPECT_EQ(StatusField(f.out, "CapPrm"), "0000000000000000") << f.out;
  EXPECT_EQ(StatusField(f.out, "CapInh"), "0000000000000000") << f.out;
  EXPECT_EQ(StatusField(f.out, "CapAmb"), "0000000000000000") << f.out;
  if (::geteuid() == 0) {
    EXPECT_EQ(StatusField(f.out, "CapBnd"), "0000000000000000") << f.out;
  }
  EXPECT_EQ(StatusField(f.out, "NoNewPrivs"), "1") << f.out;
}

TEST(ChildLauncher, User_RootSupervisorSwitchesTheChildsUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  LaunchSpec spec;
  spec.uid = 65534;
  spec.gid = 65534;
  auto child = Sh("echo $(id -u) $(id -g) $(id -G)", spec);
  auto f = RunToEnd(child);
  EXPECT_EQ(f.out, "65534 65534 65534\n");
}

TEST(ChildLauncher, ExecFailure_ReportsTheStepAndErrnoAndLeavesNoChild) {
  LaunchSpec spec;
  spec.id = "ghost";
  spec.argv = {"/nonexistent/hourglass-ghost"};
  auto child = Launch(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().message(), "launch ghost: exec /nonexistent/hourglass-ghost: No such file or directory");
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1) << "the failed child must already be reaped";
}

TEST(ChildLauncher, Env_OverridesReachTheChild) {
  LaunchSpec spec;
  spec.env = {{"HOURGLASS_CHILD_ID", "worker-7"}};
  auto child = Sh("echo $HOURGLASS_CHILD_ID", spec);
  EXPECT_EQ(RunToEnd(child).out, "worker-7\n");
}

TEST(ChildLauncher, Pidfd_ReadableAtExitAndSignalsTheRightProcess) {
  auto child = Sh("sleep 30");
  pollfd pfd{child.pidfd.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&pfd, 1, 50), 0) << "not readable while the child runs";
  ASSERT_TRUE(SignalChild(child.pidfd.get(), SIGKILL));
  EXPECT_EQ(::poll(&pfd, 1, 5000), 1);
  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PIDFD, static_cast<id_t>(child.pidfd.get()), &info, WEXITED), 0);
  EXPECT_EQ(info.si_pid, child.pid);
  EXPECT_EQ(info.si_code, CLD_KILLED);
  EXPECT_EQ(info.si_status, SIGKILL);
}

}  // namespace
}  // namespace hourglass::supervisor
