#pragma once

// hourglass-devserver's persistence: one SQLite database (WAL). Every engine
// operation is committed as one transaction; a crash (kill -9) at any moment
// leaves either all of it or none of it.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "devserver/devserver_state.pb.h"
#include "ipc/result.h"
#include "temporal/api/history/v1/message.pb.h"

namespace hourglass::devserver {

using ipc::Result;
using ipc::Status;

// Everything one engine operation changed.
struct StoreBatch {
  std::vector<const v1::NamespaceRecord*> namespaces;
  std::vector<const v1::RunState*> runs;
  // (run id, event); events of one run in id order.
  std::vector<std::pair<std::string, const temporal::api::history::v1::HistoryEvent*>> events;
  // (namespace, workflow id, run id)
  std::vector<std::tuple<std::string, std::string, std::string>> current_runs;
  bool empty() const {
    return namespaces.empty() && runs.empty() && events.empty() && current_runs.empty();
  }
};

class SqliteStore {
 public:
  // An empty path opens an in-memory database. `sync_full` makes every commit
  // survive power loss (fsync); without it, commits survive a process crash.
  static Result<std::unique_ptr<SqliteStore>> Open(const std::string& path, bool sync_full);
  ~SqliteStore();
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  Status Commit(const StoreBatch& batch);

  Result<std::vector<v1::NamespaceRecord>> LoadNamespaces();
  Result<std::vector<v1::RunState>> LoadRuns();
  // Events [from_event_id, from_event_id + max_events) of a run.
  Result<std::vector<temporal::api::history::v1::HistoryEvent>> LoadHistory(
      const std::string& run_id, int64_t from_event_id, int64_t max_events);

 private:
  explicit SqliteStore(sqlite3* db) : db_(db) {}
  Status Exec(const char* sql);
  Status Migrate();
  sqlite3_stmt* Prepare(const char* sql);
  Status Error(const std::string& what) const;

  sqlite3* db_;
  sqlite3_stmt* upsert_namespace_ = nullptr;
  sqlite3_stmt* upsert_run_ = nullptr;
  sqlite3_stmt* insert_event_ = nullptr;
  sqlite3_stmt* upsert_current_ = nullptr;
  sqlite3_stmt* select_history_ = nullptr;
};

}  // namespace hourglass::devserver
