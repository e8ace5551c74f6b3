#pragma once

// A real hourglass-supervisor for integration tests, benchmarks and demos:
// started in a fresh temporary runtime directory with the flags given, its
// stderr captured to a file, driven over its control socket (ctl.proto) and
// observed through /proc. Everything it started is killed when this object
// goes away, even if the test failed half-way (a test that leaks a dev server
// would slow every later test on a 2-core machine).

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"
#include "ipc/frame.h"
#include "ipc/unique_fd.h"
#include "tests/testing/process.h"
#include "tests/testing/temp_dir.h"

namespace hourglass::testing {

// One connection to a supervisor's control socket: one CtlReply per
// CtlRequest, in order (ctl.proto). Written against the protocol directly so
// tests do not depend on the `hourglass ctl` command line.
class CtlConnection {
 public:
  static std::optional<CtlConnection> Connect(const std::string& socket_path);

  // Sends one request and reads its reply; nothing on timeout, EOF or a
  // reply that does not parse.
  std::optional<ipc::v1::CtlReply> Call(const ipc::v1::CtlRequest& request,
                                        std::chrono::milliseconds timeout);
  // Raw bytes, for malformed-frame tests.
  bool SendBytes(const std::string& bytes);
  std::optional<ipc::v1::CtlReply> Read(std::chrono::milliseconds timeout);
  int fd() const { return fd_.get(); }

 private:
  ipc::UniqueFd fd_;
  ipc::FrameDecoder decoder_;
};

struct SupervisorOptions {
  std::vector<std::string> queues = {};  // --queue NAME[=EXEC], in order
  std::vector<std::string> args = {};    // any further flags
  // When set, written to <dir>/supervisor.toml and passed as --config.
  std::string config_toml = {};
  // An existing directory to work in (a second supervisor on the same
  // runtime directory); empty: a fresh temporary one owned by this object.
  std::string dir = {};
  std::string log_name = "supervisor.log";
  // Where the supervisor's stderr goes instead of that log (a FIFO nobody
  // reads, /dev/full); Log() and the helpers reading it then see nothing.
  std::string stderr_path = {};
  std::string log_level = "info";
  // The supervisor's environment is the test's, minus `unset_env` (names),
  // plus `env` ("NAME=VALUE", replacing an inherited NAME): NOTIFY_SOCKET
  // and WATCHDOG_USEC for the sd_notify tests.
  std::vector<std::string> env = {};
  std::vector<std::string> unset_env = {};
  // The supervisor executable; empty: the one in BinDir(). The packaging
  // test runs an installed one.
  std::string binary = {};
};

class SupervisorProcess {
 public:
  using Clock = std::chrono::steady_clock;

  explicit SupervisorProcess(SupervisorOptions options);
  // SIGKILL to the supervisor and to every process (and process group) it
  // was seen to start, then waits for the supervisor.
  ~SupervisorProcess();
  SupervisorProcess(const SupervisorProcess&) = delete;
  SupervisorProcess& operator=(const SupervisorProcess&) = delete;

  // Spawns the supervisor; false if it could not be spawned.
  bool Start();
  // Polls CtlStatus until every launcher queue has a ready registry entry
  // (and the bridge host reported its epoch). Nothing if the supervisor
  // exited or the timeout passed.
  std::optional<ipc::v1::CtlStatusReply> WaitReady(
      std::chrono::milliseconds timeout = std::chrono::seconds(20));
  // Polls CtlStatus until `pred` holds; the last status that satisfied it.
  template <typename Pred>
  std::optional<ipc::v1::CtlStatusReply> WaitStatus(Pred pred, std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      if (auto s = Status(); s && pred(*s)) return s;
      if (Exited()) return std::nullopt;
      SleepMs(50);
    }
    return std::nullopt;
  }

  // One request on a fresh connection.
  std::optional<ipc::v1::CtlReply> Ctl(
      const ipc::v1::CtlRequest& request,
      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // CtlStatus with a short Stats timeout (a SIGSTOPped child must not slow
  // polling down). Records every child pid it sees, for the teardown.
  std::optional<ipc::v1::CtlStatusReply> Status(uint32_t stats_timeout_ms = 100);

  // Waits for the supervisor's exit; its wait status, or nothing on timeout.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  // True once it exited (reaps it if so).
  bool Exited();
  void Signal(int signo);

  pid_t pid() const { return process_ ? process_->pid() : -1; }
  const std::string& dir() const { return dir_; }
  const std::string& runtime_dir() const { return runtime_dir_; }
  std::string control_socket() const { return runtime_dir_ + "/supervisor.sock"; }
  std::string bridge_socket() const { return runtime_dir_ + "/bridge.sock"; }
  const std::string& log_path() const { return log_path_; }

  // The whole log so far, or its lines.
  std::string Log() const;
  std::vector<std::string> LogLines() const;
  // Writes the last `lines` lines of the log to `out` (for a failing test).
  void DumpLog(std::ostream& out, size_t lines = 80) const;
  // Every child pid that "started '<id>' (pid N)" lines of the log name, and
  // every pid a status showed.
  std::set<pid_t> KnownChildPids() const;

  static void SleepMs(int ms);

 private:
  SupervisorOptions options_;
  std::optional<TempDir> temp_;
  std::string dir_;
  std::string runtime_dir_;
  std::string log_path_;
  std::optional<ChildProcess> process_;
  std::optional<int> exit_status_;
  std::set<pid_t> seen_pids_;
};

// The node `id` of a status, or nullptr.
const ipc::v1::CtlNode* FindNode(const ipc::v1::CtlStatusReply& status, const std::string& id);
// The registry entry of `queue`, or nullptr.
const ipc::v1::CtlRegistryEntry* FindEntry(const ipc::v1::CtlStatusReply& status,
                                           const std::string& queue);

// Whether `pid` is a live process: it exists and is not a zombie (an orphan's
// zombie may wait for a reaper that never comes in a container).
bool ProcessAlive(pid_t pid);
// True when `status` (a wait status) is a normal exit with `code`.
bool ExitedWith(std::optional<int> status, int code);
// "exit 3", "killed by Killed", or "still running" for nothing.
std::string DescribeStatus(std::optional<int> status);
// The last line of a file (a CLI's one-line error on its stderr).
std::string LastLine(const std::string& path);
// Whether `pid` exists at all, a zombie included: after its supervisor has
// exited, a child that still exists was either left running or left
// unreaped.
bool ProcessExists(pid_t pid);
// Every socket file under `dir`, recursively (a tree that stopped cleanly
// leaves none behind).
std::vector<std::string> SocketFilesUnder(const std::string& dir);
// Whether any live process is in process group `pgid`.
bool ProcessGroupAlive(pid_t pgid);
// Every live descendant of `pid`, from /proc.
std::vector<pid_t> Descendants(pid_t pid);

struct CommandResult {
  int status = -1;  // wait status; -1: not started or timed out (then killed)
  std::string out;  // stdout
  bool ok() const;  // exited 0
};
// Runs build/bin/hourglass with `args` (stderr to `stderr_path` if given),
// waiting at most `timeout`.
CommandResult RunHourglassCli(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout,
                              const std::string& stderr_path = "");

}  // namespace hourglass::testing
