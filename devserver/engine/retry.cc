#include "devserver/engine/retry.h"

#include <algorithm>
#include <cmath>

#include "devserver/engine/time_util.h"

namespace hourglass::devserver {

using temporal::api::common::v1::RetryPolicy;
namespace enums = temporal::api::enums::v1;

void NormalizeRetryPolicy(RetryPolicy& policy) {
  if (DurationMs(policy.initial_interval()) <= 0) *policy.mutable_initial_interval() = MsToDuration(1000);
  if (policy.backoff_coefficient() == 0) policy.set_backoff_coefficient(2.0);
  if (DurationMs(policy.maximum_interval()) <= 0) {
    *policy.mutable_maximum_interval() = MsToDuration(100 * DurationMs(policy.initial_interval()));
  }
}

std::optional<std::string> ValidateRetryPolicy(const RetryPolicy& policy) {
  if (IsNegative(policy.initial_interval())) return "retry_policy.initial_interval is negative";
  if (IsNegative(policy.maximum_interval())) return "retry_policy.maximum_interval is negative";
  if (policy.backoff_coefficient() != 0 && policy.backoff_coefficient() < 1) {
    return "retry_policy.backoff_coefficient must be 1 or larger";
  }
  if (policy.maximum_attempts() < 0) return "retry_policy.maximum_attempts is negative";
  if (DurationMs(policy.maximum_interval()) > 0 &&
      DurationMs(policy.maximum_interval()) < DurationMs(policy.initial_interval())) {
    return "retry_policy.maximum_interval is less than initial_interval";
  }
  return std::nullopt;
}

int64_t BackoffMs(const RetryPolicy& policy, int32_t attempt) {
  const double initial = static_cast<double>(DurationMs(policy.initial_interval()));
  const double coefficient = policy.backoff_coefficient() > 0 ? policy.backoff_coefficient() : 2.0;
  const double max_ms = static_cast<double>(DurationMs(policy.maximum_interval()));
  double backoff = initial * std::pow(coefficient, std::max(0, attempt - 1));
  if (max_ms > 0) backoff = std::min(backoff, max_ms);
  return static_cast<int64_t>(std::min(backoff, 1e15));
}

namespace {

bool IsNonRetryable(const RetryPolicy& policy, const temporal::api::failure::v1::Failure* failure,
                    const std::string& timeout_type_name) {
  if (!timeout_type_name.empty()) {
    const std::string name = "TemporalTimeout:" + timeout_type_name;
    return std::find(policy.non_retryable_error_types().begin(),
                     policy.non_retryable_error_types().end(),
                     name) != policy.non_retryable_error_types().end();
  }
  if (failure == nullptr) return false;
  if (failure->has_application_failure_info()) {
    const auto& info = failure->application_failure_info();
    if (info.non_retryable()) return true;
    return std::find(policy.non_retryable_error_types().begin(),
                     policy.non_retryable_error_types().end(),
                     info.type()) != policy.non_retryable_error_types().end();
  }
  return false;
}

}  // namespace

RetryDecision DecideRetry(const RetryPolicy& policy, int32_t attempt,
                          const temporal::api::failure::v1::Failure* failure, bool cancel_requested,
                          int64_t now_ms, int64_t deadline_ms,
                          const std::string& timeout_type_name) {
  RetryDecision d;
  if (cancel_requested) {
    d.state = enums::RETRY_STATE_CANCEL_REQUESTED;
    return d;
  }
  if (IsNonRetryable(policy, failure, timeout_type_name)) {
    d.state = enums::RETRY_STATE_NON_RETRYABLE_FAILURE;
    return d;
  }
  if (policy.maximum_attempts() > 0 && attempt >= policy.maximum_attempts()) {
    d.state = enums::RETRY_STATE_MAXIMUM_ATTEMPTS_REACHED;
    return d;
  }
  int64_t backoff = BackoffMs(policy, attempt);
  if (failure != nullptr && failure->has_application_failure_info() &&
      failure->application_failure_info().has_next_retry_delay()) {
    backoff = std::max<int64_t>(0, DurationMs(failure->application_failure_info().next_retry_delay()));
  }
  if (deadline_ms > 0 && now_ms + backoff >= deadline_ms) {
    d.state = enums::RETRY_STATE_TIMEOUT;
    return d;
  }
  d.state = enums::RETRY_STATE_IN_PROGRESS;
  d.backoff_ms = backoff;
  return d;
}

}  // namespace hourglass::devserver
