#pragma once

// The BridgeHolder (seeds/002): owns every worker handle in the bridge host,
// keyed by task queue, and routes each IPC request to the Runtime, the client
// requests, or the handle it names. Runs on the bridge host's one loop thread;
// nothing here blocks it (registration and every RPC are asynchronous).
//
// Semantics kept from the Elixir holder:
// - register_worker is asynchronous (DescribeNamespace first); a second
//   registration of a queue, in flight or done, is refused ALREADY_REGISTERED;
// - unregister_worker removes the handle at once (is_registered turns false
//   immediately), and polls in flight on it are answered SHUTDOWN;
// - a handle belongs to the connection that registered it: when that
//   connection closes, the queue is unregistered.

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "bridgehost/activity_worker.h"
#include "bridgehost/client_requests.h"
#include "bridgehost/late_tasks.h"
#include "bridgehost/orphaned_tasks.h"
#include "bridgehost/replayer.h"
#include "bridgehost/runtime.h"
#include "bridgehost/workflow_worker.h"
#include "ipc/server.h"

namespace hourglass::bridgehost {

class Holder : public ipc::RequestHandler {
 public:
  explicit Holder(Runtime& runtime);
  ~Holder() override;

  std::optional<ipc::Error> OnHello(ipc::Connection& connection,
                                    const ipc::v1::Hello& hello) override;
  void OnRequest(ipc::Connection& connection, ipc::v1::Request request,
                 ipc::Responder responder) override;
  void OnCancel(ipc::Connection& connection, uint64_t request_id) override;
  void OnDisconnected(ipc::Connection& connection) override;

  // Shuts every handle down (SHUTDOWN to their polls).
  void ShutdownAll();
  // No unregistered handle is still owed completions.
  bool Drained() const;

  std::vector<std::string> registered_queues() const;
  size_t parked_polls() const;
  void set_connection_count(std::function<size_t()> fn) { connection_count_ = std::move(fn); }

 private:
  struct Handle {
    std::string task_queue;
    ipc::v1::WorkerOptions options;
    ipc::ConnectionId owner = 0;
    std::unique_ptr<ActivityWorker> activities;
    std::unique_ptr<WorkflowWorker> workflows;
    std::chrono::steady_clock::time_point drain_deadline;
  };

  void Register(ipc::Connection& connection, ipc::v1::RegisterWorkerRequest& request,
                ipc::Responder responder);
  void Unregister(const std::string& task_queue, const char* why);
  // Where a shut-down worker's late tasks go: the queue's current handle,
  // else kept a moment for the queue's next registration (orphaned_tasks.h).
  LateWorkflowTaskSink LateWorkflowTasks(const std::string& task_queue, const std::string& ns);
  LateActivityTaskSink LateActivityTasks(const std::string& task_queue, const std::string& ns);
  void RouteLateTask(const std::string& task_queue, const std::string& ns,
                     OrphanedTasks::Task task);
  // To the handle's workflow or activity worker, by the task's kind.
  void GiveLateTask(Handle& handle, OrphanedTasks::Task task);
  Handle* Find(const std::string& task_queue);
  void ReplyRuntimeInfo(ipc::Responder& responder);
  void HandleReplayer(ipc::Connection& connection, ipc::v1::Request& request,
                      ipc::Responder responder);

  Runtime& runtime_;
  ClientRequests client_;
  std::map<std::string, Handle> handles_;
  // Unregistered handles still owed completions of activations they handed
  // out (graceful shutdown): answered to the server, then dropped once
  // drained or after the grace period.
  std::vector<Handle> draining_;
  ipc::EventHandle drain_check_;
  void CheckDraining();
  std::set<std::string> pending_registrations_;
  OrphanedTasks orphaned_;
  bool shutting_down_ = false;  // ShutdownAll() was called
  std::map<uint64_t, std::unique_ptr<Replayer>> replayers_;
  uint64_t next_replayer_id_ = 1;
  std::function<size_t()> connection_count_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace hourglass::bridgehost
