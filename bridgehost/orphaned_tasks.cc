#include "bridgehost/orphaned_tasks.h"

#include <spdlog/spdlog.h>

#include "bridgehost/late_tasks.h"

namespace hourglass::bridgehost {

OrphanedTasks::OrphanedTasks(Runtime& runtime, std::chrono::milliseconds grace)
    : runtime_(runtime), grace_(grace) {}

OrphanedTasks::~OrphanedTasks() { HandBackAll(); }

void OrphanedTasks::Keep(const std::string& task_queue, const std::string& ns, Task task) {
  kept_.push_back(Kept{task_queue, ns, std::chrono::steady_clock::now() + grace_, std::move(task)});
  if (!timer_) {
    // Deadlines are in arrival order, so the front is always the next due.
    timer_ = runtime_.loop().AddPeriodicTimer(std::chrono::milliseconds(100),
                                              [this] { HandBackExpired(); });
  }
}

std::deque<OrphanedTasks::Task> OrphanedTasks::Take(const std::string& task_queue,
                                                    const std::string& ns) {
  std::deque<Task> out;
  for (auto it = kept_.begin(); it != kept_.end();) {
    if (it->task_queue == task_queue && it->ns == ns) {
      out.push_back(std::move(it->task));
      it = kept_.erase(it);
    } else {
      ++it;
    }
  }
  if (kept_.empty()) timer_.Reset();
  return out;
}

void OrphanedTasks::HandBack(Kept& kept) {
  if (auto* wft = std::get_if<wsv::PollWorkflowTaskQueueResponse>(&kept.task)) {
    HandBackWorkflowTask(runtime_, kept.ns, runtime_.identity(), *wft);
  } else {
    spdlog::info("bridgehost: an activity task of {} found no worker within {} ms; handing it back",
                 kept.task_queue, grace_.count());
    HandBackActivityTask(runtime_, kept.ns, runtime_.identity(),
                         std::get<wsv::PollActivityTaskQueueResponse>(kept.task).task_token());
  }
}

void OrphanedTasks::HandBackExpired() {
  const auto now = std::chrono::steady_clock::now();
  while (!kept_.empty() && kept_.front().deadline <= now) {
    HandBack(kept_.front());
    kept_.pop_front();
  }
  if (kept_.empty()) timer_.Reset();
}

void OrphanedTasks::HandBackAll() {
  for (auto& kept : kept_) HandBack(kept);
  kept_.clear();
  timer_.Reset();
}

}  // namespace hourglass::bridgehost
