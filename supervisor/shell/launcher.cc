#include "supervisor/shell/launcher.h"

#include <algorithm>

namespace hourglass::supervisor {

Launcher::Launcher(std::vector<QueueConfig> configured, core::HourglassTreeOptions tree_options)
    : tree_options_(std::move(tree_options)) {
  for (auto& q : configured) Keep(std::move(q));
}

bool Launcher::Keep(QueueConfig queue) {
  if (Find(queue.name) != nullptr) return false;
  queues_.push_back(std::move(queue));
  return true;
}

bool Launcher::Forget(const std::string& name) {
  auto it = std::find_if(queues_.begin(), queues_.end(),
                         [&](const QueueConfig& q) { return q.name == name; });
  if (it == queues_.end()) return false;
  queues_.erase(it);
  return true;
}

const QueueConfig* Launcher::Find(const std::string& name) const {
  for (const auto& q : queues_) {
    if (q.name == name) return &q;
  }
  return nullptr;
}

std::vector<core::Event> Launcher::StartAll() const {
  std::vector<core::Event> out;
  for (const auto& q : queues_) out.push_back(StartOne(q));
  return out;
}

core::Event Launcher::StartOne(const QueueConfig& queue) const {
  return core::AddChild{core::kWorkersId, core::WorkerSpec(queue.name, tree_options_)};
}

}  // namespace hourglass::supervisor
