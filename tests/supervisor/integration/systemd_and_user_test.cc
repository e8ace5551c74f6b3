// hourglass-supervisor as a system service runs it: under systemd
// (Type=notify: READY=1, WATCHDOG=1, STOPPING=1 on $NOTIFY_SOCKET), as root
// with --user for the children, and configured by a TOML file with flags on
// top. Real processes only: the real tree, a real datagram socket standing in
// for systemd, the real `hourglass` CLI, /proc for the children's
// credentials.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/exit_codes.h"
#include "ipc/unique_fd.h"
#include "tests/testing/process.h"
#include "tests/testing/supervisor_process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;
using testing::DescribeStatus;
using testing::ExitedWith;
using testing::FindEntry;
using testing::FindNode;
using testing::RunHourglassCli;
using testing::SupervisorOptions;
using testing::SupervisorProcess;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every child pid of a status, by node id.
std::map<std::string, pid_t> ChildPids(const v1::CtlStatusReply& s) {
  std::map<std::string, pid_t> out;
  for (const auto& n : s.nodes()) {
    if (n.kind() == "child" && n.pid() > 0) out[n.id()] = n.pid();
  }
  return out;
}

// /proc/<pid>/status as key -> value ("Uid" -> "65534\t65534\t65534\t65534").
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

// "65534\t65534\t65534\t65534" -> the four ids (real, effective, saved, fs).
std::vector<long> Ids(const std::string& value) {
  std::vector<long> ids;
  std::istringstream in(value);
  for (long id; in >> id;) ids.push_back(id);
  return ids;
}

// What systemd would be: a datagram socket bound at a path, read with a
// timeout. Every datagram is kept, in order, with the time it was read.
class NotifySocket {
 public:
  struct Datagram {
    std::string text;
    Clock::time_point at;
  };

  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ipc::UniqueFd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (!fd_ || path.size() >= sizeof(addr.sun_path)) return;
    std::memcpy(addr.sun_path, path.data(), path.size());
    bound_ = ::bind(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }

  bool ok() const { return bound_; }
  const std::string& path() const { return path_; }
  const std::vector<Datagram>& all() const { return all_; }

  // The next datagram, or nothing once `timeout` passed.
  std::optional<Datagram> Receive(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_.get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(0, timeout.count()))) != 1) {
      return std::nullopt;
    }
    char buf[4096];
    const ssize_t n = ::recv(fd_.get(), buf, sizeof(buf), 0);
    if (n < 0) return std::nullopt;
    all_.push_back({std::string(buf, static_cast<size_t>(n)), Clock::now()});
    return all_.back();
  }

  // Reads until a datagram containing `needle` arrives; that datagram.
  std::optional<Datagram> WaitFor(const std::string& needle, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      auto d =
          Receive(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
      if (d && d->text.find(needle) != std::string::npos) return d;
    }
    return std::nullopt;
  }

  // How many datagrams so far contain `needle`.
  int Count(const std::string& needle) const {
    int n = 0;
    for (const auto& d : all_) n += d.text.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }

  // Every datagram so far, for a failure message.
  std::string Transcript() const {
    std::string out;
    for (const auto& d : all_) out += "[" + d.text + "] ";
    return out;
  }

 private:
  std::string path_;
  ipc::UniqueFd fd_;
  bool bound_ = false;
  std::vector<Datagram> all_;
};

class SystemdAndUserTest : public ::testing::Test {
 protected:
  void SetUp() override { started_ = Clock::now(); }

  void TearDown() override {
    if (HasFailure()) {
      for (const auto& s : supervisors_) s->DumpLog(std::cerr, 80);
    }
    supervisors_.clear();
    std::cerr
        << "[wall time "
        << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_).count()
        << " ms]\n";
  }

  // A supervisor not yet started (its directory exists): some tests prepare
  // the directory first.
  SupervisorProcess& Create(SupervisorOptions options) {
    supervisors_.push_back(std::make_unique<SupervisorProcess>(std::move(options)));
    return *supervisors_.back();
  }
  SupervisorProcess& Launch(SupervisorOptions options) {
    SupervisorProcess& s = Create(std::move(options));
    EXPECT_TRUE(s.Start());
    return s;
  }

  // `ctl stop`, then the supervisor must exit 0.
  void StopAndExpectExitZero(SupervisorProcess& s) {
    v1::CtlRequest stop;
    stop.mutable_stop();
    auto reply = s.Ctl(stop, 30s);
    EXPECT_TRUE(reply && reply->has_done()) << (reply ? reply->ShortDebugString() : "<no reply>");
    const auto exit = s.WaitExit(15s);
    EXPECT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);
  }

  std::vector<std::unique_ptr<SupervisorProcess>> supervisors_;
  Clock::time_point started_;
};

