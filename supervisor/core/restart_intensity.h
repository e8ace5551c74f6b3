#pragma once

// OTP's restart intensity (supervisor.erl add_restart/1), on the monotonic
// clock the caller passes in: keep the time of each restart, forget those
// older than `period`, and give up once more than `intensity` remain. One
// failure that restarts several children (rest_for_one, one_for_all) is one
// restart: the caller records it once.

#include <deque>
#include <vector>

#include "supervisor/core/child_spec.h"

namespace hourglass::supervisor::core {

class RestartIntensity {
 public:
  RestartIntensity(int intensity, Duration period) : intensity_(intensity), period_(period) {}

  // Records a restart at `now`. False when it is one too many: the
  // supervisor must give up instead of restarting. A restart exactly
  // `period` old still counts (OTP keeps R >= now - period).
  bool AddRestart(TimePoint now);
  // The restarts still inside the window at `now`, oldest first.
  std::vector<TimePoint> Recent(TimePoint now) const;
  // A supervisor that is started again begins with a clean slate (in OTP it
  // is a new process).
  void Reset() { restarts_.clear(); }

  int intensity() const { return intensity_; }
  Duration period() const { return period_; }

 private:
  void Forget(TimePoint now);

  int intensity_;
  Duration period_;
  std::deque<TimePoint> restarts_;  // oldest first
};

}  // namespace hourglass::supervisor::core
