#include "ipc/frame_channel.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>

namespace hourglass::ipc {
namespace {
// Read at least this much per syscall, so small frames batch.
constexpr size_t kMinReadBytes = 64 * 1024;
// Cap one read, so a 16 MiB frame does not need a 16 MiB read buffer at once.
constexpr size_t kMaxReadBytes = 1024 * 1024;
constexpr int kMaxIov = 64;
}  // namespace

const char* ToString(ChannelCloseReason reason) {
  switch (reason) {
    case ChannelCloseReason::kPeerClosed:
      return "peer closed";
    case ChannelCloseReason::kIoError:
      return "I/O error";
    case ChannelCloseReason::kFrameTooLarge:
      return "frame too large";
    case ChannelCloseReason::kLocalClose:
      return "closed locally";
  }
  return "unknown";
}

FrameChannel::FrameChannel(EventLoop& loop, UniqueFd fd, Delegate& delegate,
                           uint32_t max_frame_bytes)
    : loop_(loop), fd_(std::move(fd)), delegate_(delegate), decoder_(max_frame_bytes) {
  read_watch_ = loop_.WatchFd(fd_.get(), kReadable, [this](short) { OnReadable(); });
}

FrameChannel::~FrameChannel() { *alive_ = false; }

void FrameChannel::OnReadable() {
  if (closed_ || close_after_flush_) return;
  const size_t want = std::clamp(decoder_.BytesWanted(), kMinReadBytes, kMaxReadBytes);
  auto span = decoder_.WritableSpan(want);
  ssize_t n;
  do {
    n = ::read(fd_.get(), span.data(), std::min(span.size(), kMaxReadBytes));
  } while (n < 0 && errno == EINTR);
  if (n == 0) {
    Shutdown(ChannelCloseReason::kPeerClosed, "EOF");
    return;
  }
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    Shutdown(ChannelCloseReason::kIoError, std::string("read: ") + std::strerror(errno));
    return;
  }
  decoder_.Commit(static_cast<size_t>(n));
  // Level-triggered: if more bytes wait in the socket, the loop calls us again.
  while (!closed_ && !close_after_flush_) {
    auto item = decoder_.Next();
    if (item.status == FrameDecoder::Status::kNeedMore) break;
    if (item.status == FrameDecoder::Status::kError) {
      // The stream cannot be resynchronised. Let the delegate say why, then
      // close once that is written.
      const std::string detail = "peer announced a frame of " +
                                 std::to_string(item.declared_bytes) + " bytes, the limit is " +
                                 std::to_string(decoder_.max_frame_bytes());
      delegate_.OnFrameError(detail);
      if (closed_) return;
      pending_reason_ = ChannelCloseReason::kFrameTooLarge;
      pending_detail_ = detail;
      CloseAfterFlush();
      return;
    }
    delegate_.OnFrame(item.body);
  }
}

bool FrameChannel::SendFrame(std::string frame) {
  if (closed_) return false;
  queued_bytes_ += frame.size();
  out_.push_back(std::move(frame));
  if (out_.size() == 1) {
    // Optimistic write: most frames go out here without waiting for EPOLLOUT.
    if (!Flush()) {
      Shutdown(ChannelCloseReason::kIoError, std::string("write: ") + std::strerror(errno),
               /*notify_now=*/false);
      return false;
    }
    UpdateWriteInterest();
  }
  return true;
}

bool FrameChannel::Flush() {
  while (!out_.empty()) {
    iovec iov[kMaxIov];
    int n_iov = 0;
    size_t offset = out_offset_;
    for (auto it = out_.begin(); it != out_.end() && n_iov < kMaxIov; ++it) {
      iov[n_iov].iov_base = it->data() + offset;
      iov[n_iov].iov_len = it->size() - offset;
      offset = 0;
      ++n_iov;
    }
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(n_iov);
    ssize_t n = ::sendmsg(fd_.get(), &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
      return false;
    }
    size_t written = static_cast<size_t>(n);
    queued_bytes_ -= written;
    while (written > 0) {
      const size_t left = out_.front().size() - out_offset_;
      if (written >= left) {
        written -= left;
        out_.pop_front();
        out_offset_ = 0;
      } else {
        out_offset_ += written;
        written = 0;
      }
    }
  }
  return true;
}

void FrameChannel::OnWritable() {
  if (closed_) return;
  if (!Flush()) {
    Shutdown(ChannelCloseReason::kIoError, std::string("write: ") + std::strerror(errno));
    return;
  }
  UpdateWriteInterest();
}

void FrameChannel::UpdateWriteInterest() {
  if (out_.empty()) {
    write_watch_.Reset();
    if (close_after_flush_) Shutdown(pending_reason_, pending_detail_);
    return;
  }
  if (!write_watch_) {
    write_watch_ = loop_.WatchFd(fd_.get(), kWritable, [this](short) { OnWritable(); });
  }
}

void FrameChannel::CloseAfterFlush() {
  if (closed_) return;
  close_after_flush_ = true;
  read_watch_.Reset();
  UpdateWriteInterest();
}

void FrameChannel::Close() {
  if (closed_) return;
  Shutdown(ChannelCloseReason::kLocalClose, {});
}

void FrameChannel::Shutdown(ChannelCloseReason reason, const std::string& detail, bool notify_now) {
  if (closed_) return;
  closed_ = true;
  read_watch_.Reset();
  write_watch_.Reset();
  out_.clear();
  queued_bytes_ = 0;
  fd_.Reset();
  if (notify_now) {
    delegate_.OnClosed(reason, detail);
    return;
  }
  loop_.Post([this, alive = alive_, reason, detail] {
    if (*alive) delegate_.OnClosed(reason, detail);
  });
}

}  // namespace hourglass::ipc
