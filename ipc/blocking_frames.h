#pragma once

// Whole frames read and written synchronously on a socket, for the places
// that talk to one peer with no event loop: an executor process reading its
// task, the CLI and tests reading a child's READY on its control channel.
// (Loop-driven code uses FrameChannel; the request/reply client is
// BlockingClient.)

#include <chrono>
#include <optional>
#include <string>

#include <google/protobuf/message_lite.h>

#include "ipc/frame.h"

namespace hourglass::ipc {

// Reads until `decoder` holds a whole frame and returns its body; nothing on
// EOF, a read error, an oversized frame, or when `timeout` passes (negative:
// wait forever). Bytes after the frame stay in the decoder for the next call.
std::optional<std::string> ReadFrame(int fd, FrameDecoder& decoder, std::chrono::milliseconds timeout);

// ReadFrame, parsed as `out`; false also when the body does not parse.
bool ReadMessage(int fd, FrameDecoder& decoder, google::protobuf::MessageLite& out,
                 std::chrono::milliseconds timeout);

// Writes `message` as one frame, all of it (MSG_NOSIGNAL: a closed peer is an
// error, not a SIGPIPE).
bool WriteMessage(int fd, const google::protobuf::MessageLite& message);

}  // namespace hourglass::ipc
