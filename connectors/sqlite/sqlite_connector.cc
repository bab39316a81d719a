#include "sqlite/sqlite_connector.h"

#include <sqlite3.h>

#include <fmt/format.h>

#include "retention/secrets.h"
#include "retention/sql_connector.h"

namespace retention {
namespace {

class SqliteConnector : public SqlConnector {
 public:
  explicit SqliteConnector(StoreConfig config) : config_(std::move(config)) {}
  ~SqliteConnector() override {
    if (db_) sqlite3_close_v2(db_);
  }

  Status Open() {
    // A database the engine creates (an archive) is owner-only: it holds personal data.
    if (Status created = CreatePrivateFile(config_.path); !created.ok()) return created;
    int rc = sqlite3_open_v2(config_.path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) return Error("cannot open " + config_.path);
    sqlite3_busy_timeout(db_, 10000);
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=ON"})
      if (Status s = Exec(pragma, {}); !s.ok()) return s;
    return Status::Ok();
  }

  const StoreConfig& config() const override { return config_; }

  Result<std::vector<ColumnInfo>> Describe(const std::string& table) override {
    std::vector<ColumnInfo> out;
    Status s = Query("SELECT name, type, pk FROM pragma_table_info(?)", {Unqualified(table)}, [&](const Row& r) {
      out.push_back({r[0].value_or(""), r[1].value_or(""), r[2].value_or("0") != "0"});
      return true;
    });
    if (!s.ok()) return s;
    if (out.empty()) return Status::NotFound(fmt::format("table '{}' does not exist in {}", table, config_.path));
    return out;
  }

  bool SameTransactionAs(const Connector& other) const override { return &other == this; }

 protected:
  SqlDialect dialect() const override { return SqlDialect{SqlDialect::Kind::kSqlite}; }

  Status Exec(const std::string& sql, const std::vector<Value>& params) override {
    return Query(sql, params, [](const Row&) { return true; });
  }

  Status Query(const std::string& sql, const std::vector<Value>& params,
               const std::function<bool(const Row&)>& row) override {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) return Error("cannot prepare a statement");
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      if (params[i]) sqlite3_bind_text(stmt, idx, params[i]->c_str(), static_cast<int>(params[i]->size()), SQLITE_TRANSIENT);
      else sqlite3_bind_null(stmt, idx);
    }
    int rc;
    Row r;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      int n = sqlite3_column_count(stmt);
      r.assign(static_cast<size_t>(n), std::nullopt);
      for (int c = 0; c < n; ++c)
        if (sqlite3_column_type(stmt, c) != SQLITE_NULL)
          r[static_cast<size_t>(c)] = std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, c)));
      if (!row(r)) {
        rc = SQLITE_DONE;
        break;
      }
    }
    Status s = rc == SQLITE_DONE ? Status::Ok() : Error("statement failed");
    sqlite3_finalize(stmt);
    return s;
  }

  Status Begin() override { return Exec("BEGIN IMMEDIATE", {}); }
  Status Commit() override { return Exec("COMMIT", {}); }
  void Rollback() override {
    if (!sqlite3_get_autocommit(db_)) Exec("ROLLBACK", {});
  }

  Result<bool> TableExists(const std::string& table) override {
    bool found = false;
    Status s = Query("SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?", {Unqualified(table)},
                     [&](const Row&) {
                       found = true;
                       return false;
                     });
    if (!s.ok()) return s;
    return found;
  }

 private:
  static std::string Unqualified(const std::string& table) {
    auto dot = table.find('.');
    return dot == std::string::npos ? table : table.substr(dot + 1);
  }
  Status Error(const std::string& what) {
    // The message names the store and SQLite's reason; values are never included.
    return Status::IoError(fmt::format("sqlite store '{}': {}: {}", config_.name, what, db_ ? sqlite3_errmsg(db_) : "?"));
  }

  StoreConfig config_;
  sqlite3* db_ = nullptr;
};

}  // namespace

Result<std::unique_ptr<Connector>> OpenSqliteConnector(const StoreConfig& store) {
  auto c = std::make_unique<SqliteConnector>(store);
  if (Status s = c->Open(); !s.ok()) return s;
  return std::unique_ptr<Connector>(std::move(c));
}

}  // namespace retention
