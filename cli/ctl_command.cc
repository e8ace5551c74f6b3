#include "cli/ctl_command.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>

#include "cli/ctl_format.h"
#include "cli/errors.h"
#include "ipc/blocking_frames.h"
#include "ipc/failpoint.h"
#include "ipc/frame.h"
#include "ipc/unix_socket.h"

namespace hourglass::cli {

namespace v1 = ::hourglass::ipc::v1;

namespace {

// Requests the supervisor answers only once the tree settled (a worker READY,
// a cascade done) may take as long as a bridge host's start; the others are
// answered from memory.
constexpr int kSettleTimeoutMs = 60000;
constexpr int kQueryTimeoutMs = 10000;

std::string DefaultSocket() { return ipc::DefaultRuntimeDir() + "/supervisor.sock"; }

void PrintLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

void RequireNonEmpty(const std::string& value, const std::string& what) {
  if (value.empty()) throw UsageError(what + " must not be empty");
}

// The reply kind that answers each request kind; anything else is a protocol
// error on the supervisor's side.
v1::CtlReply::KindCase ExpectedReply(v1::CtlRequest::KindCase request) {
  switch (request) {
    case v1::CtlRequest::kStatus:
      return v1::CtlReply::kStatus;
    case v1::CtlRequest::kWhichChildren:
      return v1::CtlReply::kWhichChildren;
    case v1::CtlRequest::kWhereis:
      return v1::CtlReply::kWhereis;
    case v1::CtlRequest::kFailpoint:
      return v1::CtlReply::kFailpoint;
    default:
      return v1::CtlReply::kDone;
  }
}

// Why connecting failed, for a person: a missing socket file says more than
// the errno of connect().
std::string ConnectFailure(const std::string& path, const ipc::Error& error) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 && errno == ENOENT) return "no such socket";
  return error.message();
}

// ReadFrame says only "no frame"; the socket tells a closed connection (EOF
// or an error pending) from a silent one (the timeout passed).
bool PeerClosed(int fd) {
  pollfd pfd{fd, POLLIN, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  char byte;
  return ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) <= 0;
}

}  // namespace

CtlCommand::CtlCommand(CLI::App& app) {
  command_ = app.add_subcommand("ctl", "Inspect and steer a running hourglass-supervisor");
  command_->require_subcommand(1);
  // --runtime-dir, --socket and --timeout-ms belong to `ctl` but may follow
  // the subcommand (`hourglass ctl status --runtime-dir ...`).
  command_->fallthrough();
  auto* dir = command_->add_option("--runtime-dir", runtime_dir_,
                                   "The supervisor's runtime directory; its socket is "
                                   "DIR/supervisor.sock (default: " +
                                       ipc::DefaultRuntimeDir() + ")");
  auto* socket = command_->add_option(
      "--socket", socket_, "The supervisor's control socket (default: " + DefaultSocket() + ")");
  socket->excludes(dir);
  command_
      ->add_option("--timeout-ms", timeout_ms_,
                   "How long to wait for the reply; 0 waits forever (default: 60000 for "
                   "start-worker, stop-worker, restart, reload-bridge and stop, else 10000)")
      ->check(CLI::NonNegativeNumber);

  auto add = [this](const std::string& name, const std::string& description) {
    CLI::App* sub = command_->add_subcommand(name, description);
    sub->footer("Also: --runtime-dir, --socket, --timeout-ms (hourglass ctl --help)");
    return sub;
  };
  status_ = add("status", "Print the supervisor, the tree with each child's figures, the registry");
  status_->add_flag("--json", json_, "Print the CtlStatusReply as protobuf JSON");

  which_children_ = add("which-children", "List the direct children of a supervisor node");
  which_children_->add_option("supervisor", supervisor_,
                              "The supervisor node's id (default: the root)");
  which_children_->add_flag("--json", json_, "Print the CtlWhichChildrenReply as protobuf JSON");

  whereis_ = add("whereis", "Print the pid of the worker serving a task queue");
  whereis_->add_option("queue", task_queue_, "The task queue")->required();
  whereis_->add_flag("--json", json_, "Print the CtlWhereisReply as protobuf JSON");

  start_worker_ = add("start-worker",
                      "Start a worker for a task queue; returns once it is READY. Worker flags "
                      "go after --");
  start_worker_->add_option("queue", task_queue_, "The task queue")->required();
  start_worker_->add_option("--exec", exec_,
                            "The worker binary (default: the supervisor's hourglass-workerproc)");
  start_worker_->add_option("--isolation", isolation_, "Where activities run")
      ->check(CLI::IsMember({"thread", "process"}));
  start_worker_->add_option("args", worker_args_, "Extra worker flags, after --");

  stop_worker_ = add("stop-worker",
                     "Stop a task queue's worker and forget the queue; returns once it is gone");
  stop_worker_->add_option("queue", task_queue_, "The task queue")->required();

  restart_ =
      add("restart", "Restart a node with its supervisor's strategy; returns once it runs again");
  restart_->add_option("child", child_id_, "The node's id (as `ctl status` shows it)")->required();

  reload_bridge_ = add("reload-bridge",
                       "Restart the bridge host and so every worker; returns once every kept "
                       "queue's worker is READY");
  stop_ = add("stop", "Stop the whole tree and the supervisor");

  failpoint_ =
      add("failpoint", "Arm, clear or list a child's fault points (docs/fault-injection.md)");
  failpoint_->require_subcommand(1);
  failpoint_->fallthrough();
  const std::string child_help = "The child: bridgehost, devserver or worker:<queue>";
  failpoint_set_ = failpoint_->add_subcommand("set", "Arm fault point NAME of CHILD with ACTION");
  failpoint_set_->fallthrough();
  failpoint_set_->add_option("child", child_id_, child_help)->required();
  failpoint_set_->add_option("name", point_name_, "The point, as `failpoint list` shows it")
      ->required();
  failpoint_set_
      ->add_option("action", action_,
                   "crash, abort, hang, delay(MS), error or off; N*ACTION acts on the Nth hit "
                   "only")
      ->required();
  failpoint_clear_ = failpoint_->add_subcommand("clear", "Disarm fault point NAME of CHILD");
  failpoint_clear_->fallthrough();
  failpoint_clear_->add_option("child", child_id_, child_help)->required();
  failpoint_clear_->add_option("name", point_name_, "The point")->required();
  failpoint_list_ = failpoint_->add_subcommand(
      "list", "Print every fault point of CHILD with its action and hits");
  failpoint_list_->fallthrough();
  failpoint_list_->add_option("child", child_id_, child_help)->required();
  failpoint_list_->add_flag("--json", json_, "Print the CtlFailpointReply as protobuf JSON");
}

