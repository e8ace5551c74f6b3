#pragma once

// Heartbeat watchdog, sans-IO: every child heartbeats on its control channel;
// one that stays silent past the timeout (SIGSTOPped, deadlocked, spinning
// without serving its loop) is reported so the supervisor kills it. Exits
// alone cannot catch these: a stopped process never exits.

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace hourglass::supervisor {

class Watchdog {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Watchdog(std::chrono::milliseconds timeout) : timeout_(timeout) {}

  // Starts watching `id` (a child just started: it has `timeout` to speak).
  void Watch(const std::string& id, Clock::time_point now) { last_[id] = now; }
  void Unwatch(const std::string& id) { last_.erase(id); }
  // Any control message counts as a sign of life.
  void Alive(const std::string& id, Clock::time_point now) {
    if (auto it = last_.find(id); it != last_.end()) it->second = now;
  }
  // Children silent for longer than the timeout; each reported once (they
  // are unwatched until watched again).
  std::vector<std::string> Expired(Clock::time_point now) {
    std::vector<std::string> out;
    for (auto it = last_.begin(); it != last_.end();) {
      if (now - it->second > timeout_) {
        out.push_back(it->first);
        it = last_.erase(it);
      } else {
        ++it;
      }
    }
    return out;
  }

 private:
  std::chrono::milliseconds timeout_;
  std::map<std::string, Clock::time_point> last_;
};

}  // namespace hourglass::supervisor
