// hourglass-bridgehost as a real process against a real hourglass-devserver,
// driven over its IPC socket. The test plays the language side with raw Core
// protos; where a workflow worker is needed (to schedule activities) it plays
// one directly against the dev server's gRPC API.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <limits>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "hourglass/ipc/v1/control.pb.h"
#include "ipc/client.h"
#include "ipc/envelope.h"
#include "ipc/frame.h"
#include "ipc/unix_socket.h"
#include "temporal/api/workflowservice/v1/service.grpc.pb.h"
#include "tests/testing/process.h"
#include "tests/testing/stack.h"
#include "tests/testing/temp_dir.h"

namespace hourglass {
namespace {

using namespace std::chrono_literals;
namespace v1 = ipc::v1;
namespace wsv = temporal::api::workflowservice::v1;
namespace enums = temporal::api::enums::v1;
using testing::ChildProcess;

class DevServer {
 public:
  DevServer() {
    EXPECT_TRUE(process_.ok()) << "dev server did not start";
    stub_ = wsv::WorkflowService::NewStub(grpc::CreateChannel(address(), grpc::InsecureChannelCredentials()));
  }
  const std::string& address() const { return process_.address(); }
  wsv::WorkflowService::Stub& stub() { return *stub_; }

 private:
  testing::DevServerProcess process_;
  std::unique_ptr<wsv::WorkflowService::Stub> stub_;
};

DevServer* g_server = nullptr;

class BridgeHostTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { g_server = new DevServer(); }
  static void TearDownTestSuite() {
    delete g_server;
    g_server = nullptr;
  }

  void SetUp() override {
    bridge_.emplace(g_server->address());
    ASSERT_TRUE(bridge_->ok()) << "no READY on the control channel";
    socket_path_ = bridge_->socket_path();
    epoch_ = bridge_->epoch();
  }

  void TearDown() override { bridge_.reset(); }

  std::optional<v1::ControlMessage> ReadControl(std::chrono::milliseconds timeout) {
    return bridge_->ReadControl(timeout);
  }

  ipc::BlockingClient Connect(v1::Role role = v1::ROLE_WORKER) {
    ipc::ClientOptions o;
    o.socket_path = socket_path_;
    o.hello.set_role(role);
    auto c = ipc::BlockingClient::Connect(o, 5s);
    EXPECT_TRUE(c.ok()) << (c.ok() ? "" : ipc::Describe(c.error()));
    return std::move(c).value();
  }

  static v1::Request Register(const std::string& queue) {
    v1::Request r;
    r.mutable_register_worker()->mutable_options()->set_task_queue(queue);
    return r;
  }
  static v1::Request IsRegistered(const std::string& queue) {
    v1::Request r;
    r.mutable_is_registered()->set_task_queue(queue);
    return r;
  }
  static v1::Request PollActivity(const std::string& queue) {
    v1::Request r;
    r.mutable_poll_activity_task()->set_task_queue(queue);
    return r;
  }


  static v1::Request PollWorkflow(const std::string& queue) {
    v1::Request r;
    r.mutable_poll_workflow_activation()->set_task_queue(queue);
    return r;
  }

  coresdk::workflow_activation::WorkflowActivation NextActivation(ipc::BlockingClient& c, const std::string& queue) {
    auto r = c.Call(PollWorkflow(queue), 30s);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : ipc::Describe(r.error()));
    return r.ok() ? r->poll_workflow_activation().activation() : coresdk::workflow_activation::WorkflowActivation();
  }

  ipc::Result<v1::Response> CompleteActivation(ipc::BlockingClient& c, const std::string& queue,
                                               const std::string& run_id,
                                               std::vector<coresdk::workflow_commands::WorkflowCommand> cmds) {
    v1::Request r;
    auto* cc = r.mutable_complete_workflow_activation();
    cc->set_task_queue(queue);
    cc->mutable_completion()->set_run_id(run_id);
    auto* ok = cc->mutable_completion()->mutable_successful();
    for (auto& cmd : cmds) *ok->add_commands() = std::move(cmd);
    return c.Call(r, 30s);
  }

  static coresdk::workflow_commands::WorkflowCommand TimerCmd(uint32_t seq, int64_t ms) {
    coresdk::workflow_commands::WorkflowCommand c;
    c.mutable_start_timer()->set_seq(seq);
    c.mutable_start_timer()->mutable_start_to_fire_timeout()->set_seconds(ms / 1000);
    c.mutable_start_timer()->mutable_start_to_fire_timeout()->set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
    return c;
  }
  static coresdk::workflow_commands::WorkflowCommand CompleteCmd(const std::string& json) {
    coresdk::workflow_commands::WorkflowCommand c;
    auto* p = c.mutable_complete_workflow_execution()->mutable_result();
    (*p->mutable_metadata())["encoding"] = "json/plain";
    p->set_data(json);
    return c;
  }

  std::string StartViaBridge(ipc::BlockingClient& c, const std::string& id, const std::string& queue) {
    v1::Request start;
    auto* s = start.mutable_start_workflow()->mutable_request();
    s->set_workflow_id(id);
    s->mutable_workflow_type()->set_name("Wf");
    s->mutable_task_queue()->set_name(queue);
    auto r = c.Call(start, 10s);
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : ipc::Describe(r.error()));
    return r.ok() ? r->start_workflow().response().run_id() : "";
  }

  static v1::Request RegisterWith(const std::string& queue, uint32_t max_cached) {
    v1::Request r = Register(queue);
    r.mutable_register_worker()->mutable_options()->set_max_cached_workflows(max_cached);
    return r;
  }

  // Starts a workflow on `queue` and, playing its workflow worker, completes
  // the first workflow task with one ScheduleActivityTask command.
  std::string StartWorkflowWithActivity(const std::string& id, const std::string& queue,
                                        int heartbeat_timeout_s = 0) {
    wsv::StartWorkflowExecutionRequest start;
    start.set_namespace_("default");
    start.set_workflow_id(id);
    start.mutable_workflow_type()->set_name("Wf");
    start.mutable_task_queue()->set_name(queue);
    start.set_request_id(id);
    wsv::StartWorkflowExecutionResponse started;
    grpc::ClientContext c1;
    EXPECT_TRUE(g_server->stub().StartWorkflowExecution(&c1, start, &started).ok());
    wsv::PollWorkflowTaskQueueRequest poll;
    poll.set_namespace_("default");
    poll.mutable_task_queue()->set_name(queue);
    wsv::PollWorkflowTaskQueueResponse task;
    grpc::ClientContext c2;
    c2.set_deadline(std::chrono::system_clock::now() + 10s);
    EXPECT_TRUE(g_server->stub().PollWorkflowTaskQueue(&c2, poll, &task).ok());
    EXPECT_FALSE(task.task_token().empty());
    wsv::RespondWorkflowTaskCompletedRequest done;
    done.set_task_token(task.task_token());
    auto* cmd = done.add_commands();
    cmd->set_command_type(enums::COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK);
    auto* a = cmd->mutable_schedule_activity_task_command_attributes();
    a->set_activity_id("act-1");
    a->mutable_activity_type()->set_name("Greet");
    a->mutable_task_queue()->set_name(queue);
    a->mutable_start_to_close_timeout()->set_seconds(60);
    if (heartbeat_timeout_s > 0) a->mutable_heartbeat_timeout()->set_seconds(heartbeat_timeout_s);
    a->mutable_input()->add_payloads()->set_data("\"World\"");
    wsv::RespondWorkflowTaskCompletedResponse resp;
    grpc::ClientContext c3;
    EXPECT_TRUE(g_server->stub().RespondWorkflowTaskCompleted(&c3, done, &resp).ok());
    return started.run_id();
  }

  std::vector<enums::EventType> HistoryTypes(const std::string& id) {
    wsv::GetWorkflowExecutionHistoryRequest req;
    req.set_namespace_("default");
    req.mutable_execution()->set_workflow_id(id);
    wsv::GetWorkflowExecutionHistoryResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(g_server->stub().GetWorkflowExecutionHistory(&ctx, req, &resp).ok());
    std::vector<enums::EventType> out;
    for (const auto& e : resp.history().events()) out.push_back(e.event_type());
    return out;
  }

  testing::TempDir runtime_dir_{"hg-bhr"};  // for a second bridge host
  std::optional<testing::BridgeHostProcess> bridge_;
  std::string socket_path_;
  uint64_t epoch_ = 0;
};

