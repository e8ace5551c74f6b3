#include "cli/replay_command.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>

#include "cli/errors.h"
#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/blocking_frames.h"
#include "ipc/frame.h"
#include "ipc/unique_fd.h"
#include "ipc/unix_socket.h"

extern char** environ;

namespace hourglass::cli {

namespace {

// Spawns `args` with fds 0-2 inherited plus `extra_fd` as fd 3 (if >= 0).
std::optional<pid_t> Spawn(const std::vector<std::string>& args, int extra_fd) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (extra_fd >= 0) posix_spawn_file_actions_adddup2(&actions, extra_fd, 3);
  posix_spawn_file_actions_addclosefrom_np(&actions, extra_fd >= 0 ? 4 : 3);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, args[0].c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    PrintError("usage", "cannot start " + args[0] + ": " + std::strerror(rc));
    return std::nullopt;
  }
  return pid;
}

int WaitFor(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

// A private bridge host for one replay: its runtime directory, its process,
// the supervisor end of its control channel. Stopped when destroyed.
class PrivateBridge {
 public:
  static std::optional<PrivateBridge> Start(const std::string& bin_dir) {
    char tmpl[] = "/tmp/hg-replay-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) return std::nullopt;
    PrivateBridge b;
    b.dir_ = tmpl;
    auto pair = ipc::MakeSocketPair();
    if (!pair.ok()) return std::nullopt;
    b.control_ = std::move(pair->first);
    ipc::UniqueFd theirs = std::move(pair->second);
    // No Temporal is needed to replay; the target is never dialled usefully.
    auto pid = Spawn({bin_dir + "/hourglass-bridgehost", "--target", "127.0.0.1:1", "--runtime-dir", b.dir_ + "/run",
                      "--control-fd", "3", "--log-level", "error"},
                     theirs.get());
    if (!pid) return std::nullopt;
    b.pid_ = *pid;
    theirs.Reset();
    if (!b.ReadReady()) return std::nullopt;
    return b;
  }

  PrivateBridge(PrivateBridge&& o) noexcept
      : dir_(std::exchange(o.dir_, {})),
        control_(std::move(o.control_)),
        pid_(std::exchange(o.pid_, -1)),
        socket_(std::move(o.socket_)) {}
  PrivateBridge& operator=(PrivateBridge&&) = delete;
  ~PrivateBridge() {
    if (pid_ > 0) {
      control_.Reset();  // EOF: the bridge host leaves on its own
      ::kill(pid_, SIGTERM);
      WaitFor(pid_);
    }
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  const std::string& socket() const { return socket_; }

 private:
  PrivateBridge() = default;
  bool ReadReady() {
    ipc::FrameDecoder decoder;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      ipc::v1::ControlMessage m;
      if (left.count() <= 0 || !ipc::ReadMessage(control_.get(), decoder, m, left)) return false;
      if (m.has_ready()) {
        socket_ = m.ready().socket_path();
        return true;
      }
    }
  }

  std::string dir_;
  ipc::UniqueFd control_;
  pid_t pid_ = -1;
  std::string socket_;
};

std::string BinDir() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? "." : self.parent_path().string();
}

}  // namespace

ReplayCommand::ReplayCommand(CLI::App& app) {
  command_ = app.add_subcommand("replay", "Replay recorded histories against a worker binary's workflows");
  command_->add_option("files", files_, "History files: binary History protos or proto3 JSON ({\"events\": [...]})")
      ->required();
  command_->add_option("--worker", worker_, "The worker binary whose registered workflows replay the histories")
      ->required();
  command_->add_option("--bridge-socket", bridge_socket_,
                       "Use this bridge host instead of starting a private one");
}

int ReplayCommand::Run() const {
  if (::access(worker_.c_str(), X_OK) != 0) {
    PrintError("usage", "--worker " + worker_ + " is not an executable file");
    return exit_code::kUsage;
  }
  std::optional<PrivateBridge> bridge;
  std::string socket = bridge_socket_;
  if (socket.empty()) {
    auto started = PrivateBridge::Start(BinDir());
    if (!started) {
      PrintError("unavailable", "could not start a bridge host for the replay (" + BinDir() + "/hourglass-bridgehost)");
      return exit_code::kUnreachable;
    }
    bridge.emplace(std::move(*started));
    socket = bridge->socket();
  }
  std::vector<std::string> args{worker_, "--replay", "--bridge-socket", socket, "--log-level", "warn"};
  args.insert(args.end(), files_.begin(), files_.end());
  auto pid = Spawn(args, -1);
  if (!pid) return exit_code::kUsage;
  const int status = WaitFor(*pid);
  if (!WIFEXITED(status)) {
    PrintError("internal", "the worker died during the replay (signal " + std::to_string(WTERMSIG(status)) + ")");
    return exit_code::kServerError;
  }
  switch (WEXITSTATUS(status)) {
    case 0: return exit_code::kOk;
    case 1: return exit_code::kWorkflowNotCompleted;  // a history did not replay
    case 2: return exit_code::kUsage;
    case 3: return exit_code::kUnreachable;
    default: return exit_code::kServerError;
  }
}

}  // namespace hourglass::cli
