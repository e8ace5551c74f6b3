#pragma once

// Durable timers, in memory: a min-heap of (due time, key). Timers are never
// cancelled; whoever handles a fired key re-validates it against current state
// and ignores it when stale. On boot the engine re-arms every timer from the
// persisted run states, which is what makes timers durable.

#include <cstdint>
#include <queue>
#include <string>
#include <vector>

namespace hourglass::devserver {

enum class TimerKind {
  kWorkflowTaskStartToClose,  // ref = scheduled event id, attempt
  kWorkflowTaskBackoff,       // first workflow task after a start delay / retry / cron
  kUserTimer,                 // name = timer id, ref = started event id
  kActivityScheduleToStart,   // ref = scheduled event id, attempt
  kActivityStartToClose,      // ref, attempt
  kActivityHeartbeat,         // ref, attempt
  kActivityScheduleToClose,   // ref
  kActivityRetry,             // ref, attempt: the retry becomes visible
  kRunTimeout,
  kExecutionTimeout,
  kPollExpiry,                // ref = waiter id (not durable)
  kHistoryWaitExpiry,         // ref = waiter id (not durable)
  kQueryExpiry,               // name = query id (not durable)
};

struct TimerKey {
  TimerKind kind;
  std::string run_id;
  int64_t ref = 0;
  int32_t attempt = 0;
  std::string name;
};

class TimerQueue {
 public:
  void Add(int64_t due_ms, TimerKey key);
  // Due time of the earliest timer, or -1 when empty.
  int64_t NextDueMs() const;
  // Removes and returns every timer due at or before `now_ms`, earliest first.
  std::vector<TimerKey> PopDue(int64_t now_ms);
  size_t size() const { return heap_.size(); }

 private:
  struct Entry {
    int64_t due_ms;
    uint64_t seq;  // FIFO among equal due times
    TimerKey key;
    bool operator>(const Entry& other) const {
      return due_ms != other.due_ms ? due_ms > other.due_ms : seq > other.seq;
    }
  };
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap_;
  uint64_t next_seq_ = 0;
};

}  // namespace hourglass::devserver
