#include "supervisor/core/restart_intensity.h"

namespace hourglass::supervisor::core {

void RestartIntensity::Forget(TimePoint now) {
  const TimePoint threshold = now - period_;
  while (!restarts_.empty() && restarts_.front() < threshold) restarts_.pop_front();
}

bool RestartIntensity::AddRestart(TimePoint now) {
  Forget(now);
  restarts_.push_back(now);
  return static_cast<int>(restarts_.size()) <= intensity_;
}

std::vector<TimePoint> RestartIntensity::Recent(TimePoint now) const {
  const TimePoint threshold = now - period_;
  std::vector<TimePoint> out;
  for (TimePoint t : restarts_) {
    if (t >= threshold) out.push_back(t);
  }
  return out;
}

}  // namespace hourglass::supervisor::core