TEST_F(BridgeHostTest, Ready_ReportsSocketAndEpochAndTheSocketIsPrivate) {
  EXPECT_NE(epoch_, 0u);
  struct stat st{};
  ASSERT_EQ(::stat(bridge_->runtime_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  auto c = Connect();
  EXPECT_EQ(c.welcome().bridge_epoch(), epoch_);
  EXPECT_EQ(c.welcome().target(), g_server->address());
}

TEST_F(BridgeHostTest, Control_StatsAnswerTheSupervisor) {
  auto c = Connect();
  ASSERT_TRUE(c.Call(Register("stats-q"), 10s).ok());
  v1::ControlMessage ask;
  ask.set_seq(7);
  ask.mutable_stats_request();
  ASSERT_TRUE(bridge_->SendControl(ask));
  auto reply = ReadControl(10s);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->seq(), 7u);
  EXPECT_EQ(reply->stats().bridge_epoch(), epoch_);
  ASSERT_EQ(reply->stats().registered_task_queues_size(), 1);
  EXPECT_EQ(reply->stats().registered_task_queues(0), "stats-q");
}

TEST_F(BridgeHostTest, Control_EofMeansTheSupervisorIsGoneAndTheBridgeExits) {
  bridge_->CloseControl();
  const int status = bridge_->process().Wait(10s);
  ASSERT_NE(status, -1) << "the bridge host must exit when its control channel closes";
  EXPECT_TRUE(WIFEXITED(status)) << "killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 5);
}

TEST_F(BridgeHostTest, Client_StartDescribeSignalTerminateAwaitAndHistory) {
  auto c = Connect(v1::ROLE_CLIENT);
  v1::Request start;
  auto* s = start.mutable_start_workflow()->mutable_request();
  s->set_workflow_id("client-1");
  s->mutable_workflow_type()->set_name("Wf");
  s->mutable_task_queue()->set_name("client-q");
  auto started = c.Call(start, 10s);
  ASSERT_TRUE(started.ok()) << ipc::Describe(started.error());
  const std::string run_id = started->start_workflow().response().run_id();
  EXPECT_FALSE(run_id.empty());

  auto dup = c.Call(start, 10s);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.error().kind(), v1::ERROR_KIND_ALREADY_STARTED);
  EXPECT_EQ(dup.error().run_id(), run_id);

  v1::Request describe;
  describe.mutable_describe_workflow()->mutable_request()->mutable_execution()->set_workflow_id("client-1");
  auto described = c.Call(describe, 10s);
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->describe_workflow().response().workflow_execution_info().status(),
            enums::WORKFLOW_EXECUTION_STATUS_RUNNING);

  v1::Request signal;
  auto* sig = signal.mutable_signal_workflow()->mutable_request();
  sig->mutable_workflow_execution()->set_workflow_id("client-1");
  sig->set_signal_name("poke");
  ASSERT_TRUE(c.Call(signal, 10s).ok());

  // Await in a second connection while this one terminates.
  std::thread awaiter([&] {
    auto w = Connect(v1::ROLE_CLIENT);
    v1::Request await;
    await.mutable_await_result()->mutable_execution()->set_workflow_id("client-1");
    auto closed = w.Call(await, 30s);
    ASSERT_TRUE(closed.ok()) << ipc::Describe(closed.error());
    EXPECT_EQ(closed->await_result().close_event().event_type(),
              enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
  });
  v1::Request terminate;
  auto* t = terminate.mutable_terminate_workflow()->mutable_request();
  t->mutable_workflow_execution()->set_workflow_id("client-1");
  t->set_reason("test");
  ASSERT_TRUE(c.Call(terminate, 10s).ok());
  awaiter.join();

  v1::Request fetch;
  fetch.mutable_fetch_history()->mutable_request()->mutable_execution()->set_workflow_id("client-1");
  auto history = c.Call(fetch, 10s);
  ASSERT_TRUE(history.ok());
  const auto& events = history->fetch_history().history().events();
  ASSERT_GE(events.size(), 3);
  EXPECT_EQ(events[0].event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED);
  EXPECT_EQ(events[events.size() - 1].event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED);
}

TEST_F(BridgeHostTest, Client_ErrorsAreTyped) {
  auto c = Connect(v1::ROLE_CLIENT);
  v1::Request describe;
  describe.mutable_describe_workflow()->mutable_request()->mutable_execution()->set_workflow_id("nope");
  auto missing = c.Call(describe, 10s);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind(), v1::ERROR_KIND_NOT_FOUND);
  EXPECT_EQ(missing.error().grpc_code(), static_cast<int>(grpc::StatusCode::NOT_FOUND));

  v1::Request ns;
  ns.mutable_describe_namespace()->mutable_request()->set_namespace_("no-such-namespace");
  auto bad_ns = c.Call(ns, 10s);
  ASSERT_FALSE(bad_ns.ok());
  EXPECT_EQ(bad_ns.error().kind(), v1::ERROR_KIND_NOT_FOUND);

  v1::Request stale = describe;
  stale.set_epoch(epoch_ + 1);
  auto st = c.Call(stale, 10s);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind(), v1::ERROR_KIND_STALE_EPOCH);
}

TEST_F(BridgeHostTest, Client_AbsurdTimeoutIsCappedNotOverflowed) {
  // timeout_ms is a uint64 from another process: 2^64 - 1 must not overflow
  // the deadline arithmetic (the bridge host caps it at a year).
  auto c = Connect(v1::ROLE_CLIENT);
  v1::Request describe;
  describe.set_timeout_ms(std::numeric_limits<uint64_t>::max());
  describe.mutable_describe_workflow()->mutable_request()->mutable_execution()->set_workflow_id("nope");
  auto missing = c.Call(describe, 10s);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().kind(), v1::ERROR_KIND_NOT_FOUND);
  v1::Request await;
  await.set_timeout_ms(std::numeric_limits<uint64_t>::max() - 1);
  await.mutable_await_result()->mutable_execution()->set_workflow_id("nope");
  auto none = c.Call(await, 10s);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().kind(), v1::ERROR_KIND_NOT_FOUND);
}

