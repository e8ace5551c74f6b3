#include "ipc/client.h"

#include <errno.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "ipc/envelope.h"
#include "ipc/unix_socket.h"

namespace hourglass::ipc {

using Clock = std::chrono::steady_clock;

Result<v1::Response> ToResult(v1::Response response) {
  if (response.has_error()) return std::move(*response.mutable_error());
  return response;
}

namespace {

v1::Envelope MakeRequestEnvelope(uint64_t id, v1::Request request, uint64_t timeout_ms) {
  v1::Envelope env;
  env.set_request_id(id);
  request.set_timeout_ms(timeout_ms);
  *env.mutable_request() = std::move(request);
  return env;
}

v1::Envelope MakeCancelEnvelope(uint64_t id) {
  v1::Envelope env;
  env.mutable_event()->mutable_cancel_request()->set_request_id(id);
  return env;
}

v1::Request MakeHelloRequest(const ClientOptions& options) {
  v1::Request request;
  *request.mutable_hello() = options.hello;
  request.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  request.mutable_hello()->set_pid(static_cast<int32_t>(::getpid()));
  return request;
}

Result<v1::Welcome> ToWelcome(Result<v1::Response> result) {
  if (!result) return result.error();
  if (!result->has_welcome()) {
    return MakeError(v1::ERROR_KIND_PROTOCOL, "the answer to Hello was not a Welcome");
  }
  return std::move(*result->mutable_welcome());
}

Error Timeout(uint64_t ms) {
  return MakeError(v1::ERROR_KIND_DEADLINE_EXCEEDED,
                   "no answer within " + std::to_string(ms) + " ms");
}

}  // namespace

// --- AsyncClient --------------------------------------------------------------

AsyncClient::AsyncClient(EventLoop& loop, ClientOptions options)
    : loop_(loop), options_(std::move(options)) {}

AsyncClient::~AsyncClient() {
  *alive_ = false;
  pending_.clear();
}

void AsyncClient::Connect(std::chrono::milliseconds timeout, WelcomeCallback done) {
  auto fd = ConnectUnixSocket(options_.socket_path, /*nonblocking=*/true);
  if (!fd) {
    loop_.Post([done = std::move(done), error = fd.error()] { done(error); });
    return;
  }
  FrameChannel::Delegate& delegate = *this;
  channel_ = std::make_unique<FrameChannel>(loop_, std::move(fd).value(), delegate,
                                            options_.max_frame_bytes);
  Call(MakeHelloRequest(options_), timeout,
       [this, done = std::move(done)](Result<v1::Response> result) {
         auto welcome = ToWelcome(std::move(result));
         if (welcome) welcome_ = *welcome;
         done(std::move(welcome));
       });
}

uint64_t AsyncClient::Call(v1::Request request, std::chrono::milliseconds timeout,
                           Callback done) {
  const uint64_t id = next_id_++;
  if (!channel_ || !channel_->open()) {
    loop_.Post([done = std::move(done)] {
      done(MakeError(v1::ERROR_KIND_UNAVAILABLE, "not connected to the bridge host"));
    });
    return id;
  }
  const uint64_t timeout_ms = static_cast<uint64_t>(timeout.count());
  auto frame = EncodeMessageFrame(MakeRequestEnvelope(id, std::move(request), timeout_ms),
                                  options_.max_frame_bytes);
  if (!frame) {
    loop_.Post([done = std::move(done), error = frame.error()] { done(error); });
    return id;
  }
  Pending& p = pending_[id];
  p.done = std::move(done);
  if (timeout_ms > 0) {
    p.deadline = loop_.AddTimer(timeout, [this, id, timeout_ms] {
      if (!pending_.contains(id)) return;
      if (channel_ && channel_->open()) {
        if (auto cancel = EncodeMessageFrame(MakeCancelEnvelope(id), options_.max_frame_bytes)) {
          channel_->SendFrame(std::move(cancel).value());
        }
      }
      Finish(id, Timeout(timeout_ms));
    });
  }
  channel_->SendFrame(std::move(frame).value());
  return id;
}

void AsyncClient::Cancel(uint64_t request_id) {
  if (pending_.erase(request_id) == 0) return;
  if (channel_ && channel_->open()) {
    if (auto cancel = EncodeMessageFrame(MakeCancelEnvelope(request_id), options_.max_frame_bytes)) {
      channel_->SendFrame(std::move(cancel).value());
    }
  }
}

void AsyncClient::Finish(uint64_t request_id, Result<v1::Response> result) {
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  Callback done = std::move(it->second.done);
  pending_.erase(it);
  done(std::move(result));
}

void AsyncClient::OnFrame(std::span<const uint8_t> body) {
  v1::Envelope env;
  if (!env.ParseFromArray(body.data(), static_cast<int>(body.size()))) {
    const uint64_t id = PeekRequestId(body).value_or(0);
    spdlog::error("ipc client: malformed envelope from the bridge host ({} bytes)", body.size());
    Finish(id, MakeError(v1::ERROR_KIND_PROTOCOL, "malformed envelope from the bridge host"));
    return;
  }
  switch (env.body_case()) {
    case v1::Envelope::kResponse:
      Finish(env.request_id(), ToResult(std::move(*env.mutable_response())));
      return;
    case v1::Envelope::kEvent:
      if (env.event().has_protocol_error()) {
        spdlog::warn("ipc client: bridge host reported: {}", Describe(env.event().protocol_error()));
      }
      if (on_event_) on_event_(env.event());
      return;
    default:
      spdlog::warn("ipc client: ignoring an envelope that is not a response or event");
      return;
  }
}

void AsyncClient::OnFrameError(const std::string& detail) {
  spdlog::error("ipc client: {}", detail);
}

void AsyncClient::OnClosed(ChannelCloseReason reason, const std::string& detail) {
  Error error = MakeError(v1::ERROR_KIND_UNAVAILABLE,
                          std::string("connection to the bridge host closed: ") + ToString(reason) +
                              (detail.empty() ? "" : " (" + detail + ")"));
  auto alive = alive_;
  FailAll(error);
  if (*alive && on_disconnect_) on_disconnect_(error);
}

void AsyncClient::FailAll(const Error& error) {
  auto alive = alive_;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, p] : pending) {
    p.done(error);
    if (!*alive) return;
  }
}

