#pragma once

// Envelope helpers shared by both ends of the bridge-host socket.

#include <google/protobuf/message_lite.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/result.h"

namespace hourglass::ipc {

inline constexpr v1::ProtocolVersion kProtocolVersion = v1::PROTOCOL_VERSION_1;

// Serializes `message` behind a frame header in one buffer. Fails with
// INVALID_ARGUMENT when the message is larger than `max_frame_bytes`, so an
// oversized payload is refused at the sender instead of killing the connection.
Result<std::string> EncodeMessageFrame(const google::protobuf::MessageLite& message,
                                       uint32_t max_frame_bytes);

// Scans the top level of a serialized Envelope for field 1 (request_id)
// without parsing the rest, so that even an envelope that fails to parse can
// be answered under its own id. Returns nothing if the bytes give no id.
std::optional<uint64_t> PeekRequestId(std::span<const uint8_t> bytes);

// The request kind's field name ("poll_workflow_activation"), or a
// description of an unknown one ("unknown field 99").
std::string RequestKindName(const v1::Request& request);

v1::Envelope MakeErrorResponse(uint64_t request_id, Error error);
v1::Envelope MakeProtocolErrorEvent(Error error);

}  // namespace hourglass::ipc
