#include "bridgehost/holder.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "bridgehost/grpc_errors.h"
#include "ipc/envelope.h"
#include "ipc/failpoint.h"

namespace hourglass::bridgehost {

namespace v1 = ::hourglass::ipc::v1;
using Async = wsv::WorkflowService::StubInterface::async_interface;

// How long a late task waits for its queue to register again.
constexpr std::chrono::milliseconds kOrphanedTaskGrace{2000};

Holder::Holder(Runtime& runtime)
    : runtime_(runtime), client_(runtime), orphaned_(runtime, kOrphanedTaskGrace) {}

Holder::~Holder() {
  *alive_ = false;
  ShutdownAll();
}

std::optional<ipc::Error> Holder::OnHello(ipc::Connection& connection, const v1::Hello& hello) {
  if (!v1::Role_IsValid(hello.role()) || hello.role() == v1::ROLE_UNSPECIFIED) {
    return ipc::MakeError(v1::ERROR_KIND_PROTOCOL, "Hello.role must be set to a known role");
  }
  spdlog::debug("bridgehost: conn {} is {} pid {} {}", connection.id(), v1::Role_Name(hello.role()),
                connection.peer().pid, hello.task_queue());
  return std::nullopt;
}

Holder::Handle* Holder::Find(const std::string& task_queue) {
  auto it = handles_.find(task_queue);
  return it == handles_.end() ? nullptr : &it->second;
}

std::vector<std::string> Holder::registered_queues() const {
  std::vector<std::string> out;
  for (const auto& [q, h] : handles_) out.push_back(q);
  return out;
}

size_t Holder::parked_polls() const {
  size_t n = 0;
  for (const auto& [q, h] : handles_) {
    n += h.activities ? h.activities->parked_polls() : 0;
    n += h.workflows ? h.workflows->parked_polls() : 0;
  }
  return n;
}

void Holder::ReplyRuntimeInfo(ipc::Responder& responder) {
  v1::Response out;
  auto* info = out.mutable_runtime_info();
  info->set_bridge_epoch(runtime_.epoch());
  info->set_bridge_pid(static_cast<int32_t>(::getpid()));
  info->set_target(runtime_.options().target);
  info->set_namespace_(runtime_.options().namespace_name);
  info->set_connected(runtime_.connected());
  for (const auto& q : registered_queues()) info->add_registered_task_queues(q);
  if (connection_count_) info->set_open_connections(static_cast<uint32_t>(connection_count_()));
  info->set_server_version(runtime_.system_info().server_version());
  responder.Reply(std::move(out));
}

void Holder::OnRequest(ipc::Connection& connection, v1::Request request, ipc::Responder responder) {
  auto not_registered = [&](const std::string& q) {
    responder.ReplyError(ipc::MakeError(
        v1::ERROR_KIND_WORKER_NOT_REGISTERED,
        "no worker is registered for task queue \"" + q + "\"" +
            (pending_registrations_.contains(q) ? " (registration in flight)" : "")));
  };
  switch (request.kind_case()) {
    case v1::Request::kPing: {
      v1::Response out;
      out.mutable_ping()->set_payload(request.ping().payload());
      responder.Reply(std::move(out));
      return;
    }
    case v1::Request::kRuntimeInfo:
      ReplyRuntimeInfo(responder);
      return;
    case v1::Request::kRegisterWorker:
      Register(connection, *request.mutable_register_worker(), std::move(responder));
      return;
    case v1::Request::kUnregisterWorker: {
      const bool was = handles_.contains(request.unregister_worker().task_queue());
      Unregister(request.unregister_worker().task_queue(), "unregistered by its worker");
      // Fault point: the handle is gone and its Core workers are shutting
      // down; the worker has not been told. "error" answers it INTERNAL.
      if (HOURGLASS_FAILPOINT("bridgehost.unregister_worker.before_reply")) {
        responder.ReplyError(
            ipc::MakeError(v1::ERROR_KIND_INTERNAL,
                           failpoint::ErrorMessage("bridgehost.unregister_worker.before_reply")));
        return;
      }
      v1::Response out;
      out.mutable_unregister_worker()->set_was_registered(was);
      responder.Reply(std::move(out));
      return;
    }
    case v1::Request::kIsRegistered: {
      const auto& q = request.is_registered().task_queue();
      v1::Response out;
      out.mutable_is_registered()->set_registered(handles_.contains(q));
      out.mutable_is_registered()->set_pending(pending_registrations_.contains(q));
      responder.Reply(std::move(out));
      return;
    }
    case v1::Request::kPollActivityTask: {
      Handle* h = Find(request.poll_activity_task().task_queue());
      if (h == nullptr) return not_registered(request.poll_activity_task().task_queue());
      if (h->options.no_remote_activities()) {
        responder.ReplyError(ipc::MakeError(
            v1::ERROR_KIND_SHUTDOWN, "this worker was registered with no_remote_activities"));
        return;
      }
      h->activities->Poll(std::move(responder));
      return;
    }
    case v1::Request::kCompleteActivityTask: {
      Handle* h = Find(request.complete_activity_task().task_queue());
      if (h != nullptr) {
        h->activities->Complete(request.complete_activity_task().completion(),
                                std::move(responder));
        return;
      }
      // The handle is gone (unregistered, or this is a new bridge epoch) but
      // the task token is still the server's: complete by token, lose nothing.
      v1::CompleteActivityAsyncRequest by_token;
      by_token.set_task_token(request.complete_activity_task().completion().task_token());
      *by_token.mutable_completion() = request.complete_activity_task().completion();
      v1::Request forwarded;
      forwarded.set_timeout_ms(request.timeout_ms());
      *forwarded.mutable_complete_activity_async() = std::move(by_token);
      if (!client_.Handle(forwarded, responder))
        not_registered(request.complete_activity_task().task_queue());
      return;
    }
    case v1::Request::kRecordActivityHeartbeat: {
      Handle* h = Find(request.record_activity_heartbeat().task_queue());
      if (h == nullptr) return not_registered(request.record_activity_heartbeat().task_queue());
      h->activities->Heartbeat(request.record_activity_heartbeat().heartbeat(),
                               std::move(responder));
      return;
    }
    case v1::Request::kPollWorkflowActivation: {
      Handle* h = Find(request.poll_workflow_activation().task_queue());
      if (h == nullptr) return not_registered(request.poll_workflow_activation().task_queue());
      if (h->options.no_workflows()) {
        responder.ReplyError(ipc::MakeError(v1::ERROR_KIND_SHUTDOWN,
                                            "this worker was registered with no_workflows"));
        return;
      }
      h->workflows->Poll(std::move(responder));
      return;
    }
    case v1::Request::kCompleteWorkflowActivation: {
      const auto& completion = request.complete_workflow_activation().completion();
      // A draining worker gets the answers to the activations it handed out,
      // and only those: the same run may meanwhile be held by the queue's new
      // worker (after its owner's crash the server's retry went there), and
      // that answer belongs to the new handle.
      for (auto& d : draining_) {
        if (d.task_queue == request.complete_workflow_activation().task_queue() &&
            d.workflows->AwaitsCompletion(completion.run_id(), connection.id())) {
          d.workflows->Complete(completion, std::move(responder));
          CheckDraining();
          return;
        }
      }
      Handle* h = Find(request.complete_workflow_activation().task_queue());
      if (h == nullptr) return not_registered(request.complete_workflow_activation().task_queue());
      h->workflows->Complete(request.complete_workflow_activation().completion(),
                             std::move(responder));
      return;
    }
    case v1::Request::kRequestWorkflowEviction: {
      Handle* h = Find(request.request_workflow_eviction().task_queue());
      if (h == nullptr) return not_registered(request.request_workflow_eviction().task_queue());
      h->workflows->RequestEviction(request.request_workflow_eviction().run_id(),
                                    request.request_workflow_eviction().reason());
      v1::Response out;
      out.mutable_request_workflow_eviction();
      responder.Reply(std::move(out));
      return;
    }
    case v1::Request::kReplayerNew:
    case v1::Request::kReplayerPushHistory:
    case v1::Request::kReplayerPollActivation:
    case v1::Request::kReplayerCompleteActivation:
    case v1::Request::kReplayerCloseFeeder:
      HandleReplayer(connection, request, std::move(responder));
      return;
    default:
      if (client_.Handle(request, responder)) return;
      responder.ReplyError(ipc::MakeError(
          v1::ERROR_KIND_PROTOCOL, "unknown request (" + ipc::RequestKindName(request) + ")"));
      return;
  }
}

void Holder::HandleReplayer(ipc::Connection& connection, v1::Request& request,
                            ipc::Responder responder) {
  if (request.has_replayer_new()) {
    const uint64_t id = next_replayer_id_++;
    replayers_[id] = std::make_unique<Replayer>(connection.id());
    v1::Response out;
    out.mutable_replayer_new()->set_replayer_id(id);
    responder.Reply(std::move(out));
    return;
  }
  uint64_t id = 0;
  switch (request.kind_case()) {
    case v1::Request::kReplayerPushHistory:
      id = request.replayer_push_history().replayer_id();
      break;
    case v1::Request::kReplayerPollActivation:
      id = request.replayer_poll_activation().replayer_id();
      break;
    case v1::Request::kReplayerCompleteActivation:
      id = request.replayer_complete_activation().replayer_id();
      break;
    default:
      id = request.replayer_close_feeder().replayer_id();
      break;
  }
  auto it = replayers_.find(id);
  if (it == replayers_.end()) {
    responder.ReplyError(
        ipc::MakeError(v1::ERROR_KIND_NOT_FOUND, "no replayer " + std::to_string(id)));
    return;
  }
  Replayer& r = *it->second;
  v1::Response out;
  switch (request.kind_case()) {
    case v1::Request::kReplayerPushHistory:
      r.Push(request.replayer_push_history().workflow_id(),
             std::move(*request.mutable_replayer_push_history()->mutable_history()));
      out.mutable_replayer_push_history();
      responder.Reply(std::move(out));
      return;
    case v1::Request::kReplayerPollActivation:
      r.Poll(std::move(responder));
      return;
    case v1::Request::kReplayerCompleteActivation:
      if (auto err = r.Complete(request.replayer_complete_activation().completion())) {
        responder.ReplyError(std::move(*err));
        return;
      }
      out.mutable_replayer_complete_activation();
      responder.Reply(std::move(out));
      return;
    default:
      r.CloseFeeder();
      out.mutable_replayer_close_feeder();
      responder.Reply(std::move(out));
      return;
  }
}

void Holder::Register(ipc::Connection& connection, v1::RegisterWorkerRequest& request,
                      ipc::Responder responder) {
  v1::WorkerOptions options = request.options();
  const std::string queue = options.task_queue();
  if (queue.empty()) {
    responder.ReplyError(
        ipc::MakeError(v1::ERROR_KIND_INVALID_ARGUMENT, "options.task_queue is not set"));
    return;
  }
  if (handles_.contains(queue) || pending_registrations_.contains(queue)) {
    responder.ReplyError(
        ipc::MakeError(v1::ERROR_KIND_ALREADY_REGISTERED,
                       "task queue \"" + queue + "\" is already " +
                           (handles_.contains(queue) ? "registered" : "being registered")));
    return;
  }
  if (options.namespace_().empty()) options.set_namespace_(runtime_.options().namespace_name);
  pending_registrations_.insert(queue);
  // Asynchronous: the namespace must exist before the handle does; the loop
  // keeps serving every other request meanwhile.
  wsv::DescribeNamespaceRequest describe;
  describe.set_namespace_(options.namespace_());
  AsyncMethod<wsv::DescribeNamespaceRequest, wsv::DescribeNamespaceResponse> m =
      &Async::DescribeNamespace;
  auto shared = std::make_shared<ipc::Responder>(std::move(responder));
  auto alive = alive_;
  const ipc::ConnectionId owner = connection.id();
  runtime_.Call(m, std::move(describe), CallOptions{},
                [this, alive, shared, options, queue, owner](grpc::Status st,
                                                             wsv::DescribeNamespaceResponse) {
                  if (!*alive) return;
                  if (pending_registrations_.erase(queue) == 0) return;
                  if (!st.ok()) {
                    shared->ReplyError(ToIpcError(st, "DescribeNamespace"));
                    return;
                  }
                  // (docs/fault-injection.md shows this region.)
                  // [START failpoint-call-site]
                  // Fault point: DescribeNamespace succeeded, the handle does
                  // not exist yet. "error" refuses the registration INTERNAL.
                  if (HOURGLASS_FAILPOINT("bridgehost.register_worker.before_reply")) {
                    shared->ReplyError(ipc::MakeError(
                        v1::ERROR_KIND_INTERNAL,
                        failpoint::ErrorMessage("bridgehost.register_worker.before_reply")));
                    return;
                  }
                  // [END failpoint-call-site]
                  if (!shared->Pending()) {
                    // The registering connection went away while we waited.
                    spdlog::info("bridgehost: registration of {} abandoned by its caller", queue);
                    return;
                  }
                  Handle& h = handles_[queue];
                  h.task_queue = queue;
                  h.options = options;
                  h.owner = owner;
                  h.activities = std::make_unique<ActivityWorker>(
                      runtime_, options.namespace_(), queue, options,
                      LateActivityTasks(queue, options.namespace_()));
                  h.workflows = std::make_unique<WorkflowWorker>(
                      runtime_, options.namespace_(), queue, options,
                      LateWorkflowTasks(queue, options.namespace_()));
                  spdlog::info("bridgehost: registered task queue {} (namespace {})", queue,
                               options.namespace_());
                  // Tasks a previous worker of this queue polled too late.
                  for (auto& task : orphaned_.Take(queue, options.namespace_()))
                    GiveLateTask(h, std::move(task));
                  v1::Response out;
                  out.mutable_register_worker()->set_bridge_epoch(runtime_.epoch());
                  shared->Reply(std::move(out));
                });
}

void Holder::GiveLateTask(Handle& handle, OrphanedTasks::Task task) {
  if (auto* wft = std::get_if<wsv::PollWorkflowTaskQueueResponse>(&task)) {
    handle.workflows->AcceptLateTask(std::move(*wft));
  } else {
    handle.activities->AcceptLateTask(
        std::get<wsv::PollActivityTaskQueueResponse>(std::move(task)));
  }
}

void Holder::RouteLateTask(const std::string& task_queue, const std::string& ns,
                           OrphanedTasks::Task task) {
  Handle* h = Find(task_queue);
  if (h != nullptr && h->options.namespace_() == ns) {
    spdlog::info("bridgehost: a task polled by a shut-down worker of {} goes to its current worker",
                 task_queue);
    GiveLateTask(*h, std::move(task));
    return;
  }
  orphaned_.Keep(task_queue, ns, std::move(task));
  if (shutting_down_) orphaned_.HandBackAll();  // no queue registers again
}

LateWorkflowTaskSink Holder::LateWorkflowTasks(const std::string& task_queue,
                                               const std::string& ns) {
  return [this, alive = alive_, task_queue, ns](wsv::PollWorkflowTaskQueueResponse task) {
    if (*alive) RouteLateTask(task_queue, ns, std::move(task));
  };
}

LateActivityTaskSink Holder::LateActivityTasks(const std::string& task_queue,
                                               const std::string& ns) {
  return [this, alive = alive_, task_queue, ns](wsv::PollActivityTaskQueueResponse task) {
    if (*alive) RouteLateTask(task_queue, ns, std::move(task));
  };
}

void Holder::Unregister(const std::string& task_queue, const char* why) {
  auto it = handles_.find(task_queue);
  if (it == handles_.end()) return;
  // Removed at once, so is_registered is false from now on; the Core worker
  // then shuts down, answering its parked polls SHUTDOWN.
  Handle handle = std::move(it->second);
  handles_.erase(it);
  spdlog::info("bridgehost: task queue {} {}", task_queue, why);
  if (handle.activities) handle.activities->Shutdown();
  if (handle.workflows) handle.workflows->Shutdown();
  // Activations already handed out may still be answered: keep the workflow
  // worker until they are (or the grace period ends), so their commands reach
  // the server instead of waiting out a workflow-task timeout.
  if (handle.workflows && !handle.workflows->Drained()) {
    const uint32_t grace = handle.options.graceful_shutdown_period_ms() > 0
                               ? handle.options.graceful_shutdown_period_ms()
                               : 5000;
    handle.drain_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace);
    draining_.push_back(std::move(handle));
    if (!drain_check_) {
      drain_check_ = runtime_.loop().AddPeriodicTimer(std::chrono::milliseconds(100),
                                                      [this] { CheckDraining(); });
    }
  }
}