void AsyncClient::Close() {
  if (channel_) channel_->Close();
}

// --- BlockingClient -----------------------------------------------------------

namespace {

// Milliseconds left until `deadline`, for poll(); -1 means no deadline.
int PollTimeout(Clock::time_point deadline) {
  if (deadline == Clock::time_point::max()) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), 1 << 30));
}

Clock::time_point DeadlineAfter(std::chrono::milliseconds timeout) {
  return timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
}

Status WriteAll(int fd, std::string_view bytes, Clock::time_point deadline, uint64_t timeout_ms) {
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n >= 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      return MakeError(v1::ERROR_KIND_UNAVAILABLE,
                       std::string("write to the bridge host: ") + std::strerror(errno));
    }
    pollfd pfd{fd, POLLOUT, 0};
    const int rc = ::poll(&pfd, 1, PollTimeout(deadline));
    if (rc == 0) return Timeout(timeout_ms);
    if (rc < 0 && errno != EINTR) {
      return MakeError(v1::ERROR_KIND_INTERNAL, std::string("poll: ") + std::strerror(errno));
    }
  }
  return OkStatus();
}

}  // namespace

Result<BlockingClient> BlockingClient::Connect(ClientOptions options,
                                               std::chrono::milliseconds timeout) {
  auto fd = ConnectUnixSocket(options.socket_path, /*nonblocking=*/true);
  if (!fd) return fd.error();
  BlockingClient client(std::move(fd).value(), options.max_frame_bytes);
  client.max_frame_bytes_ = options.max_frame_bytes;
  auto welcome = ToWelcome(client.Call(MakeHelloRequest(options), timeout));
  if (!welcome) return welcome.error();
  client.welcome_ = std::move(welcome).value();
  return client;
}

