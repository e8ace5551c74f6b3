#include "workerproc/sdk/src/poll_loop_policy.h"

#include <algorithm>

#include "ipc/exit_codes.h"

namespace hourglass::sdk {

std::chrono::milliseconds PollLoopPolicy::NextBackoff() {
  // Doubling from min to max; no jitter needed: one loop per process.
  auto d = limits_.min_backoff;
  for (int i = 1; i < consecutive_failures_ && d < limits_.max_backoff; ++i) d *= 2;
  return std::min(d, limits_.max_backoff);
}

PollDecision PollLoopPolicy::OnOutcome(PollOutcome outcome, bool registration_pending, Clock::time_point now) {
  using A = PollDecision::Action;
  switch (outcome) {
    case PollOutcome::kItem:
    case PollOutcome::kIdle:
      consecutive_failures_ = 0;
      return {A::kPollAgain, {}, 0};
    case PollOutcome::kShutdown:
      return {A::kStop, {}, 0};
    case PollOutcome::kNotRegistered:
      if (!registration_pending) return {A::kStop, {}, 0};
      ++consecutive_failures_;
      return {A::kBackOff, NextBackoff(), 0};
    case PollOutcome::kStaleEpoch:
    case PollOutcome::kDisconnected:
      return {A::kExitProcess, {}, exit_code::kBridgeLost};
    case PollOutcome::kServerUnavailable:
      ++consecutive_failures_;
      return {A::kBackOff, NextBackoff(), 0};
    case PollOutcome::kUnexpected:
      break;
  }
  ++consecutive_failures_;
  ++restarts_total_;
  recent_restarts_.push_back(now);
  while (!recent_restarts_.empty() && now - recent_restarts_.front() > limits_.period) recent_restarts_.pop_front();
  if (static_cast<int>(recent_restarts_.size()) > limits_.max_restarts) {
    return {A::kExitProcess, {}, exit_code::kPollLoopFailed};
  }
  return {A::kRestart, NextBackoff(), 0};
}

}  // namespace hourglass::sdk
