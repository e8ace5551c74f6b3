#pragma once

// What a run's close event says: how the run ended, and which run (if any) it
// handed over to. Shared by the gRPC long poll and the result output.

#include <string>

#include "temporal/api/history/v1/message.pb.h"

namespace hourglass::cli {

// "COMPLETED", "FAILED", "CANCELED", "TERMINATED", "TIMED_OUT" or
// "CONTINUED_AS_NEW" for a close event; "" for any other event.
std::string CloseStatus(const ::temporal::api::history::v1::HistoryEvent& event);

// The run a close event hands over to (continue-as-new, a retry, the next cron
// run), or "".
std::string NextRunId(const ::temporal::api::history::v1::HistoryEvent& event);

}  // namespace hourglass::cli
