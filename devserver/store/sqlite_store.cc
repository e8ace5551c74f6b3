#include "devserver/store/sqlite_store.h"

#include <spdlog/spdlog.h>

namespace hourglass::devserver {
namespace {

constexpr int kSchemaVersion = 1;

// The runs table keeps the whole mutable state as one blob, plus the columns
// visibility queries sort and filter on.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS namespaces (
  name TEXT PRIMARY KEY,
  record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  namespace TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  status INTEGER NOT NULL,
  start_time_ms INTEGER NOT NULL,
  close_time_ms INTEGER NOT NULL,
  state BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (namespace, start_time_ms DESC);
CREATE TABLE IF NOT EXISTS current_runs (
  namespace TEXT NOT NULL,
  workflow_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  PRIMARY KEY (namespace, workflow_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  run_id TEXT NOT NULL,
  event_id INTEGER NOT NULL,
  data BLOB NOT NULL,
  PRIMARY KEY (run_id, event_id)) WITHOUT ROWID;
)sql";

// RAII for a statement in use: reset and unbound on scope exit.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* s) : s_(s) {}
  ~StmtUse() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  sqlite3_stmt* get() const { return s_; }

 private:
  sqlite3_stmt* s_;
};

void BindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}
void BindBlob(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
}

template <typename Message>
bool ParseColumn(sqlite3_stmt* s, int col, Message& out) {
  const void* data = sqlite3_column_blob(s, col);
  const int n = sqlite3_column_bytes(s, col);
  return out.ParseFromArray(data, n);
}

}  // namespace

Result<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path, bool sync_full) {
  sqlite3* db = nullptr;
  const std::string target = path.empty() ? ":memory:" : path;
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(target.c_str(), &db, flags, nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return ipc::MakeError(ipc::v1::ERROR_KIND_UNAVAILABLE, "open " + target + ": " + msg);
  }
  std::unique_ptr<SqliteStore> store(new SqliteStore(db));
  const char* pragmas = sync_full
                            ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                              "PRAGMA foreign_keys=OFF; PRAGMA busy_timeout=5000;"
                            : "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                              "PRAGMA foreign_keys=OFF; PRAGMA busy_timeout=5000;";
  if (auto st = store->Exec(pragmas); !st) return st.error();
  if (auto st = store->Migrate(); !st) return st.error();
  store->upsert_namespace_ =
      store->Prepare("INSERT INTO namespaces(name, record) VALUES(?1, ?2) "
                     "ON CONFLICT(name) DO UPDATE SET record = excluded.record");
  store->upsert_run_ = store->Prepare(
      "INSERT INTO runs(run_id, namespace, workflow_id, status, start_time_ms, close_time_ms, "
      "state) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(run_id) DO UPDATE SET "
      "status = excluded.status, close_time_ms = excluded.close_time_ms, state = excluded.state");
  store->insert_event_ = store->Prepare("INSERT INTO events(run_id, event_id, data) VALUES(?1, ?2, ?3)");
  store->upsert_current_ = store->Prepare(
      "INSERT INTO current_runs(namespace, workflow_id, run_id) VALUES(?1, ?2, ?3) "
      "ON CONFLICT(namespace, workflow_id) DO UPDATE SET run_id = excluded.run_id");
  store->select_history_ = store->Prepare(
      "SELECT data FROM events WHERE run_id = ?1 AND event_id >= ?2 ORDER BY event_id LIMIT ?3");
  if (!store->upsert_namespace_ || !store->upsert_run_ || !store->insert_event_ ||
      !store->upsert_current_ || !store->select_history_) {
    return store->Error("prepare").error();
  }
  return store;
}

SqliteStore::~SqliteStore() {
  for (auto* s : {upsert_namespace_, upsert_run_, insert_event_, upsert_current_, select_history_}) {
    sqlite3_finalize(s);
  }
  sqlite3_close(db_);
}

Status SqliteStore::Error(const std::string& what) const {
  return ipc::MakeError(ipc::v1::ERROR_KIND_INTERNAL, "sqlite " + what + ": " + sqlite3_errmsg(db_));
}

Status SqliteStore::Exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return ipc::MakeError(ipc::v1::ERROR_KIND_INTERNAL, std::string("sqlite: ") + msg);
  }
  return ipc::OkStatus();
}

sqlite3_stmt* SqliteStore::Prepare(const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    spdlog::error("sqlite prepare failed: {}: {}", sqlite3_errmsg(db_), sql);
    return nullptr;
  }
  return s;
}

