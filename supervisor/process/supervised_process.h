#pragma once

// One running child as the supervisor's loop sees it: launched with its
// control channel on fd 3 (a socketpair made here, so identity is fd
// possession), its stdout/stderr drained line by line without ever blocking
// it, its exit delivered by the Reaper. The supervisor's policy core decides
// what to do; this object only does the syscalls.

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/event_loop.h"
#include "ipc/frame_channel.h"
#include "ipc/result.h"
#include "supervisor/process/child_launcher.h"
#include "supervisor/process/line_splitter.h"
#include "supervisor/process/reaper.h"

namespace hourglass::supervisor {

class SupervisedProcess : private ipc::FrameChannel::Delegate {
 public:
  struct Callbacks {
    // READY, heartbeats, stats and failpoint replies from the child.
    std::function<void(const ipc::v1::ControlMessage&)> on_control;
    // The child's exit (after which nothing else is called).
    std::function<void(int wait_status)> on_exit;
    // One line of the child's stdout (is_stderr false) or stderr; default:
    // logged through spdlog with the child's id.
    std::function<void(bool is_stderr, const std::string& line)> on_output;
  };

  // `spec` must not map fd 3: the control channel goes there (the child is
  // told with --control-fd 3 by whoever built the argv).
  static ipc::Result<std::unique_ptr<SupervisedProcess>> Start(ipc::EventLoop& loop, Reaper& reaper,
                                                               LaunchSpec spec, Callbacks callbacks);
  ~SupervisedProcess() override;

  const std::string& id() const { return id_; }
  pid_t pid() const { return pid_; }
  bool running() const { return running_; }
  std::chrono::steady_clock::time_point started_at() const { return started_at_; }
  // Through the pidfd: never a reused pid.
  bool Signal(int signo);
  bool SendControl(const ipc::v1::ControlMessage& message);
  // Closes the control channel: to the child, the supervisor is gone.
  void CloseControl();
  // Logs whatever output is already in the pipes, without waiting for more:
  // called when the child was reaped, since its last lines (a crash message)
  // may not have been read yet.
  void DrainOutput() {
    Drain(false);
    Drain(true);
  }

 private:
  SupervisedProcess(ipc::EventLoop& loop, Reaper& reaper, std::string id, LaunchedChild child,
                    ipc::UniqueFd control, Callbacks callbacks);
  void OnFrame(std::span<const uint8_t> body) override;
  void OnFrameError(const std::string& detail) override;
  void OnClosed(ipc::ChannelCloseReason reason, const std::string& detail) override;
  void Drain(bool is_stderr);

  ipc::EventLoop& loop_;
  Reaper& reaper_;
  std::string id_;
  pid_t pid_;
  ipc::UniqueFd pidfd_;
  ipc::UniqueFd stdout_;
  ipc::UniqueFd stderr_;
  LineSplitter out_lines_;
  LineSplitter err_lines_;
  ipc::EventHandle out_watch_;
  ipc::EventHandle err_watch_;
  std::unique_ptr<ipc::FrameChannel> control_;
  Callbacks callbacks_;
  bool running_ = true;
  std::chrono::steady_clock::time_point started_at_;
};

}  // namespace hourglass::supervisor
