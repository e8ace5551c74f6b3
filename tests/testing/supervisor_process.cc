#include "tests/testing/supervisor_process.h"

#include <dirent.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "ipc/blocking_frames.h"
#include "ipc/unix_socket.h"

namespace hourglass::testing {

namespace v1 = ipc::v1;
using namespace std::chrono_literals;

// --- CtlConnection -------------------------------------------------------------

std::optional<CtlConnection> CtlConnection::Connect(const std::string& socket_path) {
  auto fd = ipc::ConnectUnixSocket(socket_path);
  if (!fd.ok()) return std::nullopt;
  CtlConnection c;
  c.fd_ = std::move(fd).value();
  return c;
}

std::optional<v1::CtlReply> CtlConnection::Call(const v1::CtlRequest& request,
                                                std::chrono::milliseconds timeout) {
  if (!ipc::WriteMessage(fd_.get(), request)) return std::nullopt;
  return Read(timeout);
}

bool CtlConnection::SendBytes(const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd_.get(), bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

std::optional<v1::CtlReply> CtlConnection::Read(std::chrono::milliseconds timeout) {
  v1::CtlReply reply;
  if (!ipc::ReadMessage(fd_.get(), decoder_, reply, timeout)) return std::nullopt;
  return reply;
}

// --- /proc ----------------------------------------------------------------------

namespace {

struct ProcStat {
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
};

std::optional<ProcStat> ReadStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) return std::nullopt;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
  const auto close = text.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(text.substr(close + 1));
  ProcStat s;
  rest >> s.state >> s.ppid >> s.pgrp;
  if (!rest) return std::nullopt;
  return s;
}

std::map<pid_t, ProcStat> AllProcesses() {
  std::map<pid_t, ProcStat> all;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return all;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0') continue;
    if (auto s = ReadStat(static_cast<pid_t>(pid))) all[static_cast<pid_t>(pid)] = *s;
  }
  ::closedir(d);
  return all;
}

bool Live(const ProcStat& s) { return s.state != 'Z' && s.state != 'X'; }

}  // namespace

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  auto s = ReadStat(pid);
  return s && Live(*s);
}

bool ProcessExists(pid_t pid) { return pid > 0 && ReadStat(pid).has_value(); }

std::vector<std::string> SocketFilesUnder(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_socket(type_ec)) out.push_back(it->path().string());
  }
  return out;
}

bool ProcessGroupAlive(pid_t pgid) {
  if (pgid <= 0) return false;
  for (const auto& [pid, s] : AllProcesses()) {
    if (s.pgrp == pgid && Live(s)) return true;
  }
  return false;
}

std::vector<pid_t> Descendants(pid_t root) {
  const auto all = AllProcesses();
  std::vector<pid_t> out;
  std::set<pid_t> frontier{root};
  bool grew = true;
  while (grew) {
    grew = false;
    for (const auto& [pid, s] : all) {
      if (frontier.count(s.ppid) && !frontier.count(pid)) {
        frontier.insert(pid);
        if (Live(s)) out.push_back(pid);
        grew = true;
      }
    }
  }
  return out;
}

// --- SupervisorProcess ---------------------------------------------------------------

SupervisorProcess::SupervisorProcess(SupervisorOptions options) : options_(std::move(options)) {
  if (options_.dir.empty()) {
    temp_.emplace("hg-sv");
    dir_ = temp_->path();
  } else {
    dir_ = options_.dir;
  }
  runtime_dir_ = dir_ + "/run";
  log_path_ = dir_ + "/" + options_.log_name;
}

SupervisorProcess::~SupervisorProcess() {
  if (!process_) return;
  // Whatever is still running below it (a failed test can leave anything).
  std::set<pid_t> victims = KnownChildPids();
  if (!Exited()) {
    for (pid_t p : Descendants(pid())) victims.insert(p);
    ::kill(pid(), SIGKILL);
    WaitExit(10s);
  }
  for (pid_t p : victims) {
    // Each child leads its own process group (setsid): its descendants go
    // with it. The pids are recent, so reuse is not a practical concern.
    ::kill(-p, SIGKILL);
    ::kill(p, SIGKILL);
  }
}

bool SupervisorProcess::Start() {
  std::vector<std::string> argv;
  if (!options_.env.empty() || !options_.unset_env.empty()) {
    // env(1) execs the supervisor in place, so pid() is still the
    // supervisor's, and ChildProcess keeps spawning with the inherited
    // environment for everyone else.
    argv.push_back("/usr/bin/env");
    for (const auto& name : options_.unset_env) {
      argv.push_back("-u");
      argv.push_back(name);
    }
    argv.push_back("--");
    argv.insert(argv.end(), options_.env.begin(), options_.env.end());
  }
  argv.insert(argv.end(),
              {options_.binary.empty() ? BinDir() + "/hourglass-supervisor" : options_.binary,
               "--runtime-dir", runtime_dir_, "--log-level", options_.log_level});
  for (const auto& q : options_.queues) {
    argv.push_back("--queue");
    argv.push_back(q);
  }
  if (!options_.config_toml.empty()) {
    const std::string path = dir_ + "/supervisor.toml";
    std::ofstream(path) << options_.config_toml;
    argv.push_back("--config");
    argv.push_back(path);
  }
  argv.insert(argv.end(), options_.args.begin(), options_.args.end());
  auto p = ChildProcess::Spawn(
      {argv, {}, false, options_.stderr_path.empty() ? log_path_ : options_.stderr_path});
  if (!p) return false;
  process_.emplace(std::move(*p));
  exit_status_.reset();
  return true;
}