TEST_F(BridgeHostTest, Holder_DuplicateRegistrationIsRefusedInFlightAndAfter) {
  auto c = Connect();
  // Two registrations back to back: the second arrives while the first is in
  // flight (it waits for DescribeNamespace).
  v1::Envelope a;
  a.set_request_id(100);
  *a.mutable_request() = Register("dup-q");
  v1::Envelope b = a;
  b.set_request_id(101);
  ASSERT_TRUE(c.SendRaw(*ipc::EncodeMessageFrame(a, 1 << 20) + *ipc::EncodeMessageFrame(b, 1 << 20), 5s).ok());
  std::map<uint64_t, v1::Response> replies;
  while (replies.size() < 2) {
    auto env = c.ReadEnvelope(10s);
    ASSERT_TRUE(env.ok());
    if (env->has_response()) replies[env->request_id()] = env->response();
  }
  EXPECT_TRUE(replies[100].has_register_worker());
  EXPECT_EQ(replies[100].register_worker().bridge_epoch(), epoch_);
  EXPECT_EQ(replies[101].error().kind(), v1::ERROR_KIND_ALREADY_REGISTERED);
  auto again = c.Call(Register("dup-q"), 10s);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().kind(), v1::ERROR_KIND_ALREADY_REGISTERED);
}

TEST_F(BridgeHostTest, Holder_UnregisterIsVisibleAtOnceAndParkedPollsGetShutdown) {
  auto owner = Connect();
  ASSERT_TRUE(owner.Call(Register("unreg-q"), 10s).ok());
  std::thread poller([&] {
    auto p = Connect();
    auto r = p.Call(PollActivity("unreg-q"), 30s);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_SHUTDOWN);
  });
  // Wait until the poll is parked (the bridge reports it in its stats).
  bool parked = false;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s;
       !parked && std::chrono::steady_clock::now() < deadline;) {
    v1::ControlMessage ask;
    ask.set_seq(1);
    ask.mutable_stats_request();
    ASSERT_TRUE(bridge_->SendControl(ask));
    auto reply = ReadControl(5s);
    ASSERT_TRUE(reply.has_value());
    parked = reply->stats().parked_polls() == 1;
  }
  ASSERT_TRUE(parked) << "the poll never parked";
  v1::Request unregister;
  unregister.mutable_unregister_worker()->set_task_queue("unreg-q");
  auto u = owner.Call(unregister, 10s);
  ASSERT_TRUE(u.ok());
  EXPECT_TRUE(u->unregister_worker().was_registered());
  auto is = owner.Call(IsRegistered("unreg-q"), 10s);
  ASSERT_TRUE(is.ok());
  EXPECT_FALSE(is->is_registered().registered());
  poller.join();
}

TEST_F(BridgeHostTest, Holder_OwnerDisconnectUnregistersTheQueue) {
  auto observer = Connect(v1::ROLE_CLIENT);
  {
    auto owner = Connect();
    ASSERT_TRUE(owner.Call(Register("owned-q"), 10s).ok());
    auto is = observer.Call(IsRegistered("owned-q"), 10s);
    ASSERT_TRUE(is.ok());
    EXPECT_TRUE(is->is_registered().registered());
  }  // the owning connection closes
  bool registered = true;
  for (int i = 0; i < 500 && registered; ++i) {
    auto is = observer.Call(IsRegistered("owned-q"), 10s);
    ASSERT_TRUE(is.ok());
    registered = is->is_registered().registered();
  }
  EXPECT_FALSE(registered);
}

TEST_F(BridgeHostTest, Activity_PollCompleteEndToEnd) {
  auto worker = Connect();
  ASSERT_TRUE(worker.Call(Register("act-q"), 10s).ok());
  StartWorkflowWithActivity("act-wf-1", "act-q");
  auto task = worker.Call(PollActivity("act-q"), 30s);
  ASSERT_TRUE(task.ok()) << ipc::Describe(task.error());
  const auto& t = task->poll_activity_task().task();
  ASSERT_TRUE(t.has_start());
  EXPECT_EQ(t.start().activity_type(), "Greet");
  EXPECT_EQ(t.start().attempt(), 1u);
  ASSERT_EQ(t.start().input_size(), 1);
  EXPECT_EQ(t.start().input(0).data(), "\"World\"");
  v1::Request complete;
  auto* cc = complete.mutable_complete_activity_task();
  cc->set_task_queue("act-q");
  cc->mutable_completion()->set_task_token(t.task_token());
  cc->mutable_completion()->mutable_result()->mutable_completed()->mutable_result()->set_data("\"Hello\"");
  auto done = worker.Call(complete, 10s);
  ASSERT_TRUE(done.ok()) << ipc::Describe(done.error());
  const auto types = HistoryTypes("act-wf-1");
  ASSERT_GE(types.size(), 7u);
  EXPECT_EQ(types[5], enums::EVENT_TYPE_ACTIVITY_TASK_STARTED);
  EXPECT_EQ(types[6], enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
}

TEST_F(BridgeHostTest, Activity_DeadPollersTaskGoesToTheNextPoller) {
  auto owner = Connect();
  ASSERT_TRUE(owner.Call(Register("handoff-q"), 10s).ok());
  {
    // A poller parks, then its process "dies" (the connection closes).
    auto doomed = Connect();
    v1::Envelope env;
    env.set_request_id(5);
    *env.mutable_request() = PollActivity("handoff-q");
    ASSERT_TRUE(doomed.SendRaw(*ipc::EncodeMessageFrame(env, 1 << 20), 5s).ok());
  }
  std::optional<ipc::Result<v1::Response>> got;
  std::thread survivor([&] {
    auto p = Connect();
    got = p.Call(PollActivity("handoff-q"), 30s);
  });
  StartWorkflowWithActivity("handoff-wf", "handoff-q");
  const auto t0 = std::chrono::steady_clock::now();
  survivor.join();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->ok()) << ipc::Describe(got->error());
  EXPECT_TRUE((*got)->poll_activity_task().task().has_start());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s) << "no wait for a timeout";
}

