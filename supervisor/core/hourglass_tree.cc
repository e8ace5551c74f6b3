#include "supervisor/core/hourglass_tree.h"

#include <utility>

namespace hourglass::supervisor::core {

namespace {

ChildSpec ReadyGated(const std::string& id, RestartType restart,
                     const HourglassTreeOptions& options) {
  return ChildSpec{.id = id,
                   .restart = restart,
                   .shutdown = options.shutdown,
                   .needs_ready = true,
                   .ready_timeout = options.ready_timeout};
}

SupervisorSpec Group(const std::string& id, Strategy strategy, const Limits& limits,
                     bool dynamic) {
  return SupervisorSpec{.id = id,
                        .strategy = strategy,
                        .intensity = limits.intensity,
                        .period = limits.period,
                        .restart_delay = limits.restart_delay,
                        .dynamic = dynamic};
}

}  // namespace

SupervisorSpec HourglassTree(const HourglassTreeOptions& options) {
  SupervisorSpec subsystem = Group(kSubsystemId, Strategy::kRestForOne, options.subsystem, false);
  subsystem.children = {ReadyGated(kBridgeHostId, RestartType::kPermanent, options),
                        Group(kWorkersId, Strategy::kOneForOne, options.workers, true)};

  SupervisorSpec application =
      Group(kApplicationId, Strategy::kOneForOne, options.application, false);
  if (options.devserver) {
    application.children.push_back(ReadyGated(kDevServerId, RestartType::kPermanent, options));
  }
  application.children.push_back(std::move(subsystem));
  application.children.push_back(
      Group(kExecutorsId, Strategy::kOneForOne, options.executors, true));
  return application;
}

std::string WorkerId(const std::string& queue) { return "worker:" + queue; }

ChildSpec WorkerSpec(const std::string& queue, const HourglassTreeOptions& options) {
  return ReadyGated(WorkerId(queue), RestartType::kTransient, options);
}

ChildSpec ExecutorSpec(const std::string& id, const HourglassTreeOptions& options) {
  return ChildSpec{.id = id, .restart = RestartType::kTemporary, .shutdown = options.shutdown};
}

}  // namespace hourglass::supervisor::core
