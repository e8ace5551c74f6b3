#pragma once

// The subset of Temporal's visibility query language the dev server answers:
// an empty query, or conjunctions (AND) of `Key = 'value'` / `Key != 'value'`
// over WorkflowId, WorkflowType, RunId, TaskQueue, ExecutionStatus and custom
// search attributes, with an optional trailing ORDER BY StartTime DESC.
// Anything else is rejected with a message, never guessed at.

#include <string>
#include <vector>

#include "devserver/devserver_state.pb.h"
#include "ipc/result.h"

namespace hourglass::devserver {

struct VisibilityCondition {
  std::string key;
  std::string value;
  bool negated = false;
};

struct VisibilityQuery {
  std::vector<VisibilityCondition> conditions;
};

ipc::Result<VisibilityQuery> ParseVisibilityQuery(const std::string& text);

bool Matches(const VisibilityQuery& query, const v1::RunState& run);

}  // namespace hourglass::devserver