TEST_F(BridgeHostTest, Activity_CancelRequestArrivesThroughHeartbeatAsACancelTask) {
  auto worker = Connect();
  ASSERT_TRUE(worker.Call(Register("cancel-q"), 10s).ok());
  StartWorkflowWithActivity("cancel-wf", "cancel-q", /*heartbeat_timeout_s=*/30);
  auto task = worker.Call(PollActivity("cancel-q"), 30s);
  ASSERT_TRUE(task.ok());
  const std::string token = task->poll_activity_task().task().task_token();
  // The workflow asks for cancellation: play its worker through a signal-driven task.
  wsv::SignalWorkflowExecutionRequest sig;
  sig.set_namespace_("default");
  sig.mutable_workflow_execution()->set_workflow_id("cancel-wf");
  sig.set_signal_name("cancel");
  wsv::SignalWorkflowExecutionResponse sig_resp;
  grpc::ClientContext c1;
  ASSERT_TRUE(g_server->stub().SignalWorkflowExecution(&c1, sig, &sig_resp).ok());
  wsv::PollWorkflowTaskQueueRequest poll;
  poll.set_namespace_("default");
  poll.mutable_task_queue()->set_name("cancel-q");
  wsv::PollWorkflowTaskQueueResponse wt;
  grpc::ClientContext c2;
  c2.set_deadline(std::chrono::system_clock::now() + 10s);
  ASSERT_TRUE(g_server->stub().PollWorkflowTaskQueue(&c2, poll, &wt).ok());
  wsv::RespondWorkflowTaskCompletedRequest done;
  done.set_task_token(wt.task_token());
  auto* cmd = done.add_commands();
  cmd->set_command_type(enums::COMMAND_TYPE_REQUEST_CANCEL_ACTIVITY_TASK);
  cmd->mutable_request_cancel_activity_task_command_attributes()->set_scheduled_event_id(5);
  wsv::RespondWorkflowTaskCompletedResponse resp;
  grpc::ClientContext c3;
  ASSERT_TRUE(g_server->stub().RespondWorkflowTaskCompleted(&c3, done, &resp).ok());

  v1::Request hb;
  hb.mutable_record_activity_heartbeat()->set_task_queue("cancel-q");
  hb.mutable_record_activity_heartbeat()->mutable_heartbeat()->set_task_token(token);
  ASSERT_TRUE(worker.Call(hb, 10s).ok());
  auto cancel = worker.Call(PollActivity("cancel-q"), 30s);
  ASSERT_TRUE(cancel.ok()) << ipc::Describe(cancel.error());
  const auto& ct = cancel->poll_activity_task().task();
  ASSERT_TRUE(ct.has_cancel());
  EXPECT_EQ(ct.task_token(), token);
  EXPECT_EQ(ct.cancel().reason(), coresdk::activity_task::CANCELLED);
  EXPECT_TRUE(ct.cancel().details().is_cancelled());

  v1::Request complete;
  auto* cc = complete.mutable_complete_activity_task();
  cc->set_task_queue("cancel-q");
  cc->mutable_completion()->set_task_token(token);
  cc->mutable_completion()->mutable_result()->mutable_cancelled()->mutable_failure()->mutable_canceled_failure_info();
  ASSERT_TRUE(worker.Call(complete, 10s).ok());
  const auto types = HistoryTypes("cancel-wf");
  EXPECT_NE(std::find(types.begin(), types.end(), enums::EVENT_TYPE_ACTIVITY_TASK_CANCELED), types.end());
}

TEST_F(BridgeHostTest, Activity_GarbageCompletionGetsATypedErrorAndTheBridgeLivesOn) {
  auto worker = Connect();
  ASSERT_TRUE(worker.Call(Register("garbage-q"), 10s).ok());
  v1::Request complete;
  auto* cc = complete.mutable_complete_activity_task();
  cc->set_task_queue("garbage-q");
  cc->mutable_completion()->set_task_token("\x01\x02garbage");
  cc->mutable_completion()->mutable_result()->mutable_completed();
  auto r = worker.Call(complete, 10s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);
  v1::Request empty_result = complete;
  empty_result.mutable_complete_activity_task()->mutable_completion()->clear_result();
  auto e = worker.Call(empty_result, 10s);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);
  v1::Request ping;
  ping.mutable_ping()->set_payload("alive");
  EXPECT_TRUE(worker.Call(ping, 5s).ok());
}


TEST_F(BridgeHostTest, Workflow_TimerThenCompleteEndToEnd) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("wf-q"), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-timer", "wf-q");
  auto a1 = NextActivation(w, "wf-q");
  ASSERT_EQ(a1.run_id(), run_id);
  ASSERT_EQ(a1.jobs_size(), 1);
  ASSERT_TRUE(a1.jobs(0).has_initialize_workflow());
  EXPECT_EQ(a1.jobs(0).initialize_workflow().workflow_type(), "Wf");
  EXPECT_NE(a1.jobs(0).initialize_workflow().randomness_seed(), 0u);
  EXPECT_FALSE(a1.is_replaying());
  ASSERT_TRUE(CompleteActivation(w, "wf-q", run_id, {TimerCmd(1, 100)}).ok());
  auto a2 = NextActivation(w, "wf-q");
  ASSERT_EQ(a2.jobs_size(), 1);
  ASSERT_TRUE(a2.jobs(0).has_fire_timer()) << a2.DebugString();
  EXPECT_EQ(a2.jobs(0).fire_timer().seq(), 1u);
  ASSERT_TRUE(CompleteActivation(w, "wf-q", run_id, {CompleteCmd("\"done\"")}).ok());
  auto a3 = NextActivation(w, "wf-q");
  ASSERT_EQ(a3.jobs_size(), 1);
  ASSERT_TRUE(a3.jobs(0).has_remove_from_cache());
  EXPECT_EQ(a3.jobs(0).remove_from_cache().reason(),
            coresdk::workflow_activation::RemoveFromCache::WORKFLOW_EXECUTION_ENDING);
  ASSERT_TRUE(CompleteActivation(w, "wf-q", run_id, {}).ok());
  v1::Request await;
  await.mutable_await_result()->mutable_execution()->set_workflow_id("wf-timer");
  auto closed = w.Call(await, 30s);
  ASSERT_TRUE(closed.ok());
  ASSERT_EQ(closed->await_result().close_event().event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  EXPECT_EQ(closed->await_result().close_event().workflow_execution_completed_event_attributes().result().payloads(0).data(),
            "\"done\"");
  EXPECT_EQ(HistoryTypes("wf-timer"),
            (std::vector<enums::EventType>{
                enums::EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
                enums::EVENT_TYPE_WORKFLOW_TASK_STARTED, enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED,
                enums::EVENT_TYPE_TIMER_STARTED, enums::EVENT_TYPE_TIMER_FIRED,
                enums::EVENT_TYPE_WORKFLOW_TASK_SCHEDULED, enums::EVENT_TYPE_WORKFLOW_TASK_STARTED,
                enums::EVENT_TYPE_WORKFLOW_TASK_COMPLETED, enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED}));
}

TEST_F(BridgeHostTest, Workflow_ActivityResolvedThroughTheBridge) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("wfa-q"), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-act", "wfa-q");
  auto a1 = NextActivation(w, "wfa-q");
  coresdk::workflow_commands::WorkflowCommand sched;
  auto* sa = sched.mutable_schedule_activity();
  sa->set_seq(1);
  sa->set_activity_id("1");
  sa->set_activity_type("Greet");
  sa->mutable_start_to_close_timeout()->set_seconds(10);
  ASSERT_TRUE(CompleteActivation(w, "wfa-q", run_id, {sched}).ok());
  auto task = w.Call(PollActivity("wfa-q"), 30s);
  ASSERT_TRUE(task.ok());
  v1::Request complete;
  auto* cc = complete.mutable_complete_activity_task();
  cc->set_task_queue("wfa-q");
  cc->mutable_completion()->set_task_token(task->poll_activity_task().task().task_token());
  cc->mutable_completion()->mutable_result()->mutable_completed()->mutable_result()->set_data("\"hi\"");
  ASSERT_TRUE(w.Call(complete, 10s).ok());
  auto a2 = NextActivation(w, "wfa-q");
  ASSERT_EQ(a2.jobs_size(), 1);
  ASSERT_TRUE(a2.jobs(0).has_resolve_activity());
  EXPECT_EQ(a2.jobs(0).resolve_activity().seq(), 1u);
  EXPECT_EQ(a2.jobs(0).resolve_activity().result().completed().result().data(), "\"hi\"");
  ASSERT_TRUE(CompleteActivation(w, "wfa-q", run_id, {CompleteCmd("\"hi\"")}).ok());
  EXPECT_TRUE(NextActivation(w, "wfa-q").jobs(0).has_remove_from_cache());
}