// --- sd_notify ----------------------------------------------------------------------

// systemd's watchdog for the supervisor: 200 ms, so a ping every 100 ms.
constexpr int kWatchdogUsec = 200000;

TEST_F(SystemdAndUserTest, SdNotify_ReadyAfterEveryQueueServed_StoppingOnStop) {
  testing::TempDir scratch("hg-notify");
  NotifySocket notify(scratch.path() + "/notify.sock");
  ASSERT_TRUE(notify.ok()) << "cannot bind " << notify.path() << ": " << std::strerror(errno);

  // Queue b's worker becomes READY 1.5 s after queue a's: a READY=1 sent
  // when the first worker (or the bridge host) is ready, rather than the
  // last, is then seen with b not ready yet. The wrapper execs the real
  // worker with the supervisor's arguments, so fd 3 (the control channel)
  // and the pid stay the worker's.
  const std::string slow = scratch.path() + "/slow-worker";
  std::ofstream(slow) << "#!/bin/sh\nsleep 1.5\nexec " << testing::BinDir()
                      << "/hourglass-workerproc \"$@\"\n";
  ASSERT_EQ(::chmod(slow.c_str(), 0755), 0);

  SupervisorProcess& s = Launch(
      {.queues = {"a", "b=" + slow},
       .env = {"NOTIFY_SOCKET=" + notify.path(), "WATCHDOG_USEC=" + std::to_string(kWatchdogUsec)},
       // sd_notify.cc pings only when WATCHDOG_PID is unset or the
       // supervisor's own pid, which is not known before the spawn.
       .unset_env = {"WATCHDOG_PID"}});
  ASSERT_FALSE(HasFailure());

  auto ready = notify.WaitFor("READY=1", 25s);
  ASSERT_TRUE(ready.has_value()) << "no READY=1; got: " << notify.Transcript();
  // Everything the registry says at READY=1 time (it only becomes less
  // ready on a crash, which this test does not cause).
  const auto status = s.Status();
  ASSERT_TRUE(status.has_value());
  for (const std::string q : {"a", "b"}) {
    const auto* e = FindEntry(*status, q);
    ASSERT_NE(e, nullptr) << "READY=1 before queue " << q
                          << " had a worker: " << status->ShortDebugString();
    EXPECT_TRUE(e->ready()) << "READY=1 before queue " << q
                            << "'s worker was ready: " << status->ShortDebugString();
    EXPECT_GT(e->pid(), 0) << q;
  }
  EXPECT_NE(status->bridge_epoch(), 0u) << "READY=1 before the bridge host was ready";
  EXPECT_NE(ready->text.find("STATUS=serving 2 task queue(s)"), std::string::npos) << ready->text;
  // b is slow on purpose: READY=1 cannot have come before its 1.5 s sleep.
  EXPECT_GE(ready->at - started_, 1500ms);

  // systemd's variables are the supervisor's: a worker's user code that
  // called sd_notify must not speak for the service.
  for (const auto& [id, pid] : ChildPids(*status)) {
    // NUL-separated; one in front, so the first variable matches too.
    const std::string nul(1, '\0');
    const std::string env = nul + ReadFile("/proc/" + std::to_string(pid) + "/environ");
    ASSERT_GT(env.size(), 1u) << id;
    for (const char* name : {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID="}) {
      EXPECT_EQ(env.find(nul + name), std::string::npos) << id << " inherited " << name;
    }
  }

  // WATCHDOG=1 every half WATCHDOG_USEC: about 10 in one second. At least 5
  // leaves room for a loaded 2-core machine; fewer means the period is wrong
  // (or the pings stopped once READY=1 was sent).
  const int pings_before = notify.Count("WATCHDOG=1");
  for (const auto until = Clock::now() + 1s; Clock::now() < until;) {
    notify.Receive(std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()));
  }
  const int pings = notify.Count("WATCHDOG=1") - pings_before;
  EXPECT_GE(pings, 5) << "WATCHDOG=1 in one second with WATCHDOG_USEC=" << kWatchdogUsec;
  EXPECT_LE(pings, 15) << "WATCHDOG=1 far more often than every half WATCHDOG_USEC";
  EXPECT_EQ(notify.Count("STOPPING=1"), 0) << "STOPPING=1 before any stop";

  // STOPPING=1 once a stop was asked for; READY=1 was said only once.
  v1::CtlRequest stop;
  stop.mutable_stop();
  auto reply = s.Ctl(stop, 30s);
  EXPECT_TRUE(reply && reply->has_done()) << (reply ? reply->ShortDebugString() : "<no reply>");
  auto stopping = notify.WaitFor("STOPPING=1", 10s);
  EXPECT_TRUE(stopping.has_value()) << "no STOPPING=1 after ctl stop; got: " << notify.Transcript();
  const auto exit = s.WaitExit(15s);
  EXPECT_TRUE(ExitedWith(exit, exit_code::kOk)) << DescribeStatus(exit);
  // Whatever is still queued (nothing is sent after exit).
  while (notify.Receive(0ms)) {
  }
  EXPECT_EQ(notify.Count("READY=1"), 1) << notify.Transcript();
  EXPECT_EQ(notify.Count("STOPPING=1"), 1) << notify.Transcript();
}

