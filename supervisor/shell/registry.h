#pragma once

// The worker registry (Hourglass.WorkerRegistry): task queue -> the worker
// process serving it. Fed by the tree's node events for "worker:<queue>"
// children, so it can never disagree with the tree: an entry appears when a
// worker is spawned, turns ready when the worker registered with the bridge
// host, and goes when the process is gone. A bridge-host cascade stops every
// worker, which empties it. `hourglass ctl whereis QUEUE` reads it.

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace hourglass::supervisor {

struct RegistryEntry {
  std::string task_queue;
  std::string child_id;
  pid_t pid = 0;
  bool ready = false;
  std::string exec;
};

class Registry {
 public:
  // The queue a child id names ("worker:orders" -> "orders"); nothing for
  // other children.
  static std::optional<std::string> QueueOf(const std::string& child_id);

  void Spawned(const std::string& child_id, pid_t pid, const std::string& exec);
  void Ready(const std::string& child_id);
  void Exited(const std::string& child_id);

  const RegistryEntry* Find(const std::string& task_queue) const;
  std::vector<RegistryEntry> Entries() const;  // by queue name
  size_t size() const { return entries_.size(); }
  size_t ready_count() const;

 private:
  std::map<std::string, RegistryEntry> entries_;  // by task queue
};

}  // namespace hourglass::supervisor
