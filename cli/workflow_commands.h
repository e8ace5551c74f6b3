#pragma once

// `hourglass workflow start|execute|signal|cancel|terminate|describe|result|history`:
// the flags of each (docs/cli.md) and how each runs over a Transport.

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

namespace hourglass::cli {

class WorkflowCommands {
 public:
  // Adds `workflow` and its subcommands to `app`. CLI11 writes the flags into
  // this object, so it must outlive parsing and stays where it is.
  explicit WorkflowCommands(CLI::App& app);
  WorkflowCommands(const WorkflowCommands&) = delete;
  WorkflowCommands& operator=(const WorkflowCommands&) = delete;

  // Runs the subcommand the parsed command line chose; returns the exit code.
  int Run() const;

 private:
  struct Connection {
    std::string bridge_socket;
    std::string target;
    std::string namespace_name = "default";
    std::optional<double> timeout_s;
  };
  struct Start {
    std::string type;
    std::string task_queue;
    std::string workflow_id;
    std::vector<std::string> inputs;
    std::optional<double> execution_timeout_s;
    std::optional<double> run_timeout_s;
    std::optional<double> task_timeout_s;
    std::string id_reuse_policy;
  };
  // The flags the commands on an existing workflow share.
  struct Execution {
    std::string workflow_id;
    std::string run_id;
  };

  class Action;  // the chosen command, ready to run (workflow_commands.cc)

  void AddStartFlags(CLI::App* command);
  void AddExecutionFlags(CLI::App* command);
  Action Prepare() const;

  Connection connection_;
  Start start_flags_;
  Execution execution_;
  std::string signal_name_;
  std::vector<std::string> signal_inputs_;
  std::string terminate_reason_;
  bool no_follow_ = false;
  bool full_history_ = false;

  CLI::App* start_ = nullptr;
  CLI::App* execute_ = nullptr;
  CLI::App* signal_ = nullptr;
  CLI::App* cancel_ = nullptr;
  CLI::App* terminate_ = nullptr;
  CLI::App* describe_ = nullptr;
  CLI::App* result_ = nullptr;
  CLI::App* history_ = nullptr;
};

}  // namespace hourglass::cli