// --- --user -------------------------------------------------------------------------

TEST_F(SystemdAndUserTest, User_ChildrenRunAsThatUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "--user needs a supervisor started as root";
  const passwd* pw = ::getpwnam("nobody");
  ASSERT_NE(pw, nullptr) << "no user nobody";
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;

  SupervisorProcess& s = Create({.queues = {"a"}, .args = {"--user", "nobody"}});
  // mkdtemp made the test's directory 0700 root: the children (nobody) must
  // be able to walk through it to the runtime directory, as they would
  // through /run to /run/hourglass.
  ASSERT_EQ(::chmod(s.dir().c_str(), 0711), 0);
  ASSERT_TRUE(s.Start());
  const auto status = s.WaitReady(25s);
  ASSERT_TRUE(status.has_value()) << "the tree never became ready as nobody";

  const auto pids = ChildPids(*status);
  ASSERT_EQ(pids.size(), 3u) << status->ShortDebugString();
  for (const char* id : {"devserver", "bridgehost", "worker:a"}) {
    ASSERT_TRUE(pids.count(id)) << id << " missing: " << status->ShortDebugString();
  }
  for (const auto& [id, pid] : pids) {
    auto st = ProcStatus(pid);
    ASSERT_FALSE(st.empty()) << id;
    // Real, effective, saved and filesystem ids: a saved uid of 0 would let
    // the child become root again.
    EXPECT_EQ(Ids(st["Uid"]), std::vector<long>(4, uid)) << id << " Uid: " << st["Uid"];
    EXPECT_EQ(Ids(st["Gid"]), std::vector<long>(4, gid)) << id << " Gid: " << st["Gid"];
    // root's supplementary groups must not follow it.
    EXPECT_EQ(st["Groups"], "") << id << " Groups: " << st["Groups"];
    EXPECT_EQ(std::stoull(st["CapEff"], nullptr, 16), 0u) << id << " CapEff " << st["CapEff"];
  }
  // The children bind their sockets here: the directory and the bridge
  // host's socket are nobody's.
  struct stat dir_st {};
  ASSERT_EQ(::stat(s.runtime_dir().c_str(), &dir_st), 0);
  EXPECT_EQ(dir_st.st_uid, uid);
  struct stat sock_st {};
  ASSERT_EQ(::stat(s.bridge_socket().c_str(), &sock_st), 0);
  EXPECT_EQ(sock_st.st_uid, uid);

  // End to end, the operator's CLI running as root (the supervisor's uid)
  // through the bridge host that runs as nobody.
  const std::string cli_log = s.dir() + "/cli.log";
  auto run = RunHourglassCli(
      {"workflow", "execute", "--bridge-socket", s.bridge_socket(), "--task-queue", "a", "--type",
       "Hello", "--workflow-id", "as-nobody", "--input", "\"nobody\"", "--timeout", "30"},
      40s, cli_log);
  EXPECT_TRUE(run.ok()) << "workflow execute as root through nobody's bridge host: "
                        << DescribeStatus(run.status) << " " << run.out << " " << ReadFile(cli_log);
  if (run.ok()) {
    const json j = json::parse(run.out, nullptr, false);
    EXPECT_EQ(j.value("status", ""), "COMPLETED") << run.out;
    EXPECT_EQ(j.value("result", json()), json("Hello, nobody!")) << run.out;
  }

  // `hourglass ctl` as root: the supervisor's own uid is always allowed.
  auto ctl =
      RunHourglassCli({"ctl", "--runtime-dir", s.runtime_dir(), "status", "--json"}, 10s, cli_log);
  EXPECT_TRUE(ctl.ok()) << "ctl status as root: " << DescribeStatus(ctl.status) << " " << ctl.out
                        << " " << ReadFile(cli_log);
  EXPECT_NE(ctl.out.find("worker:a"), std::string::npos) << ctl.out;

  StopAndExpectExitZero(s);
}

