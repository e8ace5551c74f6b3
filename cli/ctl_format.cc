#include "cli/ctl_format.h"

#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <iterator>
#include <map>

#include "cli/errors.h"

namespace hourglass::cli {

namespace v1 = ::hourglass::ipc::v1;

namespace {

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) out += separator;
    out += part;
  }
  return out;
}

template <typename Strings>
std::string JoinOr(const Strings& items, const std::string& none) {
  std::vector<std::string> parts(items.begin(), items.end());
  return parts.empty() ? none : Join(parts, ", ");
}

// A pid of 0 means "no process" in CtlNode and CtlRegistryEntry; printing "0"
// would invite `kill 0`, which signals the caller's own process group.
std::string Pid(int32_t pid) { return pid > 0 ? std::to_string(pid) : "-"; }

std::string TwoDigits(uint64_t n) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%02llu", static_cast<unsigned long long>(n));
  return buf;
}

std::string Indent(int depth) {
  return std::string(2 * static_cast<size_t>(std::max(depth, 0)), ' ');
}

bool IsBridgeHostStats(const v1::Stats& stats) {
  return stats.bridge_epoch() != 0 || stats.registered_task_queues_size() > 0 ||
         stats.open_connections() != 0 || stats.parked_polls() != 0;
}

}  // namespace

std::string FormatDuration(uint64_t ms) {
  if (ms < 1000) return std::to_string(ms) + "ms";
  const uint64_t s = ms / 1000;
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return std::to_string(s / 60) + "m " + TwoDigits(s % 60) + "s";
  if (s < 86400) return std::to_string(s / 3600) + "h " + TwoDigits(s / 60 % 60) + "m";
  return std::to_string(s / 86400) + "d " + TwoDigits(s / 3600 % 24) + "h";
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  return buf;
}

std::string PollLoopWord(v1::PollLoopState state) {
  switch (state) {
    case v1::POLL_LOOP_STATE_STARTING:
      return "starting";
    case v1::POLL_LOOP_STATE_POLLING:
      return "polling";
    case v1::POLL_LOOP_STATE_BACKING_OFF:
      return "backing off";
    case v1::POLL_LOOP_STATE_STOPPED:
      return "stopped";
    default:
      return "unknown";
  }
}

std::string NodeLine(const v1::CtlNode& node) {
  std::vector<std::string> parts{
      node.id(),
      node.kind(),
      node.stop_pending() ? node.state() + " (stop pending)" : node.state(),
      "pid " + Pid(node.pid()),
      "restarts " + std::to_string(node.restart_count()),
      "up " + (node.uptime_ms() > 0 ? FormatDuration(node.uptime_ms()) : std::string("-")),
      node.restart_type(),
  };
  if (node.kind() == "supervisor") {
    parts.push_back(node.dynamic() ? node.strategy() + " (dynamic)" : node.strategy());
    parts.push_back("intensity " + std::to_string(node.intensity()) + " in " +
                    FormatDuration(node.period_ms()));
    parts.push_back("restarts in period " + std::to_string(node.restarts_in_period()));
  }
  return Join(parts, "  ");
}

std::vector<std::string> StatsLines(const v1::CtlNode& node) {
  if (!node.has_stats()) return {};
  const v1::Stats& s = node.stats();
  // 0 means the child did not measure it; "rss 0 B" would be a false figure.
  const std::string rss = s.rss_bytes() > 0 ? "rss " + FormatBytes(s.rss_bytes()) : "";
  auto with_rss = [&rss](std::string line) { return rss.empty() ? line : line + "; " + rss; };
  if (!s.task_queue().empty()) {
    return {
        "task queue " + s.task_queue() + ": workflow poll loop " +
            PollLoopWord(s.workflow_poll_loop()) + " (restarts " +
            std::to_string(s.workflow_poll_loop_restarts()) + "), activity poll loop " +
            PollLoopWord(s.activity_poll_loop()) + " (restarts " +
            std::to_string(s.activity_poll_loop_restarts()) + ")",
        with_rss("in flight: " + std::to_string(s.inflight_activations()) + " activations, " +
                 std::to_string(s.inflight_activities()) + " activities; cached runs " +
                 std::to_string(s.cached_runs())),
    };
  }
  if (IsBridgeHostStats(s)) {
    return {with_rss("bridge epoch " + std::to_string(s.bridge_epoch()) + ": registered queues " +
                     JoinOr(s.registered_task_queues(), "(none)") + "; open connections " +
                     std::to_string(s.open_connections()) + "; parked polls " +
                     std::to_string(s.parked_polls()))};
  }
  if (rss.empty()) return {};
  return {rss};
}

