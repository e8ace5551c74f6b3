#pragma once

// Tasks that a server long poll returns after its worker shut down.
//
// A worker that shuts down (its owner died, or unregistered) does not cancel
// its server polls: a cancellation can cross a task the server is matching to
// that poll at the same moment, and the server then starts the task for a
// caller that never sees it — lost until its timeout (a workflow task's, 10 s
// by default; an activity's start-to-close). Instead the polls run out, and
// whatever they bring goes to the queue's current handle (a restarted worker
// re-registers within milliseconds) or, with none, is handed back at once so
// the server schedules it again for a live worker, here or on another host.
//
// Free functions, not members: the worker may already be destroyed when its
// poll's answer arrives. Runs on the bridge host's loop thread.

#include <functional>
#include <string>

#include "bridgehost/runtime.h"

namespace hourglass::bridgehost {

// Where a worker sends a task its server poll brought after the worker shut
// down (or was destroyed). The holder's sinks give it to the queue's current
// handle when there is one, else hand it back (below). Copied into every
// poll's callback, so they must not refer to the worker.
using LateWorkflowTaskSink = std::function<void(wsv::PollWorkflowTaskQueueResponse)>;
using LateActivityTaskSink = std::function<void(wsv::PollActivityTaskQueueResponse)>;

// A workflow task is failed (WORKFLOW_WORKER_UNHANDLED_FAILURE, the message
// says why), so a new attempt is scheduled now; a legacy query task is
// answered FAILED.
void HandBackWorkflowTask(Runtime& runtime, const std::string& ns, const std::string& identity,
                          const wsv::PollWorkflowTaskQueueResponse& task);

// An activity task is failed as retryable (type "WorkerShutdown"): the server
// retries it by its retry policy. That costs the attempt, as the timeout it
// replaces would have.
void HandBackActivityTask(Runtime& runtime, const std::string& ns, const std::string& identity,
                          const std::string& task_token);

}  // namespace hourglass::bridgehost
