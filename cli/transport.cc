#include "cli/transport.h"

#include <unistd.h>

#include <cstdlib>

#include "cli/bridge_transport.h"
#include "cli/grpc_transport.h"

namespace hourglass::cli {

// The same rule as hourglass-bridgehost's default --runtime-dir; keep the two
// in step, or the CLI looks for a socket the bridge host never binds.
std::string DefaultBridgeSocket() {
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg != '\0') {
    return std::string(xdg) + "/hourglass/bridge.sock";
  }
  return "/tmp/hourglass-" + std::to_string(::geteuid()) + "/bridge.sock";
}

ipc::Result<std::unique_ptr<Transport>> ConnectTransport(const TransportOptions& options,
                                                         Timeout connect_timeout) {
  if (!options.target.empty()) {
    return std::unique_ptr<Transport>(std::make_unique<GrpcTransport>(options.target));
  }
  const std::string socket =
      options.bridge_socket.empty() ? DefaultBridgeSocket() : options.bridge_socket;
  auto bridge = BridgeTransport::Connect(socket, connect_timeout);
  if (!bridge) return bridge.error();
  return std::unique_ptr<Transport>(std::move(bridge).value());
}

}  // namespace hourglass::cli
