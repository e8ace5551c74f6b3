#include "cli/transport.h"

#include <unistd.h>

#include <cstdlib>

#include "cli/bridge_transport.h"
#include "cli/grpc_transport.h"
#include "ipc/unix_socket.h"

namespace hourglass::cli {

ipc::Result<std::unique_ptr<Transport>> ConnectTransport(const TransportOptions& options,
                                                         Timeout connect_timeout) {
  if (!options.target.empty()) {
    return std::unique_ptr<Transport>(std::make_unique<GrpcTransport>(options.target));
  }
  const std::string socket =
      options.bridge_socket.empty() ? ipc::DefaultBridgeSocket() : options.bridge_socket;
  auto bridge = BridgeTransport::Connect(socket, connect_timeout);
  if (!bridge) return bridge.error();
  return std::unique_ptr<Transport>(std::move(bridge).value());
}

}  // namespace hourglass::cli
