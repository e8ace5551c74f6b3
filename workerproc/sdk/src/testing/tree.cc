#include "hourglass/testing/tree.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace hourglass::testing {

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

bool Executable(const std::string& path) { return ::access(path.c_str(), X_OK) == 0; }

std::string FindBinDir(const TreeOptions& options) {
  if (!options.bin_dir().empty()) return options.bin_dir();
  if (const char* env = std::getenv("HOURGLASS_BIN_DIR"); env != nullptr && *env != '\0')
    return env;
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string all = path;
    for (size_t start = 0; start <= all.size();) {
      const size_t end = std::min(all.find(':', start), all.size());
      const std::string dir = all.substr(start, end - start);
      if (!dir.empty() && Executable(dir + "/hourglass-supervisor")) return dir;
      start = end + 1;
    }
  }
#ifdef HOURGLASS_BUILD_BIN_DIR
  // Tests inside Hourglass's own build tree.
  return HOURGLASS_BUILD_BIN_DIR;
#else
  return "";
#endif
}

// The current environment with `extra` ("NAME=VALUE") added or replacing.
std::vector<std::string> Environment(const std::vector<std::string>& extra) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool replaced = false;
    for (const auto& x : extra) replaced = replaced || x.substr(0, x.find('=')) == name;
    if (!replaced) out.push_back(entry);
  }
  out.insert(out.end(), extra.begin(), extra.end());
  return out;
}

std::vector<char*> CStrings(std::vector<std::string>& v) {
  std::vector<char*> out;
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Spawns argv with stdout and stderr sent to `out_fd` / `err_fd`.
pid_t Spawn(std::vector<std::string> argv, std::vector<std::string> env, int out_fd, int err_fd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, err_fd, 2);
  auto args = CStrings(argv);
  auto envp = CStrings(env);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Runs argv to completion, collecting its output; SIGKILL after `timeout`.
CommandOutput Run(const std::vector<std::string>& argv, std::chrono::seconds timeout) {
  CommandOutput result;
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return result;
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    return result;
  }
  const pid_t pid = Spawn(argv, Environment({}), out[1], err[1]);
  ::close(out[1]);
  ::close(err[1]);
  if (pid < 0) {
    ::close(out[0]);
    ::close(err[0]);
    result.err = "cannot run " + argv[0];
    return result;
  }
  const auto deadline = Clock::now() + timeout;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open = 2;
  while (open > 0) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP)) == 0) continue;
      char buf[8192];
      const ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Tree::Tree(TreeOptions options) : options_(std::move(options)) {
  if (options_.queues().empty()) options_.Queue("default", "");
  bin_dir_ = FindBinDir(options_);
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/hourglass-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
  dir_ = pattern;
}