std::vector<std::string> StatusLines(const v1::CtlStatusReply& status) {
  std::vector<std::string> lines;
  lines.push_back("supervisor: pid " + Pid(status.supervisor_pid()) + ", up " +
                  FormatDuration(status.supervisor_uptime_ms()) + ", rss " +
                  FormatBytes(status.supervisor_rss_bytes()));
  lines.push_back("runtime dir: " + status.runtime_dir());
  lines.push_back("target: " + status.target() + ", namespace: " + status.namespace_());
  lines.push_back("bridge: " +
                  (status.bridge_epoch() != 0 ? "epoch " + std::to_string(status.bridge_epoch())
                                              : std::string("not ready")) +
                  (status.bridge_socket().empty() ? "" : ", socket " + status.bridge_socket()) +
                  ", cascades " + std::to_string(status.cascades()));
  lines.push_back(std::string("stopping: ") + (status.stopping() ? "yes" : "no"));

  lines.push_back("");
  lines.push_back("tree:");
  for (const auto& node : status.nodes()) {
    const std::string indent = Indent(node.depth() + 1);
    lines.push_back(indent + NodeLine(node));
    // Two levels deeper than the node: children have no children, so this
    // never reads as a node of the tree.
    for (const auto& line : StatsLines(node)) lines.push_back(indent + "    " + line);
  }

  lines.push_back("");
  lines.push_back("registry:");
  if (status.registry().empty()) lines.push_back("  (empty)");
  for (const auto& e : status.registry()) {
    lines.push_back("  " + e.task_queue() + " -> " + e.child_id() + ", pid " + Pid(e.pid()) + ", " +
                    (e.ready() ? "ready" : "not ready") + ", exec " +
                    (e.exec().empty() ? "-" : e.exec()));
  }

  lines.push_back("");
  lines.push_back("launcher queues: " + JoinOr(status.launcher_queues(), "(none)"));
  return lines;
}

std::vector<std::string> WhichChildrenLines(const v1::CtlWhichChildrenReply& reply) {
  size_t id_width = 0, kind_width = 0, state_width = 0;
  for (const auto& c : reply.children()) {
    id_width = std::max(id_width, c.id().size());
    kind_width = std::max(kind_width, c.kind().size());
    state_width = std::max(state_width, c.state().size());
  }
  auto pad = [](const std::string& s, size_t width) {
    return s + std::string(width - s.size() + 2, ' ');
  };
  std::vector<std::string> lines;
  for (const auto& c : reply.children()) {
    lines.push_back(pad(c.id(), id_width) + pad(c.kind(), kind_width) +
                    pad(c.state(), state_width) + Pid(c.pid()));
  }
  return lines;
}

std::vector<std::string> FailpointLines(const v1::FailpointReply& reply) {
  // Sorted: the reply's map has no order of its own.
  std::map<std::string, std::string> points(reply.points().begin(), reply.points().end());
  size_t name_width = 0, action_width = 0;
  for (const auto& [name, action] : points) {
    name_width = std::max(name_width, name.size());
    action_width = std::max(action_width, action.size());
  }
  std::vector<std::string> out;
  for (const auto& [name, action] : points) {
    const auto hits = reply.hits().find(name);
    std::string line = name + std::string(name_width - name.size() + 2, ' ') + action;
    line += std::string(action_width - action.size() + 2, ' ') +
            "hits=" + std::to_string(hits == reply.hits().end() ? 0 : hits->second);
    out.push_back(line);
  }
  return out;
}

std::string ReplyJson(const google::protobuf::Message& reply) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string out;
  const auto status = google::protobuf::util::MessageToJsonString(reply, &out, options);
  // Only a message with an invalid field (never one that parsed) fails here;
  // still print valid JSON.
  if (!status.ok()) return "{}";
  return out;
}

int CtlExitCode(v1::CtlErrorKind kind) {
  switch (kind) {
    case v1::CTL_ERROR_KIND_NOT_FOUND:
      return exit_code::kNotFound;
    case v1::CTL_ERROR_KIND_REFUSED:
      return exit_code::kAlreadyStarted;
    default:
      return exit_code::kServerError;
  }
}

std::string CtlErrorLabel(v1::CtlErrorKind kind) {
  static const std::string kPrefix = "CTL_ERROR_KIND_";
  std::string name = v1::CtlErrorKind_Name(kind);
  if (kind == v1::CTL_ERROR_KIND_UNSPECIFIED || name.rfind(kPrefix, 0) != 0) return "internal";
  name.erase(0, kPrefix.size());
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace hourglass::cli
