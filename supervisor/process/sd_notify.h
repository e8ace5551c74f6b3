#pragma once

// systemd's notification protocol, for a supervisor run as a Type=notify
// service: READY=1 once the tree is up, WATCHDOG=1 on the watchdog period,
// STOPPING=1 on the way out. A no-op when NOTIFY_SOCKET is not set.

#include <chrono>
#include <optional>
#include <string>

namespace hourglass::supervisor {

// Sends `state` (e.g. "READY=1\nSTATUS=serving 3 queues") to $NOTIFY_SOCKET.
// Returns false when the variable is unset or the send failed.
bool SdNotify(const std::string& state);

// Half of $WATCHDOG_USEC (systemd's advice for the ping period), when the
// watchdog is enabled for this process ($WATCHDOG_PID unset or ours).
std::optional<std::chrono::milliseconds> SdWatchdogPeriod();

}  // namespace hourglass::supervisor
