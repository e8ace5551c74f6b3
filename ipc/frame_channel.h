#pragma once

// A framed, non-blocking Unix stream connection on an EventLoop. Reads go
// straight into a FrameDecoder; writes are attempted at once and queued only
// when the socket is full, so a request/reply costs one read and one write
// per side in the common case.

#include <cstdint>
#include <deque>
#include <memory>
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
  // Returns false once the channel is closed. A write error found here closes
  // the channel, but OnClosed comes on a later loop turn: a sender is often
  // in the middle of its own work (a reply sent before applying what it
  // answers), and a synchronous OnClosed would re-enter its owner from
  // inside it — the owner could tear down the very object that is sending.
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
  // `notify_now`: report OnClosed now; otherwise on the next loop turn.
  void Shutdown(ChannelCloseReason reason, const std::string& detail, bool notify_now = true);

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
  // For the deferred OnClosed: false once this channel is destroyed.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hourglass::ipc
