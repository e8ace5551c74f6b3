#pragma once

// The launcher (Hourglass.WorkerLauncher): the task queues this tree keeps
// served, and the AddChild requests that (re)establish them. The tree's
// `workers` group is dynamic, so its children are forgotten whenever it
// stops; every time it (re)starts (the first start, and after each
// bridge-host cascade) the launcher adds one worker per kept queue. Unlike
// the Elixir original it also keeps queues started at run time (`ctl
// start-worker`) and forgets queues stopped at run time (`ctl stop-worker`).

#include <string>
#include <vector>

#include "supervisor/config/config.h"
#include "supervisor/core/events.h"
#include "supervisor/core/hourglass_tree.h"

namespace hourglass::supervisor {

class Launcher {
 public:
  Launcher(std::vector<QueueConfig> configured, core::HourglassTreeOptions tree_options);

  // False when the queue is already kept.
  bool Keep(QueueConfig queue);
  // False when it was not kept.
  bool Forget(const std::string& name);
  const QueueConfig* Find(const std::string& name) const;
  const std::vector<QueueConfig>& queues() const { return queues_; }

  // One AddChild per kept queue, in the order they were kept.
  std::vector<core::Event> StartAll() const;
  core::Event StartOne(const QueueConfig& queue) const;

 private:
  std::vector<QueueConfig> queues_;
  core::HourglassTreeOptions tree_options_;
};

}  // namespace hourglass::supervisor
