#include "workerproc/sdk/src/bridge_link.h"

#include <spdlog/spdlog.h>

#include <future>

namespace hourglass::sdk {

BridgeLink::BridgeLink(ipc::EventLoop& loop, ipc::ClientOptions options) : loop_(loop), client_(loop, std::move(options)) {}

BridgeLink::~BridgeLink() = default;

void BridgeLink::Connect(std::chrono::milliseconds timeout, ipc::AsyncClient::WelcomeCallback done) {
  client_.set_disconnect_callback([this](const ipc::Error& error) {
    const bool was_connected = connected_.exchange(false);
    if (was_connected) {
      spdlog::warn("bridge connection lost: {}", ipc::Describe(error));
      if (on_disconnect_) on_disconnect_();
    }
  });
  client_.Connect(timeout, [this, done = std::move(done)](ipc::Result<ipc::v1::Welcome> welcome) {
    if (welcome.ok()) {
      epoch_.store(welcome->bridge_epoch(), std::memory_order_relaxed);
      connected_.store(true, std::memory_order_relaxed);
    }
    done(std::move(welcome));
  });
}

void BridgeLink::CallOnLoop(ipc::v1::Request request, std::chrono::milliseconds timeout,
                            ipc::AsyncClient::Callback done) {
  if (!client_.connected()) {
    done(ipc::MakeError(ipc::v1::ERROR_KIND_UNAVAILABLE, "not connected to the bridge host"));
    return;
  }
  request.set_epoch(epoch());
  client_.Call(std::move(request), timeout, std::move(done));
}

ipc::Result<ipc::v1::Response> BridgeLink::Call(ipc::v1::Request request, std::chrono::milliseconds timeout) {
  // If the loop is torn down before running the post, the closure (and the
  // promise in it) is destroyed: the future then reports a broken promise.
  auto promise = std::make_shared<std::promise<ipc::Result<ipc::v1::Response>>>();
  auto future = promise->get_future();
  loop_.Post([this, request = std::move(request), timeout, promise]() mutable {
    CallOnLoop(std::move(request), timeout,
               [promise](ipc::Result<ipc::v1::Response> r) { promise->set_value(std::move(r)); });
  });
  try {
    return future.get();
  } catch (const std::future_error&) {
    return ipc::MakeError(ipc::v1::ERROR_KIND_UNAVAILABLE, "the worker's event loop stopped");
  }
}

void BridgeLink::Send(ipc::v1::Request request, std::chrono::milliseconds timeout, const char* what) {
  loop_.Post([this, request = std::move(request), timeout, what]() mutable {
    CallOnLoop(std::move(request), timeout, [what](ipc::Result<ipc::v1::Response> r) {
      if (!r.ok()) spdlog::warn("{} failed: {}", what, ipc::Describe(r.error()));
    });
  });
}

void BridgeLink::Close() {
  connected_.store(false);
  client_.Close();
}

}  // namespace hourglass::sdk