std::optional<v1::CtlStatusReply> SupervisorProcess::WaitReady(std::chrono::milliseconds timeout) {
  return WaitStatus(
      [](const v1::CtlStatusReply& s) {
        if (s.bridge_epoch() == 0 || s.launcher_queues().empty()) return false;
        for (const auto& q : s.launcher_queues()) {
          const auto* e = FindEntry(s, q);
          if (e == nullptr || !e->ready() || e->pid() <= 0) return false;
        }
        return true;
      },
      timeout);
}

std::optional<v1::CtlReply> SupervisorProcess::Ctl(const v1::CtlRequest& request,
                                                   std::chrono::milliseconds timeout) {
  auto c = CtlConnection::Connect(control_socket());
  if (!c) return std::nullopt;
  return c->Call(request, timeout);
}

std::optional<v1::CtlStatusReply> SupervisorProcess::Status(uint32_t stats_timeout_ms) {
  v1::CtlRequest r;
  r.mutable_status()->set_stats_timeout_ms(stats_timeout_ms);
  auto reply = Ctl(r, 5s);
  if (!reply || !reply->has_status()) return std::nullopt;
  for (const auto& n : reply->status().nodes()) {
    if (n.pid() > 0) seen_pids_.insert(n.pid());
  }
  return reply->status();
}

std::optional<int> SupervisorProcess::WaitExit(std::chrono::milliseconds timeout) {
  if (exit_status_) return exit_status_;
  if (!process_) return std::nullopt;
  const int st = process_->Wait(timeout);
  if (st == -1) return std::nullopt;
  exit_status_ = st;
  return st;
}

bool SupervisorProcess::Exited() { return WaitExit(0ms).has_value(); }

void SupervisorProcess::Signal(int signo) {
  if (process_ && !exit_status_) ::kill(process_->pid(), signo);
}

std::string SupervisorProcess::Log() const {
  std::ifstream in(log_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> SupervisorProcess::LogLines() const {
  std::vector<std::string> lines;
  std::istringstream in(Log());
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

void SupervisorProcess::DumpLog(std::ostream& out, size_t lines) const {
  const auto all = LogLines();
  out << "---- last " << std::min(lines, all.size()) << " lines of " << log_path_ << "\n";
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out << all[i] << "\n";
  }
}

std::set<pid_t> SupervisorProcess::KnownChildPids() const {
  std::set<pid_t> pids = seen_pids_;
  static const std::regex started(R"(started '[^']+' \(pid (\d+)\))");
  for (const auto& line : LogLines()) {
    std::smatch m;
    if (std::regex_search(line, m, started)) pids.insert(std::stoi(m[1]));
  }
  return pids;
}

void SupervisorProcess::SleepMs(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

// --- Helpers ---------------------------------------------------------------------------

const v1::CtlNode* FindNode(const v1::CtlStatusReply& status, const std::string& id) {
  for (const auto& n : status.nodes()) {
    if (n.id() == id) return &n;
  }
  return nullptr;
}

const v1::CtlRegistryEntry* FindEntry(const v1::CtlStatusReply& status, const std::string& queue) {
  for (const auto& e : status.registry()) {
    if (e.task_queue() == queue) return &e;
  }
  return nullptr;
}

bool CommandResult::ok() const {
  return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

CommandResult RunHourglassCli(const std::vector<std::string>& args,
                              std::chrono::milliseconds timeout, const std::string& stderr_path) {
  std::vector<std::string> argv{BinDir() + "/hourglass"};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result;
  auto p = ChildProcess::Spawn({argv, {}, true, stderr_path});
  if (!p) return result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Every command prints one JSON object on one line (docs/cli.md).
  if (auto line = p->WaitForLine("", timeout)) result.out = *line;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  result.status = p->Wait(std::max(left, std::chrono::milliseconds(1)));
  if (result.status == -1) p->Stop(0ms);
  return result;
}

bool ExitedWith(std::optional<int> status, int code) {
  return status && WIFEXITED(*status) && WEXITSTATUS(*status) == code;
}

std::string DescribeStatus(std::optional<int> status) {
  if (!status) return "still running";
  if (WIFEXITED(*status)) return "exit " + std::to_string(WEXITSTATUS(*status));
  if (WIFSIGNALED(*status)) return std::string("killed by ") + ::strsignal(WTERMSIG(*status));
  return "status " + std::to_string(*status);
}

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string last;
  for (std::string line; std::getline(in, line);) last = line;
  return last;
}

}  // namespace hourglass::testing
