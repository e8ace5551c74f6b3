#include "devserver/engine/timer_queue.h"

namespace hourglass::devserver {

void TimerQueue::Add(int64_t due_ms, TimerKey key) {
  heap_.push(Entry{due_ms, next_seq_++, std::move(key)});
}

int64_t TimerQueue::NextDueMs() const { return heap_.empty() ? -1 : heap_.top().due_ms; }

std::vector<TimerKey> TimerQueue::PopDue(int64_t now_ms) {
  std::vector<TimerKey> due;
  while (!heap_.empty() && heap_.top().due_ms <= now_ms) {
    due.push_back(heap_.top().key);
    heap_.pop();
  }
  return due;
}

}  // namespace hourglass::devserver