Tree::~Tree() {
  if (supervisor_ > 0 && !supervisor_exit_) {
    Ctl({"stop"}, 20s);
    int code = 0;
    const auto deadline = Clock::now() + 15s;
    while (!SupervisorExited(&code) && Clock::now() < deadline) std::this_thread::sleep_for(20ms);
    if (!supervisor_exit_) {
      // Its children follow it within a second (their control channels close).
      ::kill(supervisor_, SIGKILL);
      ::waitpid(supervisor_, nullptr, 0);
    }
  }
  if (!options_.keep_directory()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

void Tree::Fail(const std::string& what) const {
  throw std::runtime_error(what + "\n--- the last lines of " + log_path() + ":\n" + LogTail(40));
}

std::string Tree::LogTail(size_t lines) const {
  std::ifstream in(log_path());
  std::deque<std::string> tail;
  for (std::string line; std::getline(in, line);) {
    tail.push_back(line);
    if (tail.size() > lines) tail.pop_front();
  }
  std::string out;
  for (const auto& l : tail) out += l + "\n";
  return out;
}

bool Tree::SupervisorExited(int* exit_code) {
  if (supervisor_exit_) {
    *exit_code = *supervisor_exit_;
    return true;
  }
  int status = 0;
  if (supervisor_ <= 0 || ::waitpid(supervisor_, &status, WNOHANG) != supervisor_) return false;
  supervisor_exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  *exit_code = *supervisor_exit_;
  return true;
}

void Tree::Start(std::chrono::seconds timeout) {
  if (supervisor_ > 0) Fail("Tree::Start: already started");
  const std::string supervisor = bin_dir_ + "/hourglass-supervisor";
  if (!Executable(supervisor)) {
    throw std::runtime_error("hourglass::testing::Tree: no hourglass-supervisor in '" + bin_dir_ +
                             "' (set TreeOptions::BinDir or $HOURGLASS_BIN_DIR)");
  }
  std::vector<std::string> argv = {supervisor, "--runtime-dir", runtime_dir()};
  for (const auto& [queue, exec] : options_.queues()) {
    argv.push_back("--queue");
    argv.push_back(exec.empty() ? queue : queue + "=" + exec);
  }
  argv.insert(argv.end(), options_.flags().begin(), options_.flags().end());
  std::vector<std::string> extra_env;
  if (!options_.failpoints().empty())
    extra_env.push_back("HOURGLASS_FAILPOINTS=" + options_.failpoints());
  const int log = ::open(log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log < 0) Fail("cannot create " + log_path());
  supervisor_ = Spawn(argv, Environment(extra_env), log, log);
  ::close(log);
  if (supervisor_ < 0) Fail("cannot start " + supervisor);
  AwaitReady(timeout);
}

void Tree::AwaitReady(std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    int code = 0;
    if (SupervisorExited(&code)) Fail("hourglass-supervisor exited " + std::to_string(code));
    const CommandOutput out = Ctl({"status", "--json"}, 10s);
    if (out.exit_code == 0) {
      const auto s = nlohmann::json::parse(out.out, nullptr, false);
      // proto3 JSON writes 64-bit integers as strings.
      const auto epoch =
          s.is_object() ? s.value("bridge_epoch", nlohmann::json()) : nlohmann::json();
      if (!epoch.is_null() && epoch != "0" && epoch != 0) {
        bool all = true;
        for (const auto& [queue, exec] : options_.queues()) {
          bool ready = false;
          for (const auto& e : s.value("registry", nlohmann::json::array())) {
            ready = ready || (e.value("task_queue", "") == queue && e.value("ready", false));
          }
          all = all && ready;
        }
        if (all) return;
      }
    }
    if (Clock::now() > deadline)
      Fail("the tree was not ready within " + std::to_string(timeout.count()) + " s");
    std::this_thread::sleep_for(50ms);
  }
}

int Tree::Stop(std::chrono::seconds timeout) {
  Ctl({"stop"}, timeout);
  int code = 0;
  const auto deadline = Clock::now() + timeout;
  while (!SupervisorExited(&code)) {
    if (Clock::now() > deadline) Fail("hourglass-supervisor did not stop");
    std::this_thread::sleep_for(20ms);
  }
  return code;
}

CommandOutput Tree::Hourglass(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::vector<std::string> argv = {bin_dir_ + "/hourglass"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, timeout);
}

CommandOutput Tree::Ctl(const std::vector<std::string>& args, std::chrono::seconds timeout) {
  std::vector<std::string> argv = {"ctl", "--runtime-dir", runtime_dir()};
  argv.insert(argv.end(), args.begin(), args.end());
  return Hourglass(argv, timeout);
}

std::string Tree::StartWorkflow(const std::string& type, const std::string& task_queue,
                                const nlohmann::json& input, std::string workflow_id) {
  if (workflow_id.empty()) {
    workflow_id = "test-" + std::to_string(::getpid()) + "-" + std::to_string(next_workflow_++);
  }
  std::vector<std::string> args = {"workflow",      "start",    "--bridge-socket", bridge_socket(),
                                   "--type",        type,       "--task-queue",    task_queue,
                                   "--workflow-id", workflow_id};
  if (!input.is_null()) {
    args.push_back("--input");
    args.push_back(input.dump());
  }
  const CommandOutput out = Hourglass(args);
  if (out.exit_code != 0) Fail("workflow start " + workflow_id + ": " + Trim(out.err));
  return workflow_id;
}

WorkflowResult Tree::Result(const std::string& workflow_id, std::chrono::seconds timeout) {
  const CommandOutput out =
      Hourglass({"workflow", "result", "--bridge-socket", bridge_socket(), "--workflow-id",
                 workflow_id, "--timeout", std::to_string(timeout.count())},
                timeout + 10s);
  // Exit 1 is a workflow that did not complete: still a result to return.
  const auto j = nlohmann::json::parse(out.out, nullptr, false);
  if (!j.is_object()) Fail("workflow result " + workflow_id + ": " + Trim(out.err));
  WorkflowResult r;
  r.workflow_id = workflow_id;
  r.run_id = j.value("run_id", "");
  r.status = j.value("status", "");
  r.result = j.contains("result") ? j["result"] : nlohmann::json();
  r.failure = j.contains("failure") ? j["failure"] : nlohmann::json();
  return r;
}

void Tree::Signal(const std::string& workflow_id, const std::string& name,
                  const nlohmann::json& input) {
  std::vector<std::string> args = {"workflow",      "signal",    "--bridge-socket", bridge_socket(),
                                   "--workflow-id", workflow_id, "--name",          name};
  if (!input.is_null()) {
    args.push_back("--input");
    args.push_back(input.dump());
  }
  const CommandOutput out = Hourglass(args);
  if (out.exit_code != 0) Fail("workflow signal " + workflow_id + ": " + Trim(out.err));
}

nlohmann::json Tree::Status() {
  const CommandOutput out = Ctl({"status", "--json"});
  const auto j = nlohmann::json::parse(out.out, nullptr, false);
  if (out.exit_code != 0 || !j.is_object()) Fail("ctl status: " + Trim(out.err));
  return j;
}

namespace {

const nlohmann::json* FindNode(const nlohmann::json& status, const std::string& id) {
  const auto nodes = status.find("nodes");
  if (nodes == status.end() || !nodes->is_array()) return nullptr;
  for (const auto& n : *nodes) {
    if (n.value("id", "") == id) return &n;
  }
  return nullptr;
}

}  // namespace

pid_t Tree::Pid(const std::string& child_id) {
  const auto s = Status();
  const nlohmann::json* n = FindNode(s, child_id);
  if (n == nullptr) Fail("no node '" + child_id + "' in the tree");
  return n->value("pid", 0);
}

pid_t Tree::Kill(const std::string& child_id, int signo) {
  const pid_t pid = Pid(child_id);
  if (pid <= 0) Fail("'" + child_id + "' has no process to signal right now");
  if (::kill(pid, signo) != 0) Fail("kill " + std::to_string(pid) + ": " + std::strerror(errno));
  return pid;
}

int Tree::RestartCount(const std::string& child_id) {
  const auto s = Status();
  const nlohmann::json* n = FindNode(s, child_id);
  if (n == nullptr) Fail("no node '" + child_id + "' in the tree");
  return n->value("restart_count", 0);
}

int Tree::Cascades() { return Status().value("cascades", 0); }

void Tree::SetFailpoint(const std::string& child_id, const std::string& name,
                        const std::string& action) {
  const CommandOutput out = Ctl({"failpoint", "set", child_id, name, action});
  if (out.exit_code != 0) Fail("ctl failpoint set " + child_id + " " + name + ": " + Trim(out.err));
}

void Tree::ClearFailpoint(const std::string& child_id, const std::string& name) {
  const CommandOutput out = Ctl({"failpoint", "clear", child_id, name});
  if (out.exit_code != 0)
    Fail("ctl failpoint clear " + child_id + " " + name + ": " + Trim(out.err));
}

}  // namespace hourglass::testing
