#pragma once

// A framed, non-blocking Unix stream connection on an EventLoop. Reads go
// straight into a FrameDecoder; writes are attempted at once and queued only
// when the socket is full, so a request/reply costs one read and one write
// per side in the common case.

#include <cstdint>
#include <deque>
#include <span>
#include <string>

#include "ipc/event_loop.h"
#include "ipc/frame.h"
#include "ipc/unique_fd.h"

namespace hourglass::ipc {

enum class ChannelCloseReason {
  kPeerClosed,     // orderly EOF
  kIoError,        // read/write failed (ECONNRESET, EPIPE, ...)
  kFrameTooLarge,  // the peer announced a frame over the limit
  kLocalClose,     // we closed it
};
const char* ToString(ChannelCloseReason reason);

class FrameChannel {
 public:
  // Upcalls run on the loop thread. They may call Send/Close on this channel,
  // but must not destroy it synchronously: owners defer destruction (Post).
  class Delegate {
   public:
    virtual ~Delegate() = default;
    virtual void OnFrame(std::span<const uint8_t> body) = 0;
    // The peer announced a frame over the limit. The channel stops reading;
    // it is still writable, so the delegate can say why; it closes once that
    // is written.
    virtual void OnFrameError(const std::string& detail) = 0;
    // Called once, when the channel is closed. `detail` names the errno or the
    // oversized length.
    virtual void OnClosed(ChannelCloseReason reason, const std::string& detail) = 0;
  };

  FrameChannel(EventLoop& loop, UniqueFd fd, Delegate& delegate,
               uint32_t max_frame_bytes = kDefaultMaxFrameBytes);
  ~FrameChannel();
  FrameChannel(const FrameChannel&) = delete;
  FrameChannel& operator=(const FrameChannel&) = delete;

  // Queues one already-framed buffer (header included, see EncodeMessageFrame).
  // Returns false once the channel is closed.
  bool SendFrame(std::string frame);
  // Stops reading now, closes once queued output is written.
  void CloseAfterFlush();
  // Closes now, dropping queued output. Reports kLocalClose to the delegate.
  void Close();

  bool open() const { return !closed_; }
  int fd() const { return fd_.get(); }
  size_t queued_bytes() const { return queued_bytes_; }
  uint32_t max_frame_bytes() const { return decoder_.max_frame_bytes(); }

 private:
  void OnReadable();
  void OnWritable();
  // Writes as much queued output as the socket takes; false on a hard error.
  bool Flush();
  void UpdateWriteInterest();
  void Shutdown(ChannelCloseReason reason, const std::string& detail);

  EventLoop& loop_;
  UniqueFd fd_;
  Delegate& delegate_;
  FrameDecoder decoder_;
  EventHandle read_watch_;
  EventHandle write_watch_;
  std::deque<std::string> out_;
  size_t out_offset_ = 0;  // bytes of out_.front() already written
  size_t queued_bytes_ = 0;
  bool closed_ = false;
  bool close_after_flush_ = false;
  // What to report when a close-after-flush completes.
  ChannelCloseReason pending_reason_ = ChannelCloseReason::kLocalClose;
  std::string pending_detail_;
};

}  // namespace hourglass::ipc
