#pragma once

// What `hourglass ctl` prints and how it exits, as pure functions of the
// supervisor's replies (proto/hourglass/ipc/v1/ctl.proto), kept apart from the
// socket so tests can render hand-built replies. docs/cli.md shows the output.

#include <google/protobuf/message.h>

#include <cstdint>
#include <string>
#include <vector>

#include "hourglass/ipc/v1/control.pb.h"
#include "hourglass/ipc/v1/ctl.pb.h"

namespace hourglass::cli {

// "350ms", "42s", "4m 05s", "3h 07m", "2d 05h".
std::string FormatDuration(uint64_t ms);

// "512 B", "3.0 KiB", "12.3 MiB", "1.5 GiB".
std::string FormatBytes(uint64_t bytes);

// "polling", "backing off", ...; "unknown" for an unspecified state.
std::string PollLoopWord(ipc::v1::PollLoopState state);

// One node without indentation: id, kind, state, pid, restart count, uptime,
// restart type, and for supervisors strategy, intensity and restarts in the
// current period.
std::string NodeLine(const ipc::v1::CtlNode& node);

// The lines under a node that reported Stats: a worker's queue, poll loops,
// in-flight work, cached runs and RSS; the bridge host's epoch, queues,
// connections and parked polls; anyone else's RSS. Empty without Stats; RSS
// is left out when the child reported 0 (not measured).
std::vector<std::string> StatsLines(const ipc::v1::CtlNode& node);

// `ctl status` as text, one string per line (no newlines): the supervisor's
// header, the tree indented by depth, the registry, the launcher's queues.
std::vector<std::string> StatusLines(const ipc::v1::CtlStatusReply& status);

// `ctl which-children`: one line per child, columns id, kind, state, pid
// aligned so `awk` and people both read them.
std::vector<std::string> WhichChildrenLines(const ipc::v1::CtlWhichChildrenReply& reply);

// `ctl failpoint list`: one line per point, sorted by name, columns name,
// action ("off" when disarmed) and hits, aligned.
std::vector<std::string> FailpointLines(const ipc::v1::FailpointReply& reply);

// The reply as protobuf JSON with the proto field names and every primitive
// field printed, so scripts find each key even when its value is zero. One
// line, no trailing newline.
std::string ReplyJson(const google::protobuf::Message& reply);

// The exit code of a failed request (cli/errors.h): NOT_FOUND 4, REFUSED 5,
// everything else 6.
int CtlExitCode(ipc::v1::CtlErrorKind kind);

// The <kind> of "hourglass: <kind>: <message>": the error kind without its
// prefix, in lower case ("not_found", "refused"); "internal" when unspecified.
std::string CtlErrorLabel(ipc::v1::CtlErrorKind kind);

}  // namespace hourglass::cli
