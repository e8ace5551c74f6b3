#include "ipc/blocking_frames.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "ipc/envelope.h"

namespace hourglass::ipc {

std::optional<std::string> ReadFrame(int fd, FrameDecoder& decoder, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto item = decoder.Next();
    if (item.status == FrameDecoder::Status::kFrame) {
      return std::string(reinterpret_cast<const char*>(item.body.data()), item.body.size());
    }
    if (item.status == FrameDecoder::Status::kError) return std::nullopt;
    int wait_ms = -1;
    if (timeout.count() >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      wait_ms = static_cast<int>(left.count());
    }
    pollfd pfd{fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, wait_ms);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return std::nullopt;
    if (r == 0) continue;  // the deadline check above ends it
    auto span = decoder.WritableSpan(64 * 1024);
    const ssize_t n = ::read(fd, span.data(), span.size());
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return std::nullopt;
    decoder.Commit(static_cast<size_t>(n));
  }
}

bool ReadMessage(int fd, FrameDecoder& decoder, google::protobuf::MessageLite& out,
                 std::chrono::milliseconds timeout) {
  auto body = ReadFrame(fd, decoder, timeout);
  return body && out.ParseFromString(*body);
}

bool WriteMessage(int fd, const google::protobuf::MessageLite& message) {
  auto frame = EncodeMessageFrame(message, kDefaultMaxFrameBytes);
  if (!frame.ok()) return false;
  size_t done = 0;
  while (done < frame->size()) {
    const ssize_t n = ::send(fd, frame->data() + done, frame->size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace hourglass::ipc
