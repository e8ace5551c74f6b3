#pragma once

// `hourglass ctl status | which-children | whereis | start-worker | stop-worker
// | restart | reload-bridge | stop | failpoint set|clear|list`: one request to
// hourglass-supervisor's control socket (proto/hourglass/ipc/v1/ctl.proto), one reply, printed as
// text or JSON (docs/cli.md). Rendering lives in cli/ctl_format.h.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/ctl.pb.h"

namespace hourglass::cli {

class CtlCommand {
 public:
  // Adds `ctl` and its subcommands to `app`. CLI11 writes the flags into this
  // object, so it must outlive parsing and stays where it is.
  explicit CtlCommand(CLI::App& app);
  CtlCommand(const CtlCommand&) = delete;
  CtlCommand& operator=(const CtlCommand&) = delete;

  bool selected() const { return command_->parsed(); }
  // Sends the request of the parsed subcommand; returns the exit code.
  int Run() const;

 private:
  std::string SocketPath() const;
  // The request, and whether it waits for a change to settle (its default
  // timeout is longer).
  ipc::v1::CtlRequest BuildRequest(bool* settles) const;
  int Print(const ipc::v1::CtlReply& reply) const;

  CLI::App* command_ = nullptr;
  CLI::App* status_ = nullptr;
  CLI::App* which_children_ = nullptr;
  CLI::App* whereis_ = nullptr;
  CLI::App* start_worker_ = nullptr;
  CLI::App* stop_worker_ = nullptr;
  CLI::App* restart_ = nullptr;
  CLI::App* reload_bridge_ = nullptr;
  CLI::App* stop_ = nullptr;
  CLI::App* failpoint_ = nullptr;
  CLI::App* failpoint_set_ = nullptr;
  CLI::App* failpoint_clear_ = nullptr;
  CLI::App* failpoint_list_ = nullptr;

  std::string runtime_dir_;
  std::string socket_;
  std::optional<int> timeout_ms_;
  bool json_ = false;
  std::string supervisor_;
  std::string task_queue_;
  std::string child_id_;
  std::string exec_;
  std::string isolation_;
  std::vector<std::string> worker_args_;
  std::string point_name_;
  std::string action_;
};

}  // namespace hourglass::cli
