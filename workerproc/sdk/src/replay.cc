#include "workerproc/sdk/src/replay.h"

#include <google/protobuf/util/json_util.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ipc/client.h"
#include "ipc/exit_codes.h"
#include "temporal/api/history/v1/message.pb.h"
#include "workerproc/sdk/src/workflow_instance.h"

namespace hourglass::sdk {

namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
namespace hist = temporal::api::history::v1;

// A History from a file: binary proto, or the proto3 JSON `temporal workflow
// show --output json` writes ({"events": [...]}).
bool LoadHistory(const std::string& path, hist::History& out, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot open " + path;
    return false;
  }
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  const size_t first = data.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && data[first] == '{') {
    google::protobuf::util::JsonParseOptions options;
    options.ignore_unknown_fields = true;
    auto st = google::protobuf::util::JsonStringToMessage(data, &out, options);
    if (!st.ok()) {
      error = path + ": not a History in proto3 JSON: " + st.ToString();
      return false;
    }
  } else if (!out.ParseFromString(data)) {
    error = path + ": neither a binary History proto nor JSON";
    return false;
  }
  if (out.events_size() == 0 || !out.events(0).has_workflow_execution_started_event_attributes()) {
    error = path + ": the history does not start with WorkflowExecutionStarted";
    return false;
  }
  return true;
}

}  // namespace

int RunReplay(const ReplayOptions& options) {
  std::map<std::string, std::string> file_of;  // workflow id given to the replayer -> file
  std::vector<std::pair<std::string, hist::History>> histories;
  for (const auto& path : options.files) {
    hist::History h;
    std::string error;
    if (!LoadHistory(path, h, error)) {
      spdlog::error("{}", error);
      return exit_code::kUsage;
    }
    // Unique per file even when two files hold the same workflow.
    const std::string id = std::filesystem::path(path).stem().string() + "#" + std::to_string(histories.size());
    file_of[id] = path;
    histories.emplace_back(id, std::move(h));
  }
  ipc::ClientOptions co;
  co.socket_path = options.bridge_socket;
  co.hello.set_role(v1::ROLE_REPLAYER);
  co.hello.set_client_name("replay");
  auto connected = ipc::BlockingClient::Connect(co, 10s);
  if (!connected.ok()) {
    spdlog::error("cannot reach the bridge host at {}: {}", options.bridge_socket, ipc::Describe(connected.error()));
    return exit_code::kBridgeUnreachable;
  }
  ipc::BlockingClient client = std::move(connected).value();
  auto call = [&](v1::Request r) { return client.Call(std::move(r), 30s); };

  v1::Request create;
  create.mutable_replayer_new()->mutable_options()->set_task_queue("replay");
  auto created = call(create);
  if (!created.ok()) {
    spdlog::error("replayer: {}", ipc::Describe(created.error()));
    return exit_code::kBridgeUnreachable;
  }
  const uint64_t replayer = created->replayer_new().replayer_id();
  for (auto& [id, h] : histories) {
    v1::Request push;
    push.mutable_replayer_push_history()->set_replayer_id(replayer);
    push.mutable_replayer_push_history()->set_workflow_id(id);
    *push.mutable_replayer_push_history()->mutable_history() = std::move(h);
    if (auto r = call(push); !r.ok()) {
      spdlog::error("replayer: pushing {}: {}", file_of[id], ipc::Describe(r.error()));
      return exit_code::kInternal;
    }
  }
  v1::Request close;
  close.mutable_replayer_close_feeder()->set_replayer_id(replayer);
  (void)call(close);

  WorkflowRuns runs(InstanceOptions{"default", "replay"});
  int failed = 0;
  size_t verdicts = 0;
  while (verdicts < histories.size()) {
    v1::Request poll;
    poll.mutable_replayer_poll_activation()->set_replayer_id(replayer);
    auto r = call(poll);
    if (!r.ok()) {
      if (r.error().kind() == v1::ERROR_KIND_SHUTDOWN) break;
      spdlog::error("replayer: {}", ipc::Describe(r.error()));
      return exit_code::kInternal;
    }
    const auto& item = r->replayer_poll_activation();
    if (item.has_verdict()) {
      const auto& v = item.verdict();
      ++verdicts;
      if (!v.ok()) ++failed;
      std::cout << nlohmann::json{{"file", file_of[v.workflow_id()]},
                                  {"workflow_id", v.workflow_id().substr(0, v.workflow_id().rfind('#'))},
                                  {"run_id", v.run_id()},
                                  {"ok", v.ok()},
                                  {"failure_cause", v.failure_cause()},
                                  {"message", v.message()}}
                       .dump()
                << std::endl;
      continue;
    }
    v1::Request complete;
    complete.mutable_replayer_complete_activation()->set_replayer_id(replayer);
    *complete.mutable_replayer_complete_activation()->mutable_completion() = runs.Activate(item.activation());
    if (auto c = call(complete); !c.ok()) {
      spdlog::error("replayer: {}", ipc::Describe(c.error()));
      return exit_code::kInternal;
    }
  }
  if (verdicts < histories.size()) {
    spdlog::error("replayer ended with {} of {} verdicts", verdicts, histories.size());
    return exit_code::kInternal;
  }
  return failed == 0 ? exit_code::kOk : 1;
}

}  // namespace hourglass::sdk
