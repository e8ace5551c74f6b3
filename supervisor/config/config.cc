#include "supervisor/config/config.h"

#include <set>
#include <toml++/toml.h>

namespace hourglass::supervisor {

namespace {

// Reads the keys of one table, recording which were seen so the rest can be
// reported as unknown.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, std::vector<std::string>& errors)
      : table_(table), path_(std::move(path)), errors_(errors) {}

  ~TableReader() {
    for (const auto& [key, _] : table_) {
      if (!seen_.contains(std::string(key.str()))) errors_.push_back(Name(std::string(key.str())) + ": unknown key");
    }
  }

  void String(const char* key, std::string& out) {
    if (const auto* node = Get(key)) {
      if (auto v = node->value<std::string>()) {
        out = *v;
      } else {
        Error(key, "must be a string");
      }
    }
  }
  void Bool(const char* key, bool& out) {
    if (const auto* node = Get(key)) {
      if (auto v = node->value<bool>()) {
        out = *v;
      } else {
        Error(key, "must be true or false");
      }
    }
  }
  template <typename T>
  void Unsigned(const char* key, T& out, int64_t max) {
    if (const auto* node = Get(key)) {
      auto v = node->value<int64_t>();
      if (!v || *v < 0 || *v > max) {
        Error(key, "must be an integer from 0 to " + std::to_string(max));
      } else {
        out = static_cast<T>(*v);
      }
    }
  }
  template <typename T>
  void OptionalUnsigned(const char* key, std::optional<T>& out, int64_t max) {
    if (table_.contains(key)) {
      T v{};
      Unsigned(key, v, max);
      out = v;
    }
  }
  void Millis(const char* key, std::chrono::milliseconds& out) {
    int64_t ms = out.count();
    Unsigned(key, ms, int64_t{24} * 3600 * 1000);
    out = std::chrono::milliseconds(ms);
  }
  void Strings(const char* key, std::vector<std::string>& out) {
    if (const auto* node = Get(key)) {
      const auto* array = node->as_array();
      if (array == nullptr) {
        Error(key, "must be an array of strings");
        return;
      }
      for (const auto& item : *array) {
        auto v = item.value<std::string>();
        if (!v) {
          Error(key, "must be an array of strings");
          return;
        }
        out.push_back(*v);
      }
    }
  }
  const toml::table* Table(const char* key) {
    const auto* node = Get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_table()) {
      Error(key, "must be a table ([" + std::string(key) + "])");
      return nullptr;
    }
    return node->as_table();
  }
  const toml::array* Array(const char* key) {
    const auto* node = Get(key);
    if (node == nullptr) return nullptr;
    if (!node->is_array_of_tables()) {
      Error(key, "must be an array of tables ([[" + std::string(key) + "]])");
      return nullptr;
    }
    return node->as_array();
  }
  void Error(const char* key, const std::string& what) { errors_.push_back(Name(key) + ": " + what); }
  std::string Name(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

 private:
  const toml::node* Get(const char* key) {
    seen_.insert(key);
    return table_.get(key);
  }

  const toml::table& table_;
  std::string path_;
  std::vector<std::string>& errors_;
  std::set<std::string> seen_;
};

void ReadIntensity(TableReader& parent, const char* key, Intensity& out, std::vector<std::string>& errors) {
  if (const auto* t = parent.Table(key)) {
    TableReader r(*t, key, errors);
    r.Unsigned("max_restarts", out.max_restarts, 1000);
    r.Millis("period_ms", out.period);
    if (out.period.count() == 0) r.Error("period_ms", "must be greater than 0");
  }
}

}  // namespace

ConfigResult ParseConfig(const std::string& text, const std::string& origin) {
  ConfigResult result;
  auto& errors = result.errors;
  auto& c = result.config;
  toml::table root;
  try {
    root = toml::parse(text, origin);
  } catch (const toml::parse_error& e) {
    errors.push_back(origin + ":" + std::to_string(e.source().begin.line) + ":" +
                     std::to_string(e.source().begin.column) + ": " + std::string(e.description()));
    return result;
  }
  {
    TableReader r(root, "", errors);
    r.String("target", c.target);
    r.String("namespace", c.namespace_name);
    r.String("runtime_dir", c.runtime_dir);
    r.String("user", c.user);
    if (const auto* t = r.Table("tls")) {
      TableReader tls(*t, "tls", errors);
      c.tls = true;
      tls.Bool("enabled", c.tls);
      tls.String("ca", c.tls_ca);
      tls.String("cert", c.tls_cert);
      tls.String("key", c.tls_key);
      tls.String("server_name", c.tls_server_name);
    }
    r.String("api_key", c.api_key);
    r.String("api_key_env", c.api_key_env);
    if (const auto* t = r.Table("devserver")) {
      TableReader dev(*t, "devserver", errors);
      dev.String("db", c.devserver_db);
      dev.Unsigned("port", c.devserver_port, 65535);
    }
    ReadIntensity(r, "application", c.application, errors);
    ReadIntensity(r, "subsystem", c.subsystem, errors);
    ReadIntensity(r, "workers", c.workers, errors);
    if (const auto* t = r.Table("timeouts")) {
      TableReader tr(*t, "timeouts", errors);
      tr.Millis("ready_ms", c.ready_timeout);
      tr.Millis("shutdown_ms", c.shutdown_timeout);
      tr.Millis("heartbeat_ms", c.heartbeat_period);
      tr.Millis("watchdog_ms", c.watchdog_timeout);
    }
    if (const auto* queues = r.Array("queue")) {
      std::set<std::string> names;
      for (size_t i = 0; i < queues->size(); ++i) {
        const std::string path = "queue[" + std::to_string(i) + "]";
        TableReader q(*queues->get(i)->as_table(), path, errors);
        QueueConfig qc;
        q.String("name", qc.name);
        q.String("exec", qc.exec);
        q.Strings("args", qc.args);
        q.OptionalUnsigned("max_cached_workflows", qc.max_cached_workflows, 1000000);
        q.OptionalUnsigned("max_concurrent_workflow_tasks", qc.max_concurrent_workflow_tasks, 100000);
        q.OptionalUnsigned("max_concurrent_activities", qc.max_concurrent_activities, 100000);
        q.String("isolation", qc.isolation);
        if (qc.name.empty()) q.Error("name", "required");
        if (!qc.isolation.empty() && qc.isolation != "thread" && qc.isolation != "process") {
          q.Error("isolation", "must be \"thread\" or \"process\"");
        }
        if (!qc.name.empty() && !names.insert(qc.name).second) q.Error("name", "\"" + qc.name + "\" configured twice");
        c.queues.push_back(std::move(qc));
      }
    }
  }
  if (!c.target.empty() && c.target.find(':') == std::string::npos) errors.push_back("target: must be host:port");
  if (c.queues.empty()) {
    QueueConfig default_queue;
    default_queue.name = "default";
    c.queues.push_back(std::move(default_queue));
  }
  return result;
}

}  // namespace hourglass::supervisor
