#pragma once

// What a worker's poll loop does after each poll, sans-IO: the outcome of a
// poll and the time go in, a decision comes out. The loop threads are the
// shell (workerproc/sdk/src/poll_loops.h).
//
// The loops are "transient" children in OTP terms:
//   SHUTDOWN                 the handle is going away: end normally
//   WORKER_NOT_REGISTERED    retry while our registration is in flight,
//                            end normally otherwise (we unregistered)
//   STALE_EPOCH, disconnect  the bridge host restarted: the whole worker
//                            exits (kBridgeLost) so the cascade restarts it
//   DEADLINE_EXCEEDED        an idle long poll: poll again
//   UNAVAILABLE              Temporal unreachable: back off and poll again
//   anything else            unexpected: restart the loop after a backoff,
//                            at most `max_restarts` in `period`, else the
//                            worker exits (kPollLoopFailed)

#include <chrono>
#include <cstdint>
#include <deque>

namespace hourglass::sdk {

enum class PollOutcome {
  kItem,              // got an activation / task
  kIdle,              // DEADLINE_EXCEEDED: nothing to do within the poll's timeout
  kShutdown,          // ERROR_KIND_SHUTDOWN
  kNotRegistered,     // ERROR_KIND_WORKER_NOT_REGISTERED
  kStaleEpoch,        // ERROR_KIND_STALE_EPOCH
  kDisconnected,      // the bridge-host connection closed
  kServerUnavailable, // ERROR_KIND_UNAVAILABLE from an open connection
  kUnexpected,        // any other error, or an exception in the loop body
};

struct PollDecision {
  enum class Action {
    kPollAgain,    // at once
    kBackOff,      // after `delay`, counting as nothing
    kRestart,      // after `delay`, counting as a restart
    kStop,         // the loop ends normally
    kExitProcess,  // the worker exits with `exit_code`
  };
  Action action = Action::kPollAgain;
  std::chrono::milliseconds delay{0};
  int exit_code = 0;
};

struct PollLoopLimits {
  int max_restarts = 5;
  std::chrono::milliseconds period{10000};
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
};

class PollLoopPolicy {
 public:
  using Clock = std::chrono::steady_clock;
  explicit PollLoopPolicy(PollLoopLimits limits = {}) : limits_(limits) {}

  // `registration_pending`: the worker's registration is still in flight.
  PollDecision OnOutcome(PollOutcome outcome, bool registration_pending, Clock::time_point now);

  uint32_t restarts() const { return restarts_total_; }

 private:
  std::chrono::milliseconds NextBackoff();

  PollLoopLimits limits_;
  std::deque<Clock::time_point> recent_restarts_;  // sliding window
  uint32_t restarts_total_ = 0;
  int consecutive_failures_ = 0;
};

}  // namespace hourglass::sdk
