#pragma once

// `hourglass replay FILE... --worker BIN`: replays recorded histories against
// the workflows a worker binary registered, and reports each history's
// verdict (nondeterminism included) as one JSON line. Without
// --bridge-socket it starts a private bridge host for the replay (the
// replayer needs no Temporal server) and stops it afterwards.

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace hourglass::cli {

class ReplayCommand {
 public:
  explicit ReplayCommand(CLI::App& app);
  ReplayCommand(const ReplayCommand&) = delete;
  ReplayCommand& operator=(const ReplayCommand&) = delete;

  bool selected() const { return command_->parsed(); }
  // Exit code: 0 every history replayed, 1 at least one did not, 2 usage,
  // 3 no bridge host, 6 anything else.
  int Run() const;

 private:
  CLI::App* command_;
  std::vector<std::string> files_;
  std::string worker_;
  std::string bridge_socket_;
};

}  // namespace hourglass::cli
