// libFuzzer target: one frame body, as either side of a socket may receive it.
// The bridge host's rules (on an open session), the id recovery used for
// malformed envelopes, the client's reply handling, and the control channel's
// message, all on the same bytes.

#include <cstddef>
#include <cstdint>
#include <span>

#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/client.h"
#include "ipc/envelope.h"
#include "ipc/server_session.h"

namespace {
hourglass::ipc::ServerSession OpenSession() {
  hourglass::ipc::v1::Envelope hello;
  hello.set_request_id(1);
  hello.mutable_request()->mutable_hello()->set_protocol_version(
      hourglass::ipc::v1::PROTOCOL_VERSION_1);
  const std::string bytes = hello.SerializeAsString();
  hourglass::ipc::ServerSession session(/*bridge_epoch=*/3);
  session.OnFrame({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  session.AcceptHello();
  return session;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ipc = hourglass::ipc;
  std::span<const uint8_t> body(data, size);

  auto session = OpenSession();
  auto decision = session.OnFrame(body);
  if (decision.reply) {
    // Whatever we answer must itself be a frame we can encode.
    (void)ipc::EncodeMessageFrame(*decision.reply, ipc::kDefaultMaxFrameBytes);
  }
  (void)ipc::PeekRequestId(body);

  ipc::v1::Envelope env;
  if (env.ParseFromArray(data, static_cast<int>(size))) {
    if (env.has_request()) (void)ipc::RequestKindName(env.request());
    if (env.has_response()) (void)ipc::ToResult(std::move(*env.mutable_response()));
  }
  ipc::v1::ControlMessage control;
  (void)control.ParseFromArray(data, static_cast<int>(size));
  return 0;
}
