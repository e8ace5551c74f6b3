#pragma once

// Replaying recorded histories against this binary's registered workflows:
// `<worker binary> --replay --bridge-socket S FILE...` (what `hourglass
// replay` runs). The bridge host's replayer turns each history into
// activations exactly as Core does for a live run; this process evaluates
// them with the same workflow machinery a worker uses, and the replayer
// compares the commands with the history. One JSON line per history on
// stdout: {"file", "workflow_id", "run_id", "ok", "failure_cause", "message"}.

#include <string>
#include <vector>

namespace hourglass::sdk {

struct ReplayOptions {
  std::string bridge_socket;
  std::vector<std::string> files;  // History protos: binary, or proto3 JSON
};

// Exit code: 0 every history replayed, 1 at least one did not (for example
// nondeterminism), 2 a file could not be read, 3 the bridge host could not
// be reached.
int RunReplay(const ReplayOptions& options);

}  // namespace hourglass::sdk