std::string CtlCommand::SocketPath() const {
  if (!socket_.empty()) return socket_;
  return (runtime_dir_.empty() ? ipc::DefaultRuntimeDir() : runtime_dir_) + "/supervisor.sock";
}

v1::CtlRequest CtlCommand::BuildRequest(bool* settles) const {
  v1::CtlRequest request;
  *settles = true;
  if (status_->parsed()) {
    *settles = false;
    request.mutable_status();
  } else if (which_children_->parsed()) {
    *settles = false;
    request.mutable_which_children()->set_supervisor(supervisor_);
  } else if (whereis_->parsed()) {
    *settles = false;
    RequireNonEmpty(task_queue_, "QUEUE");
    request.mutable_whereis()->set_task_queue(task_queue_);
  } else if (start_worker_->parsed()) {
    RequireNonEmpty(task_queue_, "QUEUE");
    auto* start = request.mutable_start_worker();
    start->set_task_queue(task_queue_);
    start->set_exec(exec_);
    start->set_isolation(isolation_);
    for (const auto& arg : worker_args_) start->add_args(arg);
  } else if (stop_worker_->parsed()) {
    RequireNonEmpty(task_queue_, "QUEUE");
    request.mutable_stop_worker()->set_task_queue(task_queue_);
  } else if (restart_->parsed()) {
    RequireNonEmpty(child_id_, "CHILD_ID");
    request.mutable_restart()->set_child_id(child_id_);
  } else if (reload_bridge_->parsed()) {
    request.mutable_reload_bridge();
  } else if (failpoint_->parsed()) {
    *settles = false;
    RequireNonEmpty(child_id_, "CHILD");
    auto* fp = request.mutable_failpoint();
    fp->set_child_id(child_id_);
    auto* command = fp->mutable_command();
    if (failpoint_list_->parsed()) {
      command->set_op(v1::FailpointCommand::OP_LIST);
    } else {
      RequireNonEmpty(point_name_, "NAME");
      command->set_name(point_name_);
      if (failpoint_set_->parsed()) {
        std::string error;
        if (!failpoint::ParseAction(action_, &error)) throw UsageError(error);
        command->set_op(v1::FailpointCommand::OP_SET);
        command->set_action(action_);
      } else {
        command->set_op(v1::FailpointCommand::OP_CLEAR);
      }
    }
  } else {
    request.mutable_stop();
  }
  return request;
}

