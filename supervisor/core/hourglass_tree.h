#pragma once

// Hourglass's own tree (DESIGN §1), as a spec for Tree::Create:
//
//   application        one_for_one
//   ├─ devserver       permanent, READY-gated      (only without --target)
//   ├─ subsystem       rest_for_one
//   │  ├─ bridgehost   permanent, READY-gated
//   │  └─ workers      dynamic one_for_one group: one transient workerproc per queue
//   └─ executors       dynamic group of temporary activity executors
//
// The registry and the launcher are the shell's: the registry follows the
// kSpawned / kExited node events of workers; the launcher answers
// NodeEvent{kStarted, "workers"} (first start and every cascade) with one
// AddChild per queue it keeps.

#include <optional>
#include <string>

#include "supervisor/core/child_spec.h"

namespace hourglass::supervisor::core {

inline constexpr char kApplicationId[] = "application";
inline constexpr char kDevServerId[] = "devserver";
inline constexpr char kSubsystemId[] = "subsystem";
inline constexpr char kBridgeHostId[] = "bridgehost";
inline constexpr char kWorkersId[] = "workers";
inline constexpr char kExecutorsId[] = "executors";

struct Limits {
  int intensity = 3;
  Duration period{5000};
  Duration restart_delay{0};
};

struct HourglassTreeOptions {
  bool devserver = true;  // no --target: run the embedded dev server
  Limits application{1, Duration{5000}};
  Limits subsystem{3, Duration{5000}};
  Limits workers{5, Duration{10000}};
  Limits executors{5, Duration{10000}};
  Shutdown shutdown = Shutdown::Timeout(Duration{10000});
  std::optional<Duration> ready_timeout = Duration{20000};
};

SupervisorSpec HourglassTree(const HourglassTreeOptions& options);

// "worker:<queue>": transient (a worker that drained and exited 0 or
// kShutdown stays down), READY once registered with the bridge host.
std::string WorkerId(const std::string& queue);
ChildSpec WorkerSpec(const std::string& queue, const HourglassTreeOptions& options);
// A process-isolated activity executor: temporary (a failed attempt is the
// server's to retry, not ours), stopped with the same timeout as the others
// rather than a brutal kill, since it may be delivering a result.
ChildSpec ExecutorSpec(const std::string& id, const HourglassTreeOptions& options);

}  // namespace hourglass::supervisor::core
