#include "ipc/frame.h"

#include <algorithm>
#include <cstring>

namespace hourglass::ipc {
namespace {
// Kept between frames; a larger buffer (for a large frame) is given back once
// it is drained, so an idle connection never holds more than this.
constexpr size_t kRetainedBufferBytes = 4u << 20;
}  // namespace

void EncodeFrameHeader(uint32_t body_bytes, uint8_t out[kFrameHeaderBytes]) {
  out[0] = static_cast<uint8_t>(body_bytes >> 24);
  out[1] = static_cast<uint8_t>(body_bytes >> 16);
  out[2] = static_cast<uint8_t>(body_bytes >> 8);
  out[3] = static_cast<uint8_t>(body_bytes);
}

uint32_t DecodeFrameHeader(const uint8_t in[kFrameHeaderBytes]) {
  return (uint32_t{in[0]} << 24) | (uint32_t{in[1]} << 16) | (uint32_t{in[2]} << 8) |
         uint32_t{in[3]};
}

FrameDecoder::FrameDecoder(uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

void FrameDecoder::Compact() {
  if (begin_ == 0) return;
  std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

void FrameDecoder::Reserve(size_t capacity) {
  auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
  if (end_ > begin_) std::memcpy(bigger.get(), buf_.get() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
  buf_ = std::move(bigger);
  capacity_ = capacity;
}

std::span<uint8_t> FrameDecoder::WritableSpan(size_t min_bytes) {
  if (min_bytes == 0) min_bytes = 1;
  if (capacity_ - end_ < min_bytes) {
    Compact();
    if (capacity_ - end_ < min_bytes) Reserve(std::max(end_ + min_bytes, capacity_ * 2));
  }
  return {buf_.get() + end_, capacity_ - end_};
}

void FrameDecoder::Commit(size_t bytes) { end_ = std::min(end_ + bytes, capacity_); }

void FrameDecoder::Feed(std::span<const uint8_t> bytes) {
  if (bytes.empty()) return;
  auto dst = WritableSpan(bytes.size());
  std::memcpy(dst.data(), bytes.data(), bytes.size());
  Commit(bytes.size());
}

size_t FrameDecoder::BytesWanted() const {
  const size_t have = end_ - begin_;
  if (have < kFrameHeaderBytes) return kFrameHeaderBytes - have;
  const uint32_t len = DecodeFrameHeader(buf_.get() + begin_);
  if (len > max_frame_bytes_) return 1;
  const size_t total = kFrameHeaderBytes + size_t{len};
  return total > have ? total - have : 1;
}

FrameDecoder::Item FrameDecoder::Next() {
  Item item;
  if (error_ != FrameError::kNone) {
    item.status = Status::kError;
    item.error = error_;
    item.declared_bytes = error_bytes_;
    return item;
  }
  const size_t have = end_ - begin_;
  if (have < kFrameHeaderBytes) {
    if (have == 0) {
      // Everything consumed: reuse the buffer from its start, and give back
      // the memory a large frame needed rather than hold it per connection.
      begin_ = end_ = 0;
      if (capacity_ > kRetainedBufferBytes) {
        buf_.reset();
        capacity_ = 0;
      }
    }
    return item;
  }
  const uint32_t len = DecodeFrameHeader(buf_.get() + begin_);
  if (len > max_frame_bytes_) {
    error_ = FrameError::kTooLarge;
    error_bytes_ = len;
    return Next();
  }
  if (have - kFrameHeaderBytes < len) return item;
  item.status = Status::kFrame;
  item.body = {buf_.get() + begin_ + kFrameHeaderBytes, len};
  begin_ += kFrameHeaderBytes + len;
  return item;
}

std::string EncodeFrame(std::span<const uint8_t> body) {
  std::string out(kFrameHeaderBytes + body.size(), '\0');
  EncodeFrameHeader(static_cast<uint32_t>(body.size()), reinterpret_cast<uint8_t*>(out.data()));
  if (!body.empty()) std::memcpy(out.data() + kFrameHeaderBytes, body.data(), body.size());
  return out;
}

}  // namespace hourglass::ipc
