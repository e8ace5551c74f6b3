#include "supervisor/shell/registry.h"

#include "supervisor/core/hourglass_tree.h"

namespace hourglass::supervisor {

std::optional<std::string> Registry::QueueOf(const std::string& child_id) {
  const std::string prefix = core::WorkerId("");
  if (child_id.size() <= prefix.size() || child_id.compare(0, prefix.size(), prefix) != 0)
    return std::nullopt;
  return child_id.substr(prefix.size());
}

void Registry::Spawned(const std::string& child_id, pid_t pid, const std::string& exec) {
  auto queue = QueueOf(child_id);
  if (!queue) return;
  entries_[*queue] = RegistryEntry{*queue, child_id, pid, false, exec};
}

void Registry::Ready(const std::string& child_id) {
  auto queue = QueueOf(child_id);
  if (!queue) return;
  if (auto it = entries_.find(*queue); it != entries_.end()) it->second.ready = true;
}

void Registry::Exited(const std::string& child_id) {
  if (auto queue = QueueOf(child_id)) entries_.erase(*queue);
}

const RegistryEntry* Registry::Find(const std::string& task_queue) const {
  auto it = entries_.find(task_queue);
  return it == entries_.end() ? nullptr : &it->second;
}

std::vector<RegistryEntry> Registry::Entries() const {
  std::vector<RegistryEntry> out;
  for (const auto& [queue, entry] : entries_) out.push_back(entry);
  return out;
}

size_t Registry::ready_count() const {
  size_t n = 0;
  for (const auto& [queue, entry] : entries_) n += entry.ready ? 1 : 0;
  return n;
}

}  // namespace hourglass::supervisor
