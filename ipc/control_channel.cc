#include "ipc/control_channel.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "ipc/envelope.h"
#include "ipc/failpoint.h"
#include "ipc/unix_socket.h"

namespace hourglass::ipc {
namespace {
constexpr uint32_t kControlMaxFrameBytes = 1u << 20;
}  // namespace

ControlChannel::ControlChannel(EventLoop& loop, UniqueFd fd, Handlers handlers,
                               std::chrono::milliseconds heartbeat_period)
    : loop_(loop),
      handlers_(std::move(handlers)),
      channel_(loop, std::move(fd), *this, kControlMaxFrameBytes),
      started_(std::chrono::steady_clock::now()) {
  if (heartbeat_period.count() > 0) {
    heartbeat_timer_ = loop_.AddPeriodicTimer(heartbeat_period, [this] {
      v1::ControlMessage m;
      auto* hb = m.mutable_heartbeat();
      hb->set_sequence(++heartbeat_seq_);
      hb->set_monotonic_ms(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now().time_since_epoch())
                                    .count()));
      Send(m);
    });
  }
}

ControlChannel::~ControlChannel() = default;

std::unique_ptr<ControlChannel> ControlChannel::FromFd(EventLoop& loop, int fd, Handlers handlers,
                                                       std::chrono::milliseconds heartbeat_period) {
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return nullptr;
  if (!SetNonBlocking(fd, true).ok()) return nullptr;
  return std::make_unique<ControlChannel>(loop, UniqueFd(fd), std::move(handlers),
                                          heartbeat_period);
}

bool ControlChannel::Send(const v1::ControlMessage& message) {
  auto frame = EncodeMessageFrame(message, kControlMaxFrameBytes);
  if (!frame) return false;
  return channel_.SendFrame(std::move(frame).value());
}

bool ControlChannel::SendReady(const v1::Ready& ready) {
  v1::ControlMessage m;
  *m.mutable_ready() = ready;
  return Send(m);
}

uint64_t ResidentSetBytes() {
  std::ifstream in("/proc/self/statm");
  uint64_t size = 0, resident = 0;
  in >> size >> resident;
  return resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

void ControlChannel::OnFrame(std::span<const uint8_t> body) {
  v1::ControlMessage m;
  if (!m.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    spdlog::error("control: malformed message from the supervisor ({} bytes); ignored",
                  body.size());
    return;
  }
  switch (m.kind_case()) {
    case v1::ControlMessage::kStatsRequest: {
      v1::ControlMessage reply;
      reply.set_seq(m.seq());
      auto* stats = reply.mutable_stats();
      stats->set_uptime_ms(
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    std::chrono::steady_clock::now() - started_)
                                    .count()));
      stats->set_rss_bytes(ResidentSetBytes());
      if (handlers_.stats) handlers_.stats(*stats);
      Send(reply);
      return;
    }
    case v1::ControlMessage::kDrain:
      if (handlers_.drain) handlers_.drain(m.drain());
      return;
    case v1::ControlMessage::kShutdown:
      if (handlers_.shutdown) handlers_.shutdown(m.shutdown().reason());
      return;
    case v1::ControlMessage::kFailpoint: {
      v1::ControlMessage reply;
      reply.set_seq(m.seq());
      // The process's own points (ipc/failpoint.h) unless a handler says
      // otherwise: every child answers list/set/clear the same way.
      *reply.mutable_failpoint_reply() = handlers_.failpoint
                                             ? handlers_.failpoint(m.failpoint())
                                             : failpoint::HandleCommand(m.failpoint());
      Send(reply);
      return;
    }
    default:
      spdlog::warn("control: unexpected message kind {} from the supervisor",
                   static_cast<int>(m.kind_case()));
      return;
  }
}

void ControlChannel::OnFrameError(const std::string& detail) {
  spdlog::error("control: {}", detail);
}

void ControlChannel::OnClosed(ChannelCloseReason reason, const std::string& detail) {
  heartbeat_timer_.Reset();
  spdlog::warn("control: channel to the supervisor closed ({}); exiting", ToString(reason));
  if (handlers_.lost) handlers_.lost();
}

}  // namespace hourglass::ipc
