#pragma once

// Late tasks (late_tasks.h) of a queue that has no handle at the moment they
// arrive: kept for a short grace, because a queue whose worker process was
// just restarted registers again within milliseconds, and the task is then
// that worker's first. Past the grace — the queue was stopped for good — each
// is handed back to the server. Handing back at once would cost the task an
// attempt the new worker then runs as attempt 2, which, among other things,
// keeps a genuine failure from being reported (only a first attempt's is).
//
// Runs on the bridge host's loop thread.

#include <chrono>
#include <deque>
#include <functional>
#include <string>
#include <variant>

#include "bridgehost/runtime.h"
#include "ipc/event_loop.h"

namespace hourglass::bridgehost {

class OrphanedTasks {
 public:
  using Task = std::variant<wsv::PollWorkflowTaskQueueResponse, wsv::PollActivityTaskQueueResponse>;

  OrphanedTasks(Runtime& runtime, std::chrono::milliseconds grace);
  ~OrphanedTasks();
  OrphanedTasks(const OrphanedTasks&) = delete;
  OrphanedTasks& operator=(const OrphanedTasks&) = delete;

  void Keep(const std::string& task_queue, const std::string& ns, Task task);
  // Removes and returns every task kept for (task_queue, ns), oldest first.
  std::deque<Task> Take(const std::string& task_queue, const std::string& ns);
  // Hands back every task still kept (the bridge host is stopping).
  void HandBackAll();
  size_t size() const { return kept_.size(); }

 private:
  struct Kept {
    std::string task_queue;
    std::string ns;
    std::chrono::steady_clock::time_point deadline;
    Task task;
  };
  void HandBack(Kept& kept);
  void HandBackExpired();

  Runtime& runtime_;
  std::chrono::milliseconds grace_;
  std::deque<Kept> kept_;
  ipc::EventHandle timer_;
};

}  // namespace hourglass::bridgehost
