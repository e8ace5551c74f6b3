#pragma once

// A counting semaphore that can be closed: Acquire() blocks while every slot
// is taken and returns false once Close() was called. How the poll loops
// bound work in flight (a loop polls only when a slot is free, as Core's
// slot suppliers do).

#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace hourglass::sdk {

class Slots {
 public:
  explicit Slots(uint32_t capacity) : free_(capacity), capacity_(capacity) {}

  bool Acquire() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return closed_ || free_ > 0; });
    if (closed_) return false;
    --free_;
    return true;
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      ++free_;
    }
    cv_.notify_all();
  }
  void Close() {
    {
      std::lock_guard lock(mu_);
      closed_ = true;
    }
    cv_.notify_all();
  }
  uint32_t in_use() const {
    std::lock_guard lock(mu_);
    return capacity_ - free_;
  }
  // Waits until no slot is in use, up to `timeout`; true if so.
  template <typename Duration>
  bool WaitIdle(Duration timeout) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return free_ == capacity_; });
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  uint32_t free_;
  const uint32_t capacity_;
  bool closed_ = false;
};

}  // namespace hourglass::sdk