TEST_F(BridgeHostTest, Workflow_QueryIsAnsweredByTheWorkflowCode) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("wfq-q"), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-query", "wfq-q");
  NextActivation(w, "wfq-q");
  ASSERT_TRUE(CompleteActivation(w, "wfq-q", run_id, {TimerCmd(1, 600000)}).ok());
  std::optional<ipc::Result<v1::Response>> answer;
  std::thread client([&] {
    auto c = Connect(v1::ROLE_CLIENT);
    v1::Request q;
    auto* qr = q.mutable_query_workflow()->mutable_request();
    qr->mutable_execution()->set_workflow_id("wf-query");
    qr->mutable_query()->set_query_type("state");
    answer = c.Call(q, 30s);
  });
  auto a = NextActivation(w, "wfq-q");
  ASSERT_EQ(a.jobs_size(), 1);
  ASSERT_TRUE(a.jobs(0).has_query_workflow()) << a.DebugString();
  EXPECT_EQ(a.jobs(0).query_workflow().query_type(), "state");
  coresdk::workflow_commands::WorkflowCommand reply;
  reply.mutable_respond_to_query()->set_query_id(a.jobs(0).query_workflow().query_id());
  reply.mutable_respond_to_query()->mutable_succeeded()->mutable_response()->set_data("\"waiting\"");
  ASSERT_TRUE(CompleteActivation(w, "wfq-q", run_id, {reply}).ok());
  client.join();
  ASSERT_TRUE(answer.has_value());
  ASSERT_TRUE(answer->ok()) << ipc::Describe(answer->error());
  EXPECT_EQ((*answer)->query_workflow().response().query_result().payloads(0).data(), "\"waiting\"");
}

TEST_F(BridgeHostTest, Workflow_WithoutCacheEveryTaskReplaysTheFullHistory) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(RegisterWith("nocache-q", 0), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-nocache", "nocache-q");
  NextActivation(w, "nocache-q");
  ASSERT_TRUE(CompleteActivation(w, "nocache-q", run_id, {TimerCmd(1, 100)}).ok());
  auto evict = NextActivation(w, "nocache-q");
  ASSERT_TRUE(evict.jobs(0).has_remove_from_cache());
  EXPECT_EQ(evict.jobs(0).remove_from_cache().reason(), coresdk::workflow_activation::RemoveFromCache::CACHE_FULL);
  ASSERT_TRUE(CompleteActivation(w, "nocache-q", run_id, {}).ok());
  auto replay = NextActivation(w, "nocache-q");
  ASSERT_TRUE(replay.jobs(0).has_initialize_workflow());
  EXPECT_TRUE(replay.is_replaying());
  ASSERT_TRUE(CompleteActivation(w, "nocache-q", run_id, {TimerCmd(1, 100)}).ok());
  auto fired = NextActivation(w, "nocache-q");
  ASSERT_TRUE(fired.jobs(0).has_fire_timer());
  EXPECT_FALSE(fired.is_replaying());
  ASSERT_TRUE(CompleteActivation(w, "nocache-q", run_id, {CompleteCmd("1")}).ok());
  EXPECT_TRUE(NextActivation(w, "nocache-q").jobs(0).has_remove_from_cache());
}

TEST_F(BridgeHostTest, Workflow_NondeterminismFailsTheTaskAndEvicts) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(RegisterWith("nde-q", 0), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-nde", "nde-q");
  NextActivation(w, "nde-q");
  ASSERT_TRUE(CompleteActivation(w, "nde-q", run_id, {TimerCmd(1, 100)}).ok());
  NextActivation(w, "nde-q");  // the CACHE_FULL eviction
  ASSERT_TRUE(CompleteActivation(w, "nde-q", run_id, {}).ok());
  NextActivation(w, "nde-q");  // replay: InitializeWorkflow
  coresdk::workflow_commands::WorkflowCommand other;
  other.mutable_schedule_activity()->set_seq(1);
  other.mutable_schedule_activity()->set_activity_id("1");
  other.mutable_schedule_activity()->set_activity_type("Changed");
  other.mutable_schedule_activity()->mutable_start_to_close_timeout()->set_seconds(5);
  ASSERT_TRUE(CompleteActivation(w, "nde-q", run_id, {other}).ok());
  auto evict = NextActivation(w, "nde-q");
  ASSERT_TRUE(evict.jobs(0).has_remove_from_cache());
  EXPECT_EQ(evict.jobs(0).remove_from_cache().reason(), coresdk::workflow_activation::RemoveFromCache::NONDETERMINISM);
  ASSERT_TRUE(CompleteActivation(w, "nde-q", run_id, {}).ok());
  const auto types = HistoryTypes("wf-nde");
  EXPECT_NE(std::find(types.begin(), types.end(), enums::EVENT_TYPE_WORKFLOW_TASK_FAILED), types.end());
}

TEST_F(BridgeHostTest, Workflow_MalformedCompletionsGetTypedErrors) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("bad-q"), 10s).ok());
  auto unknown = CompleteActivation(w, "bad-q", "no-such-run", {});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);
  const std::string run_id = StartViaBridge(w, "wf-bad", "bad-q");
  NextActivation(w, "bad-q");
  v1::Request r;
  r.mutable_complete_workflow_activation()->set_task_queue("bad-q");
  r.mutable_complete_workflow_activation()->mutable_completion()->set_run_id(run_id);
  auto empty = w.Call(r, 10s);
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.error().kind(), v1::ERROR_KIND_INVALID_ARGUMENT);
  // The run is evicted (its task times out on the server and is redelivered).
  EXPECT_TRUE(NextActivation(w, "bad-q").jobs(0).has_remove_from_cache());
  v1::Request ping;
  ping.mutable_ping();
  EXPECT_TRUE(w.Call(ping, 5s).ok());
}

