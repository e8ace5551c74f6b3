#pragma once

// A child's end of its control channel to hourglass-supervisor (fd 3, see
// docs/ipc-protocol.md "The control channel"): READY once serving, heartbeats
// on a period, Stats on request, and the supervisor's Drain / Shutdown /
// failpoint commands. EOF means the supervisor is gone.

#include <chrono>
#include <functional>
#include <memory>

#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/event_loop.h"
#include "ipc/frame_channel.h"
#include "ipc/unique_fd.h"

namespace hourglass::ipc {

// This process's resident set size (from /proc/self/statm), for Stats.
uint64_t ResidentSetBytes();

class ControlChannel : private FrameChannel::Delegate {
 public:
  struct Handlers {
    // Fills the figures for `hourglass ctl status`.
    std::function<void(v1::Stats&)> stats;
    std::function<void(const v1::Drain&)> drain;
    std::function<void(const std::string& reason)> shutdown;
    // The supervisor is gone (EOF or error on the channel).
    std::function<void()> lost;
    // Failpoint commands; without a handler, the process's registered points
    // answer them (failpoint::HandleCommand).
    std::function<v1::FailpointReply(const v1::FailpointCommand&)> failpoint;
  };

  ControlChannel(EventLoop& loop, UniqueFd fd, Handlers handlers,
                 std::chrono::milliseconds heartbeat_period);
  ~ControlChannel() override;

  // Takes fd `fd` if it is an open socket; nothing when the process was not
  // started by the supervisor.
  static std::unique_ptr<ControlChannel> FromFd(EventLoop& loop, int fd, Handlers handlers,
                                                std::chrono::milliseconds heartbeat_period);

  bool SendReady(const v1::Ready& ready);
  bool Send(const v1::ControlMessage& message);

 private:
  void OnFrame(std::span<const uint8_t> body) override;
  void OnFrameError(const std::string& detail) override;
  void OnClosed(ChannelCloseReason reason, const std::string& detail) override;

  EventLoop& loop_;
  Handlers handlers_;
  FrameChannel channel_;
  EventHandle heartbeat_timer_;
  uint64_t heartbeat_seq_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace hourglass::ipc