// The test runs as root, so "needs root" cannot be seen here; an unknown
// user is the other refusal before anything starts.
TEST_F(SystemdAndUserTest, User_NoSuchUser_ExitsUsageNamingTheUser) {
  SupervisorProcess& s = Launch({.queues = {"a"}, .args = {"--user", "no-such-user-xyz"}});
  const auto exit = s.WaitExit(10s);
  ASSERT_TRUE(exit.has_value()) << "the supervisor did not exit at once";
  EXPECT_TRUE(ExitedWith(exit, exit_code::kUsage)) << DescribeStatus(exit);
  EXPECT_NE(s.Log().find("no-such-user-xyz"), std::string::npos) << s.Log();
  EXPECT_TRUE(s.KnownChildPids().empty()) << "children started for an unknown user";
}

// --- Configuration ------------------------------------------------------------------

TEST_F(SystemdAndUserTest, Config_UnknownKey_ExitsUsageNamingTheKey) {
  // A typo at the top level and one in a table: both named, with their
  // table, so neither is silently ignored.
  SupervisorProcess& s = Launch({.config_toml = R"(
namespcae = "default"
[timeouts]
ready_msec = 5000
)"});
  const auto exit = s.WaitExit(10s);
  ASSERT_TRUE(exit.has_value()) << "the supervisor did not exit at once";
  EXPECT_TRUE(ExitedWith(exit, exit_code::kUsage)) << DescribeStatus(exit);
  const std::string log = s.Log();
  EXPECT_NE(log.find("namespcae"), std::string::npos) << log;
  EXPECT_NE(log.find("timeouts.ready_msec"), std::string::npos) << log;
  EXPECT_TRUE(s.KnownChildPids().empty()) << "children started with a bad config";
}

TEST_F(SystemdAndUserTest, Config_FlagsOverrideFile) {
  SupervisorProcess& s =
      Launch({.queues = {"b"}, .args = {"--namespace", "default"}, .config_toml = R"(
namespace = "from-the-file"
[[queue]]
name = "a"
)"});
  const auto status = s.WaitReady(25s);
  ASSERT_TRUE(status.has_value()) << "the tree never became ready";
  // --queue replaces the file's queues: b only, not a and b.
  ASSERT_EQ(status->launcher_queues_size(), 1) << status->ShortDebugString();
  EXPECT_EQ(status->launcher_queues(0), "b");
  EXPECT_NE(FindNode(*status, "worker:b"), nullptr) << status->ShortDebugString();
  EXPECT_EQ(FindNode(*status, "worker:a"), nullptr) << status->ShortDebugString();
  EXPECT_EQ(FindEntry(*status, "a"), nullptr) << status->ShortDebugString();
  ASSERT_EQ(status->registry_size(), 1) << status->ShortDebugString();
  // A scalar key too: the flag wins over the file.
  EXPECT_EQ(status->namespace_(), "default");
  StopAndExpectExitZero(s);
}

}  // namespace
}  // namespace hourglass
