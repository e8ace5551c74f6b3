// libFuzzer target: arbitrary bytes as they would arrive on a bridge-host
// connection. They go through the frame decoder in chunks whose sizes the input
// also chooses, and every frame through the server's protocol rules, exactly as
// the Server does. Any crash, leak, sanitizer report or unbounded allocation is
// a bug.

#include <cstddef>
#include <cstdint>
#include <span>

#include "ipc/frame.h"
#include "ipc/server_session.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using hourglass::ipc::FrameDecoder;
  using hourglass::ipc::ServerSession;
  if (size < 1) return 0;
  // First byte: the chunk size for feeding (1..256), so splits are explored.
  const size_t chunk = size_t{data[0]} + 1;
  std::span<const uint8_t> rest(data + 1, size - 1);

  FrameDecoder decoder(/*max_frame_bytes=*/1 << 16);
  ServerSession session(/*bridge_epoch=*/3);
  while (!rest.empty()) {
    const size_t n = rest.size() < chunk ? rest.size() : chunk;
    decoder.Feed(rest.first(n));
    rest = rest.subspan(n);
    for (;;) {
      auto item = decoder.Next();
      if (item.status != FrameDecoder::Status::kFrame) break;
      auto decision = session.OnFrame(item.body);
      if (decision.kind == ServerSession::Decision::Kind::kHello) session.AcceptHello();
      if (decision.kind == ServerSession::Decision::Kind::kDispatch) {
        session.Complete(decision.request_id);
      }
    }
    if (decoder.failed()) break;
  }
  return 0;
}
