#pragma once

// Temporal's retry rules for activities and workflows, as pure functions.

#include <cstdint>
#include <optional>
#include <string>

#include "temporal/api/common/v1/message.pb.h"
#include "temporal/api/enums/v1/workflow.pb.h"
#include "temporal/api/failure/v1/message.pb.h"

namespace hourglass::devserver {

// Fills unset fields with the server defaults: initial 1 s, coefficient 2.0,
// maximum 100 x initial, attempts 0 (unlimited).
void NormalizeRetryPolicy(temporal::api::common::v1::RetryPolicy& policy);

// An error message naming the bad field, or nothing when the policy is valid.
std::optional<std::string> ValidateRetryPolicy(const temporal::api::common::v1::RetryPolicy& policy);

struct RetryDecision {
  // RETRY_STATE_IN_PROGRESS when a retry is scheduled.
  temporal::api::enums::v1::RetryState state = temporal::api::enums::v1::RETRY_STATE_UNSPECIFIED;
  int64_t backoff_ms = 0;
};

// Whether attempt `attempt` (1-based) that failed with `failure` is retried.
// `deadline_ms` (0: none) is the schedule-to-close / execution deadline, `now_ms`
// the current time. `timeout_type_name` is set for timeouts ("StartToClose",
// "Heartbeat"), matched as "TemporalTimeout:<name>" in non-retryable types.
RetryDecision DecideRetry(const temporal::api::common::v1::RetryPolicy& policy, int32_t attempt,
                          const temporal::api::failure::v1::Failure* failure, bool cancel_requested,
                          int64_t now_ms, int64_t deadline_ms,
                          const std::string& timeout_type_name = {});

// initial x coefficient^(attempt-1), capped at maximum_interval.
int64_t BackoffMs(const temporal::api::common::v1::RetryPolicy& policy, int32_t attempt);

}  // namespace hourglass::devserver
