#pragma once

// The calling side of the bridge-host socket.
//
// AsyncClient lives on an EventLoop: many calls in flight, answers in any
// order, a deadline per call (on expiry the caller gets DEADLINE_EXCEEDED and
// the bridge host a CancelRequest, so a parked poll is released there too).
//
// BlockingClient is the convenience for tools and tests: one call at a time on
// the calling thread, same wire protocol, same deadlines.

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "hourglass/ipc/v1/ipc.pb.h"
#include "ipc/event_loop.h"
#include "ipc/frame.h"
#include "ipc/frame_channel.h"
#include "ipc/result.h"
#include "ipc/unique_fd.h"

namespace hourglass::ipc {

struct ClientOptions {
  std::string socket_path;
  // protocol_version and pid are filled in by the client.
  v1::Hello hello;
  uint32_t max_frame_bytes = kDefaultMaxFrameBytes;
};

// Folds a Response carrying an Error into the error side of a Result.
Result<v1::Response> ToResult(v1::Response response);

class AsyncClient : private FrameChannel::Delegate {
 public:
  using Callback = std::function<void(Result<v1::Response>)>;
  using WelcomeCallback = std::function<void(Result<v1::Welcome>)>;
  using EventCallback = std::function<void(const v1::Event&)>;
  using DisconnectCallback = std::function<void(const Error&)>;

  AsyncClient(EventLoop& loop, ClientOptions options);
  ~AsyncClient() override;
  AsyncClient(const AsyncClient&) = delete;
  AsyncClient& operator=(const AsyncClient&) = delete;

  // Connects and exchanges Hello/Welcome; `done` runs on the loop.
  void Connect(std::chrono::milliseconds timeout, WelcomeCallback done);

  // Sends `request`; `done` runs exactly once on the loop: with the response,
  // with the typed error the bridge host answered, with DEADLINE_EXCEEDED when
  // `timeout` (if non-zero) passes first, or with UNAVAILABLE if the
  // connection closes. Returns the request id.
  uint64_t Call(v1::Request request, std::chrono::milliseconds timeout, Callback done);

  // Gives up on a call: `done` will not run, and the bridge host is told.
  void Cancel(uint64_t request_id);

  void set_event_callback(EventCallback cb) { on_event_ = std::move(cb); }
  void set_disconnect_callback(DisconnectCallback cb) { on_disconnect_ = std::move(cb); }

  bool connected() const { return welcome_.has_value() && channel_ && channel_->open(); }
  const std::optional<v1::Welcome>& welcome() const { return welcome_; }
  size_t in_flight() const { return pending_.size(); }
  void Close();

 private:
  struct Pending {
    Callback done;
    EventHandle deadline;
  };

  void OnFrame(std::span<const uint8_t> body) override;
  void OnFrameError(const std::string& detail) override;
  void OnClosed(ChannelCloseReason reason, const std::string& detail) override;
  void Finish(uint64_t request_id, Result<v1::Response> result);
  void FailAll(const Error& error);

  EventLoop& loop_;
  ClientOptions options_;
  std::unique_ptr<FrameChannel> channel_;
  std::optional<v1::Welcome> welcome_;
  uint64_t next_id_ = 1;
  std::unordered_map<uint64_t, Pending> pending_;
  EventCallback on_event_;
  DisconnectCallback on_disconnect_;
  // Callbacks may destroy this client; they check the token afterwards.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

class BlockingClient {
 public:
  static Result<BlockingClient> Connect(ClientOptions options, std::chrono::milliseconds timeout);

  BlockingClient(BlockingClient&&) = default;
  BlockingClient& operator=(BlockingClient&&) = default;

  // One request, one answer. `timeout` 0 waits forever. On DEADLINE_EXCEEDED
  // the bridge host is sent a CancelRequest; a late answer is discarded.
  Result<v1::Response> Call(v1::Request request, std::chrono::milliseconds timeout);

  // Writes raw bytes (tests of malformed input) and reads the next envelope.
  Status SendRaw(std::string_view bytes, std::chrono::milliseconds timeout);
  Result<v1::Envelope> ReadEnvelope(std::chrono::milliseconds timeout);

  const v1::Welcome& welcome() const { return welcome_; }
  // Events that arrived while a call was waiting.
  std::deque<v1::Event> TakeEvents() { return std::exchange(events_, {}); }
  int fd() const { return fd_.get(); }

 private:
  BlockingClient(UniqueFd fd, uint32_t max_frame_bytes)
      : fd_(std::move(fd)), decoder_(std::make_unique<FrameDecoder>(max_frame_bytes)) {}
  Result<v1::Response> CallUntil(v1::Request request, uint64_t timeout_ms,
                                 std::chrono::steady_clock::time_point deadline);

  UniqueFd fd_;
  std::unique_ptr<FrameDecoder> decoder_;
  v1::Welcome welcome_;
  uint64_t next_id_ = 1;
  std::deque<v1::Event> events_;
  uint32_t max_frame_bytes_ = kDefaultMaxFrameBytes;
};

}  // namespace hourglass::ipc