Status BlockingClient::SendRaw(std::string_view bytes, std::chrono::milliseconds timeout) {
  return WriteAll(fd_.get(), bytes, DeadlineAfter(timeout), static_cast<uint64_t>(timeout.count()));
}

Result<v1::Envelope> BlockingClient::ReadEnvelope(std::chrono::milliseconds timeout) {
  const auto deadline = DeadlineAfter(timeout);
  for (;;) {
    auto item = decoder_->Next();
    if (item.status == FrameDecoder::Status::kFrame) {
      v1::Envelope env;
      if (!env.ParseFromArray(item.body.data(), static_cast<int>(item.body.size()))) {
        return MakeError(v1::ERROR_KIND_PROTOCOL, "malformed envelope from the bridge host");
      }
      return env;
    }
    if (item.status == FrameDecoder::Status::kError) {
      return MakeError(v1::ERROR_KIND_PROTOCOL,
                       "the bridge host announced a frame of " +
                           std::to_string(item.declared_bytes) + " bytes, over the limit");
    }
    pollfd pfd{fd_.get(), POLLIN, 0};
    const int rc = ::poll(&pfd, 1, PollTimeout(deadline));
    if (rc == 0) return Timeout(static_cast<uint64_t>(timeout.count()));
    if (rc < 0) {
      if (errno == EINTR) continue;
      return MakeError(v1::ERROR_KIND_INTERNAL, std::string("poll: ") + std::strerror(errno));
    }
    auto span = decoder_->WritableSpan(std::max<size_t>(decoder_->BytesWanted(), 64 * 1024));
    const ssize_t n = ::read(fd_.get(), span.data(), span.size());
    if (n == 0) return MakeError(v1::ERROR_KIND_UNAVAILABLE, "the bridge host closed the connection");
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
      return MakeError(v1::ERROR_KIND_UNAVAILABLE,
                       std::string("read from the bridge host: ") + std::strerror(errno));
    }
    decoder_->Commit(static_cast<size_t>(n));
  }
}

Result<v1::Response> BlockingClient::Call(v1::Request request, std::chrono::milliseconds timeout) {
  return CallUntil(std::move(request), static_cast<uint64_t>(timeout.count()),
                   DeadlineAfter(timeout));
}

Result<v1::Response> BlockingClient::CallUntil(v1::Request request, uint64_t timeout_ms,
                                               Clock::time_point deadline) {
  const uint64_t id = next_id_++;
  auto frame = EncodeMessageFrame(MakeRequestEnvelope(id, std::move(request), timeout_ms),
                                  max_frame_bytes_);
  if (!frame) return frame.error();
  if (auto st = WriteAll(fd_.get(), *frame, deadline, timeout_ms); !st) return st.error();
  for (;;) {
    const int left = PollTimeout(deadline);
    auto env = ReadEnvelope(std::chrono::milliseconds(left < 0 ? 0 : std::max(left, 1)));
    if (!env) {
      if (env.error().kind() == v1::ERROR_KIND_DEADLINE_EXCEEDED) {
        if (auto cancel = EncodeMessageFrame(MakeCancelEnvelope(id), max_frame_bytes_)) {
          (void)WriteAll(fd_.get(), *cancel, Clock::now() + std::chrono::milliseconds(100), 100);
        }
        return Timeout(timeout_ms);
      }
      return env.error();
    }
    if (env->has_event()) {
      events_.push_back(std::move(*env->mutable_event()));
      continue;
    }
    if (env->has_response() && env->request_id() == id) {
      return ToResult(std::move(*env->mutable_response()));
    }
    // A late answer to an earlier call that timed out: drop it.
  }
}

}  // namespace hourglass::ipc
