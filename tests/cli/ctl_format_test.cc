// `hourglass ctl`'s text and JSON from hand-built supervisor replies, and how
// its errors map to exit codes (cli/ctl_format.h, docs/cli.md).

#include "cli/ctl_format.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/errors.h"

namespace hourglass::cli {
namespace {

namespace v1 = ::hourglass::ipc::v1;
using ::testing::Contains;
using ::testing::ElementsAre;

v1::CtlNode* AddNode(v1::CtlStatusReply& status, const std::string& id, const std::string& parent,
                     int depth, const std::string& kind, const std::string& state, int pid) {
  v1::CtlNode* node = status.add_nodes();
  node->set_id(id);
  node->set_parent(parent);
  node->set_depth(depth);
  node->set_kind(kind);
  node->set_state(state);
  node->set_pid(pid);
  node->set_restart_type(kind == "supervisor" ? "permanent" : "transient");
  return node;
}

void MakeSupervisor(v1::CtlNode* node, const std::string& strategy, int intensity,
                    uint64_t period_ms, int restarts_in_period, bool dynamic = false) {
  node->set_strategy(strategy);
  node->set_intensity(intensity);
  node->set_period_ms(period_ms);
  node->set_restarts_in_period(restarts_in_period);
  node->set_dynamic(dynamic);
}

// The tree of docs/supervision.md with a served queue and one restarting.
v1::CtlStatusReply SampleStatus() {
  v1::CtlStatusReply s;
  s.set_supervisor_pid(4242);
  s.set_supervisor_uptime_ms(3'725'000);  // 1h 02m 05s
  s.set_supervisor_rss_bytes(12'900'000);
  s.set_runtime_dir("/run/user/1000/hourglass");
  s.set_target("127.0.0.1:7233");
  s.set_namespace_("default");
  s.set_bridge_epoch(3);
  s.set_bridge_socket("/run/user/1000/hourglass/bridge.sock");
  s.set_cascades(1);

  MakeSupervisor(AddNode(s, "application", "", 0, "supervisor", "running", 0), "one_for_one", 3,
                 5000, 0);
  MakeSupervisor(AddNode(s, "subsystem", "application", 1, "supervisor", "running", 0),
                 "rest_for_one", 1, 5000, 1);

  v1::CtlNode* bridge = AddNode(s, "bridgehost", "subsystem", 2, "child", "running", 4244);
  bridge->set_restart_type("permanent");
  bridge->set_restart_count(1);
  bridge->set_uptime_ms(65'000);
  v1::Stats* bs = bridge->mutable_stats();
  bs->set_bridge_epoch(3);
  bs->add_registered_task_queues("orders");
  bs->add_registered_task_queues("emails");
  bs->set_open_connections(4);
  bs->set_parked_polls(2);
  bs->set_rss_bytes(40 * 1024 * 1024);

  MakeSupervisor(AddNode(s, "workers", "subsystem", 2, "supervisor", "running", 0), "one_for_one",
                 5, 10'000, 2, /*dynamic=*/true);

  v1::CtlNode* orders = AddNode(s, "worker:orders", "workers", 3, "child", "running", 4250);
  orders->set_uptime_ms(42'000);
  v1::Stats* ws = orders->mutable_stats();
  ws->set_task_queue("orders");
  ws->set_workflow_poll_loop(v1::POLL_LOOP_STATE_POLLING);
  ws->set_activity_poll_loop(v1::POLL_LOOP_STATE_BACKING_OFF);
  ws->set_workflow_poll_loop_restarts(0);
  ws->set_activity_poll_loop_restarts(2);
  ws->set_inflight_activations(3);
  ws->set_inflight_activities(1);
  ws->set_cached_runs(12);
  ws->set_rss_bytes(30 * 1024 * 1024 + 300 * 1024);

  v1::CtlNode* emails = AddNode(s, "worker:emails", "workers", 3, "child", "backing_off", 0);
  emails->set_restart_count(4);
  emails->set_stop_pending(false);

  v1::CtlRegistryEntry* r1 = s.add_registry();
  r1->set_task_queue("orders");
  r1->set_child_id("worker:orders");
  r1->set_pid(4250);
  r1->set_ready(true);
  r1->set_exec("/usr/bin/hourglass-workerproc");
  v1::CtlRegistryEntry* r2 = s.add_registry();
  r2->set_task_queue("emails");
  r2->set_child_id("worker:emails");
  r2->set_ready(false);
  r2->set_exec("/opt/mail/worker");

  s.add_launcher_queues("orders");
  s.add_launcher_queues("emails");
  return s;
}

TEST(CtlFormat, Durations) {
  EXPECT_EQ(FormatDuration(0), "0ms");
  EXPECT_EQ(FormatDuration(350), "350ms");
  EXPECT_EQ(FormatDuration(42'999), "42s");
  EXPECT_EQ(FormatDuration(245'000), "4m 05s");
  EXPECT_EQ(FormatDuration(3'725'000), "1h 02m");
  EXPECT_EQ(FormatDuration(2 * 86'400'000ull + 5 * 3'600'000ull), "2d 05h");
}

TEST(CtlFormat, Bytes) {
  EXPECT_EQ(FormatBytes(512), "512 B");
  EXPECT_EQ(FormatBytes(3 * 1024), "3.0 KiB");
  EXPECT_EQ(FormatBytes(30 * 1024 * 1024 + 300 * 1024), "30.3 MiB");
  EXPECT_EQ(FormatBytes(3ull * 1024 * 1024 * 1024 / 2), "1.5 GiB");
}

TEST(CtlFormat, PollLoopWords) {
  EXPECT_EQ(PollLoopWord(v1::POLL_LOOP_STATE_STARTING), "starting");
  EXPECT_EQ(PollLoopWord(v1::POLL_LOOP_STATE_POLLING), "polling");
  EXPECT_EQ(PollLoopWord(v1::POLL_LOOP_STATE_BACKING_OFF), "backing off");
  EXPECT_EQ(PollLoopWord(v1::POLL_LOOP_STATE_STOPPED), "stopped");
  EXPECT_EQ(PollLoopWord(v1::POLL_LOOP_STATE_UNSPECIFIED), "unknown");
}

TEST(CtlFormat, StatusHeader) {
  const auto lines = StatusLines(SampleStatus());
  ASSERT_GE(lines.size(), 5u);
  EXPECT_EQ(lines[0], "supervisor: pid 4242, up 1h 02m, rss 12.3 MiB");
  EXPECT_EQ(lines[1], "runtime dir: /run/user/1000/hourglass");
  EXPECT_EQ(lines[2], "target: 127.0.0.1:7233, namespace: default");
  EXPECT_EQ(lines[3], "bridge: epoch 3, socket /run/user/1000/hourglass/bridge.sock, cascades 1");
  EXPECT_EQ(lines[4], "stopping: no");
}

TEST(CtlFormat, StatusTreeIsIndentedByDepthWithEachChildsFigures) {
  const auto lines = StatusLines(SampleStatus());
  const std::vector<std::string> tree(lines.begin() + 5, lines.begin() + 18);
  EXPECT_THAT(
      tree,
      ElementsAre(
          "", "tree:",
          "  application  supervisor  running  pid -  restarts 0  up -  permanent  one_for_one  "
          "intensity 3 in 5s  restarts in period 0",
          "    subsystem  supervisor  running  pid -  restarts 0  up -  permanent  rest_for_one  "
          "intensity 1 in 5s  restarts in period 1",
          "      bridgehost  child  running  pid 4244  restarts 1  up 1m 05s  permanent",
          "          bridge epoch 3: registered queues orders, emails; open connections 4; parked "
          "polls 2; rss 40.0 MiB",
          "      workers  supervisor  running  pid -  restarts 0  up -  permanent  one_for_one "
          "(dynamic)  intensity 5 in 10s  restarts in period 2",
          "        worker:orders  child  running  pid 4250  restarts 0  up 42s  transient",
          "            task queue orders: workflow poll loop polling (restarts 0), activity poll "
          "loop backing off (restarts 2)",
          "            in flight: 3 activations, 1 activities; cached runs 12; rss 30.3 MiB",
          // No Stats (it is not running): no figures, and no pid 0.
          "        worker:emails  child  backing_off  pid -  restarts 4  up -  transient", "",
          "registry:"));
}

TEST(CtlFormat, StatusRegistryAndLauncherQueues) {
  const auto lines = StatusLines(SampleStatus());
  ASSERT_EQ(lines.size(), 22u);
  EXPECT_EQ(lines[17], "registry:");
  EXPECT_EQ(lines[18],
            "  orders -> worker:orders, pid 4250, ready, exec /usr/bin/hourglass-workerproc");
  EXPECT_EQ(lines[19], "  emails -> worker:emails, pid -, not ready, exec /opt/mail/worker");
  EXPECT_EQ(lines[20], "");
  EXPECT_EQ(lines[21], "launcher queues: orders, emails");
}

TEST(CtlFormat, StatusOfAnEmptyTreeBeforeTheBridgeHost) {
  v1::CtlStatusReply s;
  s.set_supervisor_pid(7);
  s.set_stopping(true);
  const auto lines = StatusLines(s);
  EXPECT_EQ(lines[3], "bridge: not ready, cascades 0");
  EXPECT_EQ(lines[4], "stopping: yes");
  EXPECT_THAT(lines, Contains("  (empty)"));
  EXPECT_EQ(lines.back(), "launcher queues: (none)");
}

TEST(CtlFormat, StopPendingAndOtherChildrensStats) {
  v1::CtlNode node;
  node.set_id("devserver");
  node.set_kind("child");
  node.set_state("stopping");
  node.set_stop_pending(true);
  node.set_pid(99);
  node.set_restart_type("permanent");
  EXPECT_EQ(NodeLine(node),
            "devserver  child  stopping (stop pending)  pid 99  restarts 0  up -  "
            "permanent");
  EXPECT_TRUE(StatsLines(node).empty());
  node.mutable_stats();  // answered, but measured nothing
  EXPECT_TRUE(StatsLines(node).empty());
  node.mutable_stats()->set_rss_bytes(2048);
  EXPECT_THAT(StatsLines(node), ElementsAre("rss 2.0 KiB"));
}

TEST(CtlFormat, UnmeasuredRssIsLeftOut) {
  v1::CtlStatusReply s = SampleStatus();
  s.mutable_nodes(2)->mutable_stats()->set_rss_bytes(0);  // bridgehost
  s.mutable_nodes(4)->mutable_stats()->set_rss_bytes(0);  // worker:orders
  const auto lines = StatusLines(s);
  EXPECT_EQ(lines[10],
            "          bridge epoch 3: registered queues orders, emails; open connections 4; "
            "parked polls 2");
  EXPECT_EQ(lines[14], "            in flight: 3 activations, 1 activities; cached runs 12");
}

TEST(CtlFormat, FailpointListIsSortedAndAligned) {
  v1::FailpointReply r;
  r.set_ok(true);
  (*r.mutable_points())["worker.activity.before_complete"] = "delay(300)";
  (*r.mutable_points())["executor.activity.before_complete"] = "off";
  (*r.mutable_hits())["worker.activity.before_complete"] = 2;
  EXPECT_THAT(FailpointLines(r),
              ElementsAre("executor.activity.before_complete  off         hits=0",
                          "worker.activity.before_complete    delay(300)  hits=2"));
  EXPECT_TRUE(FailpointLines(v1::FailpointReply()).empty());
}

TEST(CtlFormat, WhichChildrenAlignsColumns) {
  v1::CtlWhichChildrenReply reply;
  auto add = [&](const std::string& id, const std::string& kind, const std::string& state,
                 int pid) {
    v1::CtlNode* n = reply.add_children();
    n->set_id(id);
    n->set_kind(kind);
    n->set_state(state);
    n->set_pid(pid);
  };
  add("devserver", "child", "running", 4243);
  add("subsystem", "supervisor", "running", 0);
  add("executors", "supervisor", "waiting_ready", 0);
  EXPECT_THAT(WhichChildrenLines(reply), ElementsAre("devserver  child       running        4243",
                                                     "subsystem  supervisor  running        -",
                                                     "executors  supervisor  waiting_ready  -"));
  EXPECT_TRUE(WhichChildrenLines(v1::CtlWhichChildrenReply()).empty());
}

TEST(CtlFormat, JsonKeepsProtoNamesAndZeroes) {
  const auto json = nlohmann::json::parse(ReplyJson(SampleStatus()));
  EXPECT_EQ(json["supervisor_pid"], 4242);
  EXPECT_EQ(json["namespace"], "default");
  // proto3 JSON writes 64-bit integers as strings.
  EXPECT_EQ(json["bridge_epoch"], "3");
  EXPECT_EQ(json["stopping"], false);  // a zero value, printed anyway
  const auto& orders = json["nodes"][4];
  EXPECT_EQ(orders["id"], "worker:orders");
  EXPECT_EQ(orders["stop_pending"], false);
  EXPECT_EQ(orders["stats"]["activity_poll_loop"], "POLL_LOOP_STATE_BACKING_OFF");
  EXPECT_EQ(orders["stats"]["workflow_poll_loop_restarts"], 0);
  EXPECT_FALSE(json["nodes"][5].contains("stats"));  // absent, not empty
  EXPECT_EQ(json["registry"][1]["ready"], false);
  EXPECT_EQ(json["registry"][1]["pid"], 0);
}

TEST(CtlFormat, ErrorKindsMapToTheClisExitCodes) {
  EXPECT_EQ(CtlExitCode(v1::CTL_ERROR_KIND_NOT_FOUND), exit_code::kNotFound);
  EXPECT_EQ(CtlExitCode(v1::CTL_ERROR_KIND_NOT_FOUND), 4);
  EXPECT_EQ(CtlExitCode(v1::CTL_ERROR_KIND_REFUSED), exit_code::kAlreadyStarted);
  EXPECT_EQ(CtlExitCode(v1::CTL_ERROR_KIND_REFUSED), 5);
  for (auto kind :
       {v1::CTL_ERROR_KIND_UNSPECIFIED, v1::CTL_ERROR_KIND_INVALID_ARGUMENT,
        v1::CTL_ERROR_KIND_TIMEOUT, v1::CTL_ERROR_KIND_FAILED, v1::CTL_ERROR_KIND_PROTOCOL}) {
    EXPECT_EQ(CtlExitCode(kind), exit_code::kServerError) << v1::CtlErrorKind_Name(kind);
  }
  // A kind from a newer supervisor.
  EXPECT_EQ(CtlExitCode(static_cast<v1::CtlErrorKind>(77)), exit_code::kServerError);
}

TEST(CtlFormat, ErrorLabels) {
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_INVALID_ARGUMENT), "invalid_argument");
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_NOT_FOUND), "not_found");
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_REFUSED), "refused");
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_TIMEOUT), "timeout");
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_FAILED), "failed");
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_PROTOCOL), "protocol");
  EXPECT_EQ(CtlErrorLabel(v1::CTL_ERROR_KIND_UNSPECIFIED), "internal");
  EXPECT_EQ(CtlErrorLabel(static_cast<v1::CtlErrorKind>(77)), "internal");
}

}  // namespace
}  // namespace hourglass::cli