TEST_F(BridgeHostTest, Replayer_VerdictPerHistoryOkAndNondeterministic) {
  auto c = Connect(v1::ROLE_REPLAYER);
  v1::Request create;
  create.mutable_replayer_new();
  auto created = c.Call(create, 10s);
  ASSERT_TRUE(created.ok());
  const uint64_t id = created->replayer_new().replayer_id();
  std::ifstream in(std::string(HOURGLASS_HISTORIES_DIR) + "/timer_workflow_history.bin", std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  temporal::api::history::v1::History history;
  ASSERT_TRUE(history.ParseFromString(bytes.str()));
  for (const char* wf : {"good", "bad"}) {
    v1::Request push;
    push.mutable_replayer_push_history()->set_replayer_id(id);
    push.mutable_replayer_push_history()->set_workflow_id(wf);
    *push.mutable_replayer_push_history()->mutable_history() = history;
    ASSERT_TRUE(c.Call(push, 10s).ok());
  }
  v1::Request close;
  close.mutable_replayer_close_feeder()->set_replayer_id(id);
  ASSERT_TRUE(c.Call(close, 10s).ok());
  std::vector<v1::ReplayVerdict> verdicts;
  for (int guard = 0; guard < 50; ++guard) {
    v1::Request poll;
    poll.mutable_replayer_poll_activation()->set_replayer_id(id);
    auto r = c.Call(poll, 10s);
    if (!r.ok()) {
      EXPECT_EQ(r.error().kind(), v1::ERROR_KIND_SHUTDOWN);
      break;
    }
    const auto& item = r->replayer_poll_activation();
    if (item.has_verdict()) {
      verdicts.push_back(item.verdict());
      continue;
    }
    const auto& a = item.activation();
    v1::Request complete;
    complete.mutable_replayer_complete_activation()->set_replayer_id(id);
    auto* comp = complete.mutable_replayer_complete_activation()->mutable_completion();
    comp->set_run_id(a.run_id());
    auto* ok = comp->mutable_successful();
    const bool good = verdicts.empty();
    for (const auto& job : a.jobs()) {
      if (job.has_initialize_workflow()) {
        if (good) {
          *ok->add_commands() = TimerCmd(0, 1000);
        } else {
          auto* s = ok->add_commands()->mutable_schedule_activity();
          s->set_seq(0);
          s->set_activity_id("0");
          s->set_activity_type("x");
        }
      }
      if (job.has_fire_timer()) *ok->add_commands() = CompleteCmd("1");
    }
    ASSERT_TRUE(c.Call(complete, 10s).ok());
  }
  ASSERT_EQ(verdicts.size(), 2u);
  EXPECT_EQ(verdicts[0].workflow_id(), "good");
  EXPECT_TRUE(verdicts[0].ok()) << verdicts[0].message();
  EXPECT_EQ(verdicts[1].workflow_id(), "bad");
  EXPECT_FALSE(verdicts[1].ok());
  EXPECT_EQ(verdicts[1].failure_cause(), "nondeterminism");
}

TEST_F(BridgeHostTest, Workflow_ConsumerDeathEvictsTheRunWhichReplaysOnTheNextTask) {
  auto owner = Connect();
  ASSERT_TRUE(owner.Call(Register("orphan-q"), 10s).ok());
  const std::string run_id = StartViaBridge(owner, "wf-orphan", "orphan-q");
  {
    auto consumer = Connect();
    auto a = NextActivation(consumer, "orphan-q");
    ASSERT_TRUE(a.jobs(0).has_initialize_workflow());
  }  // the consumer dies holding the activation
  auto evict = NextActivation(owner, "orphan-q");
  ASSERT_EQ(evict.run_id(), run_id);
  ASSERT_TRUE(evict.jobs(0).has_remove_from_cache()) << evict.DebugString();
  ASSERT_TRUE(CompleteActivation(owner, "orphan-q", run_id, {}).ok());
  // The started workflow task times out on the server (10 s) and comes back.
  auto again = NextActivation(owner, "orphan-q");
  ASSERT_TRUE(again.jobs(0).has_initialize_workflow()) << again.DebugString();
  ASSERT_TRUE(CompleteActivation(owner, "orphan-q", run_id, {CompleteCmd("1")}).ok());
  EXPECT_TRUE(NextActivation(owner, "orphan-q").jobs(0).has_remove_from_cache());
}

TEST_F(BridgeHostTest, Workflow_SignalThenCancelRequest) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("sigcan-q"), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-sigcan", "sigcan-q");
  NextActivation(w, "sigcan-q");
  ASSERT_TRUE(CompleteActivation(w, "sigcan-q", run_id, {TimerCmd(1, 3600000)}).ok());
  v1::Request signal;
  auto* sig = signal.mutable_signal_workflow()->mutable_request();
  sig->mutable_workflow_execution()->set_workflow_id("wf-sigcan");
  sig->set_signal_name("poke");
  sig->mutable_input()->add_payloads()->set_data("7");
  ASSERT_TRUE(w.Call(signal, 10s).ok());
  auto a = NextActivation(w, "sigcan-q");
  ASSERT_TRUE(a.jobs(0).has_signal_workflow()) << a.DebugString();
  EXPECT_EQ(a.jobs(0).signal_workflow().signal_name(), "poke");
  EXPECT_EQ(a.jobs(0).signal_workflow().input(0).data(), "7");
  ASSERT_TRUE(CompleteActivation(w, "sigcan-q", run_id, {}).ok());
  v1::Request cancel;
  cancel.mutable_cancel_workflow()->mutable_request()->mutable_workflow_execution()->set_workflow_id("wf-sigcan");
  ASSERT_TRUE(w.Call(cancel, 10s).ok());
  auto c = NextActivation(w, "sigcan-q");
  ASSERT_TRUE(c.jobs(0).has_cancel_workflow()) << c.DebugString();
  coresdk::workflow_commands::WorkflowCommand cancel_timer;
  cancel_timer.mutable_cancel_timer()->set_seq(1);
  coresdk::workflow_commands::WorkflowCommand done;
  done.mutable_cancel_workflow_execution();
  ASSERT_TRUE(CompleteActivation(w, "sigcan-q", run_id, {cancel_timer, done}).ok());
  EXPECT_TRUE(NextActivation(w, "sigcan-q").jobs(0).has_remove_from_cache());
  ASSERT_TRUE(CompleteActivation(w, "sigcan-q", run_id, {}).ok());
  const auto types = HistoryTypes("wf-sigcan");
  ASSERT_GE(types.size(), 2u);
  EXPECT_EQ(types[types.size() - 2], enums::EVENT_TYPE_TIMER_CANCELED);
  EXPECT_EQ(types.back(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED);
}

TEST_F(BridgeHostTest, Workflow_ChildWorkflowStartsAndResolves) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("child-q"), 10s).ok());
  const std::string parent_run = StartViaBridge(w, "wf-parent", "child-q");
  NextActivation(w, "child-q");
  coresdk::workflow_commands::WorkflowCommand start_child;
  auto* sc = start_child.mutable_start_child_workflow_execution();
  sc->set_seq(1);
  sc->set_workflow_id("wf-child");
  sc->set_workflow_type("Child");
  ASSERT_TRUE(CompleteActivation(w, "child-q", parent_run, {start_child}).ok());
  bool child_started = false, child_resolved = false, parent_done = false;
  for (int i = 0; i < 20 && !parent_done; ++i) {
    auto a = NextActivation(w, "child-q");
    std::vector<coresdk::workflow_commands::WorkflowCommand> cmds;
    for (const auto& job : a.jobs()) {
      if (job.has_initialize_workflow()) {
        EXPECT_EQ(job.initialize_workflow().workflow_type(), "Child");
        EXPECT_EQ(job.initialize_workflow().parent_workflow_info().workflow_id(), "wf-parent");
        cmds.push_back(CompleteCmd("\"from child\""));
      }
      if (job.has_resolve_child_workflow_execution_start()) {
        EXPECT_TRUE(job.resolve_child_workflow_execution_start().has_succeeded());
        child_started = true;
      }
      if (job.has_resolve_child_workflow_execution()) {
        EXPECT_EQ(job.resolve_child_workflow_execution().result().completed().result().data(), "\"from child\"");
        child_resolved = true;
        cmds.push_back(CompleteCmd("\"parent done\""));
      }
      if (job.has_remove_from_cache() && a.run_id() == parent_run) parent_done = true;
    }
    ASSERT_TRUE(CompleteActivation(w, "child-q", a.run_id(), cmds).ok());
  }
  EXPECT_TRUE(child_started);
  EXPECT_TRUE(child_resolved);
  EXPECT_TRUE(parent_done);
}

