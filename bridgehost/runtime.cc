#include "bridgehost/runtime.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <vector>

namespace hourglass::bridgehost {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DefaultIdentity() {
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  return std::to_string(::getpid()) + "@" + host;
}

uint64_t FreshEpoch() {
  // Random, non-zero, and different across restarts of the same process slot.
  std::random_device rd;
  uint64_t e = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
               static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return e == 0 ? 1 : e;
}

}  // namespace

bool IsRetryable(grpc::StatusCode code, bool long_poll) {
  switch (code) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::DATA_LOSS:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::OUT_OF_RANGE:
      return true;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
      return long_poll;
    default:
      return false;
  }
}

Runtime::Runtime(ipc::EventLoop& loop, RuntimeOptions options)
    : loop_(loop), options_(std::move(options)), epoch_(FreshEpoch()) {
  if (options_.identity.empty()) options_.identity = DefaultIdentity();
  std::shared_ptr<grpc::ChannelCredentials> creds;
  const bool tls = options_.tls || !options_.tls_ca_path.empty() || !options_.tls_cert_path.empty();
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options_.tls_ca_path.empty()) ssl.pem_root_certs = ReadFile(options_.tls_ca_path);
    if (!options_.tls_cert_path.empty()) ssl.pem_cert_chain = ReadFile(options_.tls_cert_path);
    if (!options_.tls_key_path.empty()) ssl.pem_private_key = ReadFile(options_.tls_key_path);
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(128 << 20);
  args.SetMaxSendMessageSize(128 << 20);
  // Keep the connection alive through idle periods and notice a dead peer.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 30000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 15000);
  if (!options_.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options_.tls_server_name);
  }
  channel_ = grpc::CreateCustomChannel(options_.target, creds, args);
  stub_ = wsv::WorkflowService::NewStub(channel_);
}

Runtime::~Runtime() {
  *alive_ = false;
  CancelAll();
  // gRPC completes cancelled calls on its own threads; wait for them, so none
  // touches the loop after its owner is gone.
  std::unique_lock<std::mutex> lock(contexts_mu_);
  contexts_cv_.wait_for(lock, std::chrono::seconds(5), [this] { return contexts_.empty(); });
}

void Runtime::PrepareContext(grpc::ClientContext& ctx,
                             std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  // time_point::max() style deadlines (no deadline) must not overflow.
  if (left > std::chrono::hours(24 * 365)) {
    ctx.set_deadline(std::chrono::system_clock::time_point::max());
  } else {
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(left));
  }
  ctx.AddMetadata("client-name", "hourglass");
  ctx.AddMetadata("client-version", "0.1.0");
  ctx.AddMetadata("temporal-namespace", options_.namespace_name);
  if (!options_.api_key.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.api_key);
}

void Runtime::Track(uint64_t call_id, grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  contexts_[call_id] = ctx;
  // Cancelled between two attempts: cancel the new one at once.
  if (cancelled_.contains(call_id)) ctx->TryCancel();
}

void Runtime::Untrack(uint64_t call_id, grpc::ClientContext* ctx) {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  if (auto it = contexts_.find(call_id); it != contexts_.end() && it->second == ctx)
    contexts_.erase(it);
  contexts_cv_.notify_all();
}

bool Runtime::IsCancelled(uint64_t call_id) {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  return cancelled_.contains(call_id);
}

void Runtime::Cancel(uint64_t call_id) {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  if (!live_calls_.contains(call_id)) return;
  cancelled_.insert(call_id);
  if (auto it = contexts_.find(call_id); it != contexts_.end()) it->second->TryCancel();
}

void Runtime::CancelLongPolls() {
  std::vector<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(contexts_mu_);
    ids.assign(long_polls_.begin(), long_polls_.end());
  }
  for (uint64_t id : ids) Cancel(id);
}

void Runtime::CancelAll() {
  std::lock_guard<std::mutex> lock(contexts_mu_);
  for (auto& [id, ctx] : contexts_) {
    cancelled_.insert(id);
    ctx->TryCancel();
  }
}

void Runtime::Connect(std::chrono::milliseconds timeout, std::function<void(grpc::Status)> done) {
  CallOptions opts;
  opts.timeout = timeout;
  opts.max_attempts = 1 << 20;  // bounded by the timeout
  AsyncMethod<wsv::GetSystemInfoRequest, wsv::GetSystemInfoResponse> method =
      &wsv::WorkflowService::StubInterface::async_interface::GetSystemInfo;
  connect_call_ =
      Call(method, wsv::GetSystemInfoRequest(), opts,
           [this, done = std::move(done)](grpc::Status st, wsv::GetSystemInfoResponse resp) {
             if (st.ok()) {
               system_info_ = std::move(resp);
               connected_ = true;
               spdlog::info("bridgehost: connected to {} (server {})", options_.target,
                            system_info_.server_version());
             } else {
               spdlog::warn("bridgehost: cannot reach {}: {}", options_.target, st.error_message());
             }
             done(st);
           });
}

}  // namespace hourglass::bridgehost