Status SqliteStore::Migrate() {
  if (auto st = Exec(kSchema); !st) return st;
  sqlite3_stmt* s = Prepare("SELECT value FROM meta WHERE key = 'schema_version'");
  if (s == nullptr) return Error("prepare");
  int version = 0;
  if (sqlite3_step(s) == SQLITE_ROW) version = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  if (version > kSchemaVersion) {
    return ipc::MakeError(ipc::v1::ERROR_KIND_INVALID_ARGUMENT,
                          "database schema version " + std::to_string(version) +
                              " is newer than this server's (" + std::to_string(kSchemaVersion) +
                              ")");
  }
  return Exec("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', '1')");
}

Status SqliteStore::Commit(const StoreBatch& batch) {
  if (batch.empty()) return ipc::OkStatus();
  if (auto st = Exec("BEGIN IMMEDIATE"); !st) return st;
  auto fail = [&](const std::string& what) {
    Status err = Error(what);
    Exec("ROLLBACK");
    return err;
  };
  std::string buf;
  for (const auto* ns : batch.namespaces) {
    StmtUse s(upsert_namespace_);
    ns->SerializeToString(&buf);
    BindText(s.get(), 1, ns->info().name());
    BindBlob(s.get(), 2, buf);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("upsert namespace");
  }
  for (const auto* run : batch.runs) {
    StmtUse s(upsert_run_);
    run->SerializeToString(&buf);
    BindText(s.get(), 1, run->run_id());
    BindText(s.get(), 2, run->namespace_());
    BindText(s.get(), 3, run->workflow_id());
    sqlite3_bind_int(s.get(), 4, run->status());
    sqlite3_bind_int64(s.get(), 5, run->start_time_ms());
    sqlite3_bind_int64(s.get(), 6, run->close_time_ms());
    BindBlob(s.get(), 7, buf);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("upsert run");
  }
  for (const auto& [run_id, event] : batch.events) {
    StmtUse s(insert_event_);
    event->SerializeToString(&buf);
    BindText(s.get(), 1, run_id);
    sqlite3_bind_int64(s.get(), 2, event->event_id());
    BindBlob(s.get(), 3, buf);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("insert event");
  }
  for (const auto& [ns, workflow_id, run_id] : batch.current_runs) {
    StmtUse s(upsert_current_);
    BindText(s.get(), 1, ns);
    BindText(s.get(), 2, workflow_id);
    BindText(s.get(), 3, run_id);
    if (sqlite3_step(s.get()) != SQLITE_DONE) return fail("upsert current run");
  }
  if (auto st = Exec("COMMIT"); !st) {
    Exec("ROLLBACK");
    return st;
  }
  return ipc::OkStatus();
}

Result<std::vector<v1::NamespaceRecord>> SqliteStore::LoadNamespaces() {
  std::vector<v1::NamespaceRecord> out;
  sqlite3_stmt* s = Prepare("SELECT record FROM namespaces ORDER BY name");
  if (s == nullptr) return Error("prepare").error();
  while (sqlite3_step(s) == SQLITE_ROW) {
    v1::NamespaceRecord rec;
    if (ParseColumn(s, 0, rec)) out.push_back(std::move(rec));
  }
  sqlite3_finalize(s);
  return out;
}

Result<std::vector<v1::RunState>> SqliteStore::LoadRuns() {
  std::vector<v1::RunState> out;
  sqlite3_stmt* s = Prepare("SELECT state FROM runs ORDER BY start_time_ms");
  if (s == nullptr) return Error("prepare").error();
  while (sqlite3_step(s) == SQLITE_ROW) {
    v1::RunState run;
    if (!ParseColumn(s, 0, run)) {
      sqlite3_finalize(s);
      return ipc::MakeError(ipc::v1::ERROR_KIND_INTERNAL, "a run's state in the database is corrupt");
    }
    out.push_back(std::move(run));
  }
  sqlite3_finalize(s);
  return out;
}

Result<std::vector<temporal::api::history::v1::HistoryEvent>> SqliteStore::LoadHistory(
    const std::string& run_id, int64_t from_event_id, int64_t max_events) {
  std::vector<temporal::api::history::v1::HistoryEvent> out;
  StmtUse s(select_history_);
  BindText(s.get(), 1, run_id);
  sqlite3_bind_int64(s.get(), 2, from_event_id);
  sqlite3_bind_int64(s.get(), 3, max_events);
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
    temporal::api::history::v1::HistoryEvent event;
    if (!ParseColumn(s.get(), 0, event)) {
      return ipc::MakeError(ipc::v1::ERROR_KIND_INTERNAL, "an event in the database is corrupt");
    }
    out.push_back(std::move(event));
  }
  if (rc != SQLITE_DONE) return Error("select history").error();
  return out;
}

}  // namespace hourglass::devserver