int CtlCommand::Run() const {
  v1::CtlRequest request;
  bool settles = false;
  try {
    request = BuildRequest(&settles);
  } catch (const UsageError& e) {
    PrintError("usage", e.what());
    return exit_code::kUsage;
  }
  const std::string path = SocketPath();
  const int timeout_ms = timeout_ms_.value_or(settles ? kSettleTimeoutMs : kQueryTimeoutMs);

  auto fd = ipc::ConnectUnixSocket(path);
  if (!fd.ok()) {
    if (fd.error().kind() == v1::ERROR_KIND_INVALID_ARGUMENT) {  // a path too long
      PrintError("usage", fd.error().message());
      return exit_code::kUsage;
    }
    PrintError("unavailable", "hourglass-supervisor is not running at " + path + " (" +
                                  ConnectFailure(path, fd.error()) + ")");
    return exit_code::kUnreachable;
  }
  if (!ipc::WriteMessage(fd->get(), request)) {
    PrintError("unavailable",
               "hourglass-supervisor at " + path + " closed the connection before the request");
    return exit_code::kUnreachable;
  }

  ipc::FrameDecoder decoder;
  auto body = ipc::ReadFrame(fd->get(), decoder,
                             std::chrono::milliseconds(timeout_ms == 0 ? -1 : timeout_ms));
  if (!body && decoder.failed()) {
    PrintError("protocol", "hourglass-supervisor at " + path + " sent a frame over " +
                               std::to_string(decoder.max_frame_bytes()) + " bytes");
    return exit_code::kServerError;
  }
  if (!body && !PeerClosed(fd->get())) {
    PrintError(
        "deadline_exceeded",
        "no reply from hourglass-supervisor at " + path + " within " + std::to_string(timeout_ms) +
            " ms" +
            (settles ? " (the request may still complete; see `hourglass ctl status`)" : ""));
    return exit_code::kServerError;
  }
  if (!body) {
    PrintError("unavailable", "hourglass-supervisor at " + path +
                                  " closed the connection without a reply (it may be stopping)");
    return exit_code::kUnreachable;
  }
  v1::CtlReply reply;
  if (!reply.ParseFromString(*body)) {
    PrintError("protocol", "the reply of hourglass-supervisor at " + path + " does not parse");
    return exit_code::kServerError;
  }
  if (reply.has_error()) {
    PrintError(CtlErrorLabel(reply.error().kind()), reply.error().message());
    return CtlExitCode(reply.error().kind());
  }
  if (reply.kind_case() != ExpectedReply(request.kind_case())) {
    PrintError("protocol", "hourglass-supervisor at " + path +
                               " answered with another reply than the request's (field " +
                               std::to_string(reply.kind_case()) + ")");
    return exit_code::kServerError;
  }
  return Print(reply);
}

int CtlCommand::Print(const v1::CtlReply& reply) const {
  switch (reply.kind_case()) {
    case v1::CtlReply::kStatus:
      if (json_) {
        PrintLine(ReplyJson(reply.status()));
      } else {
        for (const auto& line : StatusLines(reply.status())) PrintLine(line);
      }
      return exit_code::kOk;
    case v1::CtlReply::kWhichChildren:
      if (json_) {
        PrintLine(ReplyJson(reply.which_children()));
      } else {
        for (const auto& line : WhichChildrenLines(reply.which_children())) PrintLine(line);
      }
      return exit_code::kOk;
    case v1::CtlReply::kWhereis: {
      if (json_) {
        PrintLine(ReplyJson(reply.whereis()));
        return exit_code::kOk;
      }
      const auto& entry = reply.whereis().entry();
      // Never print 0: `kill $(hourglass ctl whereis q)` would signal the
      // caller's whole process group.
      if (entry.pid() <= 0) {
        PrintError("not_found", "task queue " + task_queue_ + " has no worker process right now (" +
                                    (entry.child_id().empty() ? "no child" : entry.child_id()) +
                                    " is not running)");
        return exit_code::kNotFound;
      }
      PrintLine(std::to_string(entry.pid()));
      return exit_code::kOk;
    }
    case v1::CtlReply::kFailpoint: {
      const auto& r = reply.failpoint().reply();
      // The child refused (an unknown point): its message names the known ones.
      if (!r.ok()) {
        PrintError(CtlErrorLabel(v1::CTL_ERROR_KIND_INVALID_ARGUMENT),
                   child_id_ + ": " + r.message());
        return CtlExitCode(v1::CTL_ERROR_KIND_INVALID_ARGUMENT);
      }
      if (json_) {
        PrintLine(ReplyJson(reply.failpoint()));
      } else if (failpoint_list_->parsed()) {
        for (const auto& line : FailpointLines(r)) PrintLine(line);
      } else if (!r.message().empty()) {
        PrintLine(r.message());
      }
      return exit_code::kOk;
    }
    default:
      if (!reply.done().message().empty()) PrintLine(reply.done().message());
      return exit_code::kOk;
  }
}

}  // namespace hourglass::cli
