#pragma once

// What the shell tells the core: process facts (spawned, failed to spawn,
// READY, exited), timers it armed for the core firing, and requests (start,
// stop, control-socket commands). Each carries only ids; the core keeps the
// rest.

#include <cstdint>
#include <string>
#include <variant>

#include "supervisor/core/child_spec.h"
#include "supervisor/core/exit_classifier.h"

namespace hourglass::supervisor::core {

// Names a timer the core asked for (ArmTimer); unique for the core's
// lifetime, so a TimerFired for a timer cancelled meanwhile is recognised
// and ignored.
using TimerToken = uint64_t;

// Start the whole tree (once).
struct StartTree {};
// Answer to Spawn: the process exists (exec succeeded).
struct ChildSpawned {
  std::string id{};
  int pid = 0;
};
// Answer to Spawn: no process (fork/exec/setup failed). `reason` is logged.
struct SpawnFailed {
  std::string id{};
  std::string reason{};
  // The supervisor ran short of resources (fork EAGAIN, EMFILE, ENFILE,
  // ENOMEM): retried after a growing delay and not counted against
  // intensity. Otherwise (a missing binary, a failed setuid...) a failed
  // start counts like a crash.
  bool short_of_resources = false;
};
// The child sent READY on its control channel.
struct ChildReady {
  std::string id{};
};
// The child was reaped.
struct ChildExited {
  std::string id{};
  ExitStatus status{};
  // Added to the logs and the kExited cause when the status is not the whole
  // story (an adopted executor whose status its worker collected).
  std::string detail{};
};
struct TimerFired {
  TimerToken token = 0;
};
// SIGTERM/SIGINT to the supervisor, or `hourglass ctl stop`: stop everything
// in reverse start order, then Exit{kOk}.
struct StopTree {};
// `ctl start-worker`: add and start a child in a dynamic group.
struct AddChild {
  std::string group{};
  ChildSpec spec{};
};
// `ctl stop-worker`: stop one child (OTP terminate_child). A dynamic child is
// then forgotten; a static one stays in the tree, stopped.
struct StopChild {
  std::string id{};
};
// `ctl restart`, `ctl reload-bridge`: stop and start a node again, with its
// supervisor's strategy but without counting against intensity.
struct RestartChild {
  std::string id{};
};
// A worker reported a process it spawned itself (a process-isolated
// activity executor, DESIGN §5): the child joins a running dynamic group
// already running with `pid`, with no Spawn and no READY. Refused like
// AddChild. It is then stopped, and its exit handled, like any other child.
struct AdoptChild {
  std::string group{};
  ChildSpec spec{};
  int pid = 0;
};
// The heartbeat watchdog found the child silent (SIGSTOPped, hung): it is
// killed and its end counts as abnormal.
struct WatchdogExpired {
  std::string id{};
};

using Event =
    std::variant<StartTree, ChildSpawned, SpawnFailed, ChildReady, ChildExited, TimerFired,
                 StopTree, AddChild, StopChild, RestartChild, WatchdogExpired, AdoptChild>;

}  // namespace hourglass::supervisor::core
