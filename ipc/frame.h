#pragma once

// Framing for every Hourglass socket: a 4-byte big-endian length, then that
// many bytes of one serialized protobuf message (docs/ipc-protocol.md).
//
// FrameDecoder is sans-IO: bytes in, frames out. It never allocates more than
// one frame's worth of buffer plus one read's slack, and rejects a length over
// its limit before reading the body.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace hourglass::ipc {

inline constexpr size_t kFrameHeaderBytes = 4;
// 16 MiB: above Temporal's 4 MiB default gRPC message limit, so any message the
// server accepts fits in one frame, and far below what a bug could make us
// allocate.
inline constexpr uint32_t kDefaultMaxFrameBytes = 16u << 20;

void EncodeFrameHeader(uint32_t body_bytes, uint8_t out[kFrameHeaderBytes]);
uint32_t DecodeFrameHeader(const uint8_t in[kFrameHeaderBytes]);

enum class FrameError {
  kNone,
  kTooLarge,  // the length prefix exceeds the limit; the stream cannot be resynced
};

class FrameDecoder {
 public:
  enum class Status { kFrame, kNeedMore, kError };
  struct Item {
    Status status = Status::kNeedMore;
    // kFrame: the frame body. Valid until the next call to any non-const method.
    std::span<const uint8_t> body;
    // kError: which error, and the offending length.
    FrameError error = FrameError::kNone;
    uint64_t declared_bytes = 0;
  };

  explicit FrameDecoder(uint32_t max_frame_bytes = kDefaultMaxFrameBytes);

  // Zero-copy input: a span of at least `min_bytes` writable bytes; write into
  // it, then Commit() what was written.
  std::span<uint8_t> WritableSpan(size_t min_bytes);
  void Commit(size_t bytes);
  // Copying input.
  void Feed(std::span<const uint8_t> bytes);

  // The next complete frame, kNeedMore, or a sticky kError.
  Item Next();

  // How many bytes the decoder wants to finish the current frame (at least 1);
  // a hint for the size of the next read.
  size_t BytesWanted() const;
  size_t buffered() const { return end_ - begin_; }
  uint32_t max_frame_bytes() const { return max_frame_bytes_; }
  bool failed() const { return error_ != FrameError::kNone; }

 private:
  void Compact();
  void Reserve(size_t capacity);

  uint32_t max_frame_bytes_;
  // Not a std::vector: growing it would zero-fill bytes a read overwrites anyway.
  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;  // first unconsumed byte
  size_t end_ = 0;    // one past the last committed byte
  FrameError error_ = FrameError::kNone;
  uint64_t error_bytes_ = 0;
};

// Header + body in one contiguous buffer, ready for a single write.
std::string EncodeFrame(std::span<const uint8_t> body);

}  // namespace hourglass::ipc