void Holder::CheckDraining() {
  const auto now = std::chrono::steady_clock::now();
  std::erase_if(draining_,
                [&](const Handle& h) { return h.workflows->Drained() || now >= h.drain_deadline; });
  if (draining_.empty()) drain_check_.Reset();
}

void Holder::OnCancel(ipc::Connection& connection, uint64_t request_id) {
  for (auto& [q, h] : handles_) {
    if (h.activities) h.activities->CancelPoll(connection.id(), request_id);
    if (h.workflows) h.workflows->CancelPoll(connection.id(), request_id);
  }
}

void Holder::OnDisconnected(ipc::Connection& connection) {
  std::vector<std::string> owned;
  for (const auto& [q, h] : handles_) {
    if (h.owner == connection.id()) owned.push_back(q);
  }
  for (const auto& q : owned) Unregister(q, "unregistered: its owning connection closed");
  // Activations this connection held will never be answered, whether their
  // worker is still registered or draining (the queue it just left is now
  // draining): each such run is dropped, so a draining worker is done at once
  // instead of holding the run until its grace period ends.
  for (auto& [q, h] : handles_) {
    if (h.workflows) h.workflows->OnConnectionClosed(connection.id());
  }
  for (auto& d : draining_) d.workflows->OnConnectionClosed(connection.id());
  if (!draining_.empty()) CheckDraining();
  for (auto it = replayers_.begin(); it != replayers_.end();) {
    if (it->second->owner() == connection.id()) {
      it->second->Shutdown();
      it = replayers_.erase(it);
    } else {
      ++it;
    }
  }
}

void Holder::ShutdownAll() {
  shutting_down_ = true;
  std::vector<std::string> all = registered_queues();
  for (const auto& q : all) Unregister(q, "shut down with the bridge host");
  // No queue registers again here: another host's worker may take them.
  orphaned_.HandBackAll();
}

bool Holder::Drained() const { return draining_.empty(); }

}  // namespace hourglass::bridgehost
