#pragma once

// A real Hourglass tree for your own kill-based tests: hourglass-supervisor
// with its embedded dev server, the bridge host and your worker binaries, in
// a private temporary directory. Start workflows, SIGKILL or SIGSTOP any
// process of the tree, arm fault points, and await results:
//
//   hourglass::testing::Tree tree(hourglass::testing::TreeOptions().Queue("orders",
//   kOrdersWorker)); tree.Start(); const std::string id = tree.StartWorkflow("PlaceOrder",
//   "orders", {{"sku", "A-1"}}); tree.Kill("bridgehost");               // the cascade replaces
//   every worker tree.AwaitReady(); EXPECT_EQ(tree.Result(id).result, "placed");
//   EXPECT_EQ(tree.Cascades(), 1);
//
// Works with any test framework (failures throw std::runtime_error carrying
// the end of the supervisor's log). It drives the tree through the installed
// command-line tools (`hourglass-supervisor`, `hourglass ctl`, `hourglass
// workflow`), so it tests what you deploy. Not thread-safe: one test thread.

#include <sys/types.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace hourglass::testing {

class TreeOptions {
 public:
  // Serve `task_queue` with `worker_executable` (your worker binary). At
  // least one queue; the default is hourglass-workerproc on "default".
  TreeOptions& Queue(std::string task_queue, std::string worker_executable) {
    queues_.emplace_back(std::move(task_queue), std::move(worker_executable));
    return *this;
  }
  // Fault points armed in every process of the tree from the start, in
  // HOURGLASS_FAILPOINTS' syntax: "name=action;name2=action2"
  // (docs/fault-injection.md).
  TreeOptions& Failpoints(std::string spec) {
    failpoints_ = std::move(spec);
    return *this;
  }
  // Where hourglass-supervisor and hourglass are. Default: $HOURGLASS_BIN_DIR,
  // else the directory of `hourglass-supervisor` on $PATH. With CMake:
  // target_compile_definitions(t PRIVATE
  //     HOURGLASS_BIN_DIR="$<TARGET_FILE_DIR:Hourglass::supervisor>").
  TreeOptions& BinDir(std::string dir) {
    bin_dir_ = std::move(dir);
    return *this;
  }
  // Any further hourglass-supervisor flag, e.g. "--watchdog-ms=1000".
  TreeOptions& Flag(std::string flag) {
    flags_.push_back(std::move(flag));
    return *this;
  }
  // Keep the directory (logs, dev.db) after the test, for a post-mortem.
  TreeOptions& KeepDirectory(bool keep = true) {
    keep_directory_ = keep;
    return *this;
  }

  const std::vector<std::pair<std::string, std::string>>& queues() const { return queues_; }
  const std::string& failpoints() const { return failpoints_; }
  const std::string& bin_dir() const { return bin_dir_; }
  const std::vector<std::string>& flags() const { return flags_; }
  bool keep_directory() const { return keep_directory_; }

 private:
  std::vector<std::pair<std::string, std::string>> queues_;
  std::string failpoints_;
  std::string bin_dir_;
  std::vector<std::string> flags_;
  bool keep_directory_ = false;
};

struct WorkflowResult {
  std::string workflow_id;
  std::string run_id;
  std::string status;      // "COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT", ...
  nlohmann::json result;   // the decoded result when COMPLETED
  nlohmann::json failure;  // the failure chain otherwise
};

struct CommandOutput {
  int exit_code = -1;  // -1: killed by a signal or timed out
  std::string out;     // stdout
  std::string err;     // stderr
};

class Tree {
 public:
  explicit Tree(TreeOptions options = TreeOptions());
  // Stops the tree gracefully (SIGKILL to whatever is left after 15 s) and
  // removes the directory unless KeepDirectory.
  ~Tree();
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;

  // Starts the supervisor and waits until every queue's worker is READY.
  void Start(std::chrono::seconds timeout = std::chrono::seconds(30));
  // Waits until every queue's worker is READY again (after a kill).
  void AwaitReady(std::chrono::seconds timeout = std::chrono::seconds(30));
  // Stops the tree now (ctl stop); returns the supervisor's exit code.
  int Stop(std::chrono::seconds timeout = std::chrono::seconds(30));

  // Workflows, through the bridge host's socket. A workflow id is made up
  // when none is given; the id is returned.
  std::string StartWorkflow(const std::string& type, const std::string& task_queue,
                            const nlohmann::json& input = nullptr, std::string workflow_id = "");
  WorkflowResult Result(const std::string& workflow_id,
                        std::chrono::seconds timeout = std::chrono::seconds(60));
  void Signal(const std::string& workflow_id, const std::string& name,
              const nlohmann::json& input = nullptr);

  // Processes, by tree id: "devserver", "bridgehost", "worker:<queue>",
  // "executor:<pid>". Pid() is 0 when the child has no process right now.
  pid_t Pid(const std::string& child_id);
  // Sends `signo` (SIGKILL by default; SIGSTOP to hang it) to the child;
  // returns the pid signalled.
  pid_t Kill(const std::string& child_id, int signo = 9);
  int RestartCount(const std::string& child_id);
  // Bridge-host cascades so far.
  int Cascades();
  // `hourglass ctl status --json`: the whole tree.
  nlohmann::json Status();

  // Fault points, at run time (`hourglass ctl failpoint`).
  void SetFailpoint(const std::string& child_id, const std::string& name,
                    const std::string& action);
  void ClearFailpoint(const std::string& child_id, const std::string& name);

  // Runs `hourglass` with `args` (add --runtime-dir / --bridge-socket yourself).
  CommandOutput Hourglass(const std::vector<std::string>& args,
                          std::chrono::seconds timeout = std::chrono::seconds(60));

  const std::string& directory() const { return dir_; }
  std::string runtime_dir() const { return dir_ + "/run"; }
  std::string bridge_socket() const { return runtime_dir() + "/bridge.sock"; }
  std::string log_path() const { return dir_ + "/supervisor.log"; }
  // The last `lines` lines of the supervisor's log (it holds every child's).
  std::string LogTail(size_t lines = 40) const;
  pid_t supervisor_pid() const { return supervisor_; }

 private:
  [[noreturn]] void Fail(const std::string& what) const;
  CommandOutput Ctl(const std::vector<std::string>& args,
                    std::chrono::seconds timeout = std::chrono::seconds(30));
  bool SupervisorExited(int* exit_code);

  TreeOptions options_;
  std::string bin_dir_;
  std::string dir_;
  pid_t supervisor_ = -1;
  std::optional<int> supervisor_exit_;
  int next_workflow_ = 1;
};

}  // namespace hourglass::testing
