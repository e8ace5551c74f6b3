#include "ipc/envelope.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/unknown_field_set.h>

#include "ipc/frame.h"

namespace hourglass::ipc {

Result<std::string> EncodeMessageFrame(const google::protobuf::MessageLite& message,
                                       uint32_t max_frame_bytes) {
  const size_t size = message.ByteSizeLong();
  if (size > max_frame_bytes) {
    return MakeError(v1::ERROR_KIND_INVALID_ARGUMENT,
                     "message of " + std::to_string(size) + " bytes exceeds the frame limit of " +
                         std::to_string(max_frame_bytes) + " bytes");
  }
  std::string out(kFrameHeaderBytes + size, '\0');
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  EncodeFrameHeader(static_cast<uint32_t>(size), p);
  message.SerializeWithCachedSizesToArray(p + kFrameHeaderBytes);
  return out;
}

namespace {

// Reads a base-128 varint; false on truncation or more than 10 bytes.
bool ReadVarint(std::span<const uint8_t> in, size_t& pos, uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (pos >= in.size()) return false;
    const uint8_t b = in[pos++];
    out |= uint64_t{b & 0x7fu} << shift;
    if ((b & 0x80u) == 0) return true;
  }
  return false;
}

}  // namespace

std::optional<uint64_t> PeekRequestId(std::span<const uint8_t> bytes) {
  size_t pos = 0;
  std::optional<uint64_t> id;
  while (pos < bytes.size()) {
    uint64_t tag = 0;
    if (!ReadVarint(bytes, pos, tag)) return id;
    const uint64_t field = tag >> 3;
    const unsigned wire_type = tag & 7u;
    uint64_t value = 0;
    switch (wire_type) {
      case 0:  // varint
        if (!ReadVarint(bytes, pos, value)) return id;
        if (field == 1) id = value;  // the last occurrence wins, as in protobuf
        break;
      case 1:  // fixed64
        if (bytes.size() - pos < 8) return id;
        pos += 8;
        break;
      case 2:  // length-delimited
        if (!ReadVarint(bytes, pos, value) || value > bytes.size() - pos) return id;
        pos += static_cast<size_t>(value);
        break;
      case 5:  // fixed32
        if (bytes.size() - pos < 4) return id;
        pos += 4;
        break;
      default:  // groups and invalid wire types: give up
        return id;
    }
  }
  return id;
}

std::string RequestKindName(const v1::Request& request) {
  if (request.kind_case() != v1::Request::KIND_NOT_SET) {
    const auto* field =
        v1::Request::descriptor()->FindFieldByNumber(static_cast<int>(request.kind_case()));
    if (field != nullptr) return field->name();
  }
  // A newer peer's request kind arrives as an unknown field.
  const auto& unknown = request.GetReflection()->GetUnknownFields(request);
  for (int i = 0; i < unknown.field_count(); ++i) {
    if (unknown.field(i).number() >= 10) {
      return "unknown field " + std::to_string(unknown.field(i).number());
    }
  }
  return "no request kind";
}

v1::Envelope MakeErrorResponse(uint64_t request_id, Error error) {
  v1::Envelope env;
  env.set_request_id(request_id);
  *env.mutable_response()->mutable_error() = std::move(error);
  return env;
}

v1::Envelope MakeProtocolErrorEvent(Error error) {
  v1::Envelope env;
  *env.mutable_event()->mutable_protocol_error() = std::move(error);
  return env;
}

}  // namespace hourglass::ipc
