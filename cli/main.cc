// hourglass: the command line. `hourglass workflow ...` starts, signals,
// cancels, terminates, describes and awaits workflows, through the bridge
// host's socket or straight to a Temporal frontend; `hourglass ctl ...` asks
// a running hourglass-supervisor (docs/cli.md).

#include <CLI/CLI.hpp>
#include <exception>

#include "cli/ctl_command.h"
#include "cli/errors.h"
#include "cli/replay_command.h"
#include "cli/workflow_commands.h"

int main(int argc, char** argv) {
  using namespace hourglass::cli;
  CLI::App app{"hourglass: the Hourglass command line"};
  app.require_subcommand(1);
  WorkflowCommands workflow(app);
  ReplayCommand replay(app);
  CtlCommand ctl(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and friends are "errors" that succeed: CLI11 prints them.
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    PrintError("usage", std::string(e.what()) + " (see --help)");
    return exit_code::kUsage;
  }
  try {
    if (ctl.selected()) return ctl.Run();
    return replay.selected() ? replay.Run() : workflow.Run();
  } catch (const std::exception& e) {
    // Nothing below should throw; if something does, keep the one-line
    // error format scripts rely on.
    PrintError("internal", e.what());
    return exit_code::kServerError;
  }
}