TEST_F(BridgeHostTest, Workflow_ContinueAsNewAndAwaitFollowsTheChain) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("can-q"), 10s).ok());
  const std::string first_run = StartViaBridge(w, "wf-can", "can-q");
  auto a = NextActivation(w, "can-q");
  ASSERT_TRUE(a.jobs(0).has_initialize_workflow());
  coresdk::workflow_commands::WorkflowCommand can;
  can.mutable_continue_as_new_workflow_execution()->add_arguments()->set_data("2");
  ASSERT_TRUE(CompleteActivation(w, "can-q", first_run, {can}).ok());
  std::string second_run;
  for (int i = 0; i < 6 && second_run.empty(); ++i) {
    auto next = NextActivation(w, "can-q");
    if (next.run_id() != first_run && next.jobs(0).has_initialize_workflow()) {
      EXPECT_EQ(next.jobs(0).initialize_workflow().continued_from_execution_run_id(), first_run);
      EXPECT_EQ(next.jobs(0).initialize_workflow().arguments(0).data(), "2");
      second_run = next.run_id();
      ASSERT_TRUE(CompleteActivation(w, "can-q", second_run, {CompleteCmd("\"end\"")}).ok());
    } else {
      ASSERT_TRUE(CompleteActivation(w, "can-q", next.run_id(), {}).ok());
    }
  }
  ASSERT_FALSE(second_run.empty());
  v1::Request await;
  await.mutable_await_result()->mutable_execution()->set_workflow_id("wf-can");
  await.mutable_await_result()->mutable_execution()->set_run_id(first_run);
  await.mutable_await_result()->set_follow_runs(true);
  auto closed = w.Call(await, 30s);
  ASSERT_TRUE(closed.ok()) << ipc::Describe(closed.error());
  EXPECT_EQ(closed->await_result().run_id(), second_run);
  EXPECT_EQ(closed->await_result().close_event().event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
}

TEST_F(BridgeHostTest, Holder_LongPollsOnManyQueuesParkInParallel) {
  constexpr int kQueues = 8;
  auto owner = Connect();
  for (int i = 0; i < kQueues; ++i) ASSERT_TRUE(owner.Call(Register("par-" + std::to_string(i)), 10s).ok());
  // Every queue's activity poll parks at once; none blocks another.
  std::vector<std::thread> pollers;
  std::atomic<int> served{0};
  for (int i = 0; i < kQueues; ++i) {
    pollers.emplace_back([&, i] {
      auto c = Connect();
      auto r = c.Call(PollActivity("par-" + std::to_string(i)), 30s);
      if (r.ok() && r->poll_activity_task().task().has_start()) ++served;
    });
  }
  // Meanwhile the loop answers other requests without delay.
  v1::Request ping;
  ping.mutable_ping();
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(owner.Call(ping, 5s).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
  for (int i = kQueues - 1; i >= 0; --i) {
    StartWorkflowWithActivity("par-wf-" + std::to_string(i), "par-" + std::to_string(i));
  }
  for (auto& t : pollers) t.join();
  EXPECT_EQ(served.load(), kQueues);
}

TEST_F(BridgeHostTest, Activity_WillCompleteAsyncThenCompletedByTokenThroughTheClient) {
  auto worker = Connect();
  ASSERT_TRUE(worker.Call(Register("async-q"), 10s).ok());
  StartWorkflowWithActivity("async-wf", "async-q");
  auto task = worker.Call(PollActivity("async-q"), 30s);
  ASSERT_TRUE(task.ok());
  const std::string token = task->poll_activity_task().task().task_token();
  v1::Request later;
  auto* cc = later.mutable_complete_activity_task();
  cc->set_task_queue("async-q");
  cc->mutable_completion()->set_task_token(token);
  cc->mutable_completion()->mutable_result()->mutable_will_complete_async();
  ASSERT_TRUE(worker.Call(later, 10s).ok());
  EXPECT_EQ(HistoryTypes("async-wf").size(), 5u) << "nothing recorded yet";
  auto client = Connect(v1::ROLE_CLIENT);
  v1::Request done;
  done.mutable_complete_activity_async()->set_task_token(token);
  done.mutable_complete_activity_async()->mutable_completion()->mutable_result()->mutable_completed()
      ->mutable_result()->set_data("\"async\"");
  ASSERT_TRUE(client.Call(done, 10s).ok());
  const auto types = HistoryTypes("async-wf");
  ASSERT_GE(types.size(), 7u);
  EXPECT_EQ(types[6], enums::EVENT_TYPE_ACTIVITY_TASK_COMPLETED);
}

TEST_F(BridgeHostTest, Client_UnreachableTemporalIsATypedErrorWithinTheDeadline) {
  // A second bridge host pointed at a port nobody listens on.
  auto pair = ipc::MakeSocketPair();
  ASSERT_TRUE(pair.ok());
  ipc::UniqueFd control = std::move(pair->first);
  ipc::UniqueFd child_end = std::move(pair->second);
  auto p = ChildProcess::Spawn({{testing::BinDir() + "/hourglass-bridgehost", "--target", "127.0.0.1:1",
                                 "--runtime-dir", runtime_dir_.path() + "/run2", "--control-fd", "3", "--log-level",
                                 "error"},
                                {{3, child_end.get()}},
                                false,
                                runtime_dir_.path() + "/bridgehost2.log"});
  ASSERT_TRUE(p.has_value());
  child_end.Reset();
  ipc::ClientOptions o;
  o.socket_path = runtime_dir_.path() + "/run2/bridge.sock";
  o.hello.set_role(v1::ROLE_CLIENT);
  std::optional<ipc::BlockingClient> c;
  for (const auto deadline = std::chrono::steady_clock::now() + 10s; !c && std::chrono::steady_clock::now() < deadline;) {
    auto r = ipc::BlockingClient::Connect(o, 1s);
    if (r.ok()) c.emplace(std::move(r).value());
  }
  ASSERT_TRUE(c.has_value());
  v1::Request describe;
  describe.mutable_describe_namespace()->mutable_request()->set_namespace_("default");
  describe.set_timeout_ms(1500);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = c->Call(describe, 5s);
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().kind() == v1::ERROR_KIND_UNAVAILABLE || r.error().kind() == v1::ERROR_KIND_DEADLINE_EXCEEDED)
      << ipc::Describe(r.error());
  EXPECT_LT(took, 4s) << "retries stop at the request's deadline";
  p->Stop();
}

