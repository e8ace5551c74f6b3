#include "supervisor/process/supervised_process.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "ipc/envelope.h"
#include "ipc/unix_socket.h"
#include "supervisor/process/child_log.h"

namespace hourglass::supervisor {

namespace v1 = ipc::v1;

ipc::Result<std::unique_ptr<SupervisedProcess>> SupervisedProcess::Start(ipc::EventLoop& loop, Reaper& reaper,
                                                                         LaunchSpec spec, Callbacks callbacks) {
  auto pair = ipc::MakeSocketPair();
  if (!pair.ok()) return pair.error();
  ipc::UniqueFd ours = std::move(pair->first);
  ipc::UniqueFd theirs = std::move(pair->second);
  spec.fd_map.emplace_back(3, theirs.get());
  auto launched = Launch(spec);
  if (!launched.ok()) return launched.error();
  return std::unique_ptr<SupervisedProcess>(new SupervisedProcess(loop, reaper, spec.id, std::move(launched).value(),
                                                                  std::move(ours), std::move(callbacks)));
}

SupervisedProcess::SupervisedProcess(ipc::EventLoop& loop, Reaper& reaper, std::string id, LaunchedChild child,
                                     ipc::UniqueFd control, Callbacks callbacks)
    : loop_(loop),
      reaper_(reaper),
      id_(std::move(id)),
      pid_(child.pid),
      pidfd_(std::move(child.pidfd)),
      stdout_(std::move(child.stdout_fd)),
      stderr_(std::move(child.stderr_fd)),
      callbacks_(std::move(callbacks)),
      started_at_(std::chrono::steady_clock::now()) {
  if (!callbacks_.on_output) {
    callbacks_.on_output = [id = id_](bool is_stderr, const std::string& line) {
      const ChildLogLine parsed = ParseChildLogLine(line, is_stderr);
      spdlog::log(parsed.level, "[{}] {}", id, parsed.text);
    };
  }
  control_ = std::make_unique<ipc::FrameChannel>(loop_, std::move(control),
                                                 static_cast<ipc::FrameChannel::Delegate&>(*this));
  if (stdout_) out_watch_ = loop_.WatchFd(stdout_.get(), ipc::kReadable, [this](short) { Drain(false); });
  if (stderr_) err_watch_ = loop_.WatchFd(stderr_.get(), ipc::kReadable, [this](short) { Drain(true); });
  // It leads its own process group (setsid): whatever of it is left goes
  // with it, however it ended (fault catalogue #30).
  reaper_.Track(
      pid_,
      [this](int status) {
        running_ = false;
        // The pid is free for reuse from now on: no more signals through it.
        pidfd_.Reset();
        if (callbacks_.on_exit) callbacks_.on_exit(status);
      },
      Reaper::OnExit::kKillGroup);
}

SupervisedProcess::~SupervisedProcess() {
  if (running_) reaper_.Untrack(pid_);
}

bool SupervisedProcess::Signal(int signo) { return running_ && pidfd_ && SignalChild(pidfd_.get(), signo); }

bool SupervisedProcess::SendControl(const v1::ControlMessage& message) {
  if (!control_ || !control_->open()) return false;
  auto frame = ipc::EncodeMessageFrame(message, control_->max_frame_bytes());
  return frame.ok() && control_->SendFrame(std::move(*frame));
}

void SupervisedProcess::CloseControl() {
  if (control_) control_->Close();
}

void SupervisedProcess::OnFrame(std::span<const uint8_t> body) {
  v1::ControlMessage m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::warn("[{}] malformed control message ({} bytes) ignored", id_, body.size());
    return;
  }
  if (callbacks_.on_control) callbacks_.on_control(m);
}

void SupervisedProcess::OnFrameError(const std::string& detail) {
  spdlog::warn("[{}] control channel: {}", id_, detail);
}

void SupervisedProcess::OnClosed(ipc::ChannelCloseReason reason, const std::string& detail) {
  if (reason != ipc::ChannelCloseReason::kLocalClose && reason != ipc::ChannelCloseReason::kPeerClosed) {
    spdlog::warn("[{}] control channel closed: {} {}", id_, ipc::ToString(reason), detail);
  }
}

void SupervisedProcess::Drain(bool is_stderr) {
  ipc::UniqueFd& fd = is_stderr ? stderr_ : stdout_;
  LineSplitter& splitter = is_stderr ? err_lines_ : out_lines_;
  if (!fd) return;
  // Bounded per wake-up so one chatty child cannot starve the loop; the
  // pipe stays readable and the loop comes back.
  for (int rounds = 0; rounds < 16; ++rounds) {
    char buf[16 * 1024];
    const ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n > 0) {
      for (auto& line : splitter.Feed(std::string_view(buf, static_cast<size_t>(n)))) {
        callbacks_.on_output(is_stderr, line);
      }
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    // EOF (the child and every descendant holding the pipe are gone) or error.
    for (auto& line : splitter.Finish()) callbacks_.on_output(is_stderr, line);
    (is_stderr ? err_watch_ : out_watch_).Reset();
    fd.Reset();
    return;
  }
}

}  // namespace hourglass::supervisor