TEST_F(BridgeHostTest, Workflow_ActivationAnsweredAfterUnregisterStillReachesTheServer) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("drain-q"), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-drain", "drain-q");
  ASSERT_TRUE(NextActivation(w, "drain-q").jobs(0).has_initialize_workflow());
  v1::Request unregister;
  unregister.mutable_unregister_worker()->set_task_queue("drain-q");
  ASSERT_TRUE(w.Call(unregister, 10s).ok());
  // The activation handed out before the unregister is still answered...
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(CompleteActivation(w, "drain-q", run_id, {CompleteCmd("\"drained\"")}).ok());
  // ...and its commands reach the server, well before a workflow-task timeout.
  v1::Request await;
  await.mutable_await_result()->mutable_execution()->set_workflow_id("wf-drain");
  auto closed = w.Call(await, 30s);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(closed->await_result().close_event().event_type(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  // New polls on the queue are refused: it is no longer registered.
  auto poll = w.Call(PollWorkflow("drain-q"), 5s);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.error().kind(), v1::ERROR_KIND_WORKER_NOT_REGISTERED);
}

TEST_F(BridgeHostTest, Workflow_UnknownSeqAndDoubleTerminalAreHandledTheBridgeLivesOn) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("seq-q"), 10s).ok());
  const std::string run_id = StartViaBridge(w, "wf-seq", "seq-q");
  NextActivation(w, "seq-q");
  coresdk::workflow_commands::WorkflowCommand unknown;
  unknown.mutable_request_cancel_activity()->set_seq(99);  // never scheduled
  ASSERT_TRUE(CompleteActivation(w, "seq-q", run_id, {unknown}).ok());
  auto evict = NextActivation(w, "seq-q");
  ASSERT_TRUE(evict.jobs(0).has_remove_from_cache()) << evict.DebugString();
  EXPECT_EQ(evict.jobs(0).remove_from_cache().reason(), coresdk::workflow_activation::RemoveFromCache::FATAL);
  ASSERT_TRUE(CompleteActivation(w, "seq-q", run_id, {}).ok());
  const auto types = HistoryTypes("wf-seq");
  EXPECT_NE(std::find(types.begin(), types.end(), enums::EVENT_TYPE_WORKFLOW_TASK_FAILED), types.end())
      << "reported on attempt 1";
  // The retried task (after the server's schedule) is new work again; two
  // terminal commands: the first wins, the second is dropped.
  auto retry = NextActivation(w, "seq-q");
  ASSERT_TRUE(retry.jobs(0).has_initialize_workflow()) << retry.DebugString();
  coresdk::workflow_commands::WorkflowCommand fail;
  fail.mutable_fail_workflow_execution()->mutable_failure()->set_message("second");
  ASSERT_TRUE(CompleteActivation(w, "seq-q", run_id, {CompleteCmd("\"first\""), fail}).ok());
  EXPECT_TRUE(NextActivation(w, "seq-q").jobs(0).has_remove_from_cache());
  EXPECT_EQ(HistoryTypes("wf-seq").back(), enums::EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED);
}

TEST_F(BridgeHostTest, Workflow_LongHistoryIsFetchedPageByPage) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("pages-q"), 10s).ok());
  // Nobody polls yet: 300 signals land between the first task's scheduled
  // and started events, so that task's history is longer than the 256
  // events a poll response carries; the rest comes from GetWorkflowExecutionHistory.
  const std::string run_id = StartViaBridge(w, "wf-pages", "pages-q");
  constexpr int kSignals = 300;
  for (int i = 0; i < kSignals; ++i) {
    wsv::SignalWorkflowExecutionRequest sig;
    sig.set_namespace_("default");
    sig.mutable_workflow_execution()->set_workflow_id("wf-pages");
    sig.set_signal_name("s" + std::to_string(i));
    wsv::SignalWorkflowExecutionResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(g_server->stub().SignalWorkflowExecution(&ctx, sig, &resp).ok());
  }
  auto first = NextActivation(w, "pages-q");
  ASSERT_EQ(first.run_id(), run_id);
  int count = 0;
  for (const auto& job : first.jobs()) count += job.has_signal_workflow() ? 1 : 0;
  EXPECT_TRUE(first.jobs(0).has_initialize_workflow());
  EXPECT_EQ(count, kSignals);
  EXPECT_EQ(first.jobs(1).signal_workflow().signal_name(), "s0") << "in arrival order";
  EXPECT_EQ(first.history_length(), static_cast<uint32_t>(kSignals + 3));
  ASSERT_TRUE(CompleteActivation(w, "pages-q", run_id, {CompleteCmd("1")}).ok());
}

TEST_F(BridgeHostTest, Holder_WorkflowCompletionsApplyInOrderAndHeartbeatsDoNotWait) {
  auto w = Connect();
  ASSERT_TRUE(w.Call(Register("fifo-q"), 10s).ok());
  const std::string run_a = StartViaBridge(w, "wf-fifo-a", "fifo-q");
  const std::string run_b = StartViaBridge(w, "wf-fifo-b", "fifo-q");
  NextActivation(w, "fifo-q");
  NextActivation(w, "fifo-q");
  // Two workflow completions and a heartbeat, pipelined in one write.
  auto completion = [&](uint64_t id, const std::string& run) {
    v1::Envelope env;
    env.set_request_id(id);
    auto* cc = env.mutable_request()->mutable_complete_workflow_activation();
    cc->set_task_queue("fifo-q");
    cc->mutable_completion()->set_run_id(run);
    *cc->mutable_completion()->mutable_successful()->add_commands() = TimerCmd(1, 3600000);
    return *ipc::EncodeMessageFrame(env, 1 << 20);
  };
  v1::Envelope hb;
  hb.set_request_id(3);
  hb.mutable_request()->mutable_record_activity_heartbeat()->set_task_queue("fifo-q");
  hb.mutable_request()->mutable_record_activity_heartbeat()->mutable_heartbeat()->set_task_token("none");
  ASSERT_TRUE(w.SendRaw(completion(1, run_a) + completion(2, run_b) + *ipc::EncodeMessageFrame(hb, 1 << 20), 5s).ok());
  std::vector<uint64_t> order;
  while (order.size() < 3) {
    auto env = w.ReadEnvelope(10s);
    ASSERT_TRUE(env.ok());
    if (!env->has_response()) continue;
    EXPECT_FALSE(env->response().has_error()) << env->response().DebugString();
    order.push_back(env->request_id());
  }
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 2, 3})) << "completions apply in arrival order";
  // Both timers reach the server (the answer to it follows the IPC reply).
  for (const char* id : {"wf-fifo-a", "wf-fifo-b"}) {
    bool started = false;
    for (const auto deadline = std::chrono::steady_clock::now() + 10s;
         !started && std::chrono::steady_clock::now() < deadline;) {
      const auto types = HistoryTypes(id);
      started = std::find(types.begin(), types.end(), enums::EVENT_TYPE_TIMER_STARTED) != types.end();
    }
    EXPECT_TRUE(started) << id;
  }
}

}  // namespace
}  // namespace hourglass
