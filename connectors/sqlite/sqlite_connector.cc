#include "sqlite/sqlite_connector.h"

#include <fmt/format.h>

#include "retention/sql_connector.h"
#include "store/sqlite_handle.h"

namespace retention {
namespace {

class SqliteConnector : public SqlConnector {
 public:
  explicit SqliteConnector(StoreConfig config) : config_(std::move(config)) {}

  Status Open() {
    auto db = sqlite::Database::Open(config_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                     fmt::format("sqlite store '{}'", config_.name));
    if (!db.ok()) return db.status();
    db_.emplace(std::move(*db));
    return db_->ExecScript("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
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

  Status Exec(const std::string& sql, const std::vector<Value>& params) override { return db_->Exec(sql, params); }

  Status Query(const std::string& sql, const std::vector<Value>& params,
               const std::function<bool(const Row&)>& row) override {
    return db_->Query(sql, params, row);
  }

  Status Begin() override { return Exec("BEGIN IMMEDIATE", {}); }
  Status Commit() override { return Exec("COMMIT", {}); }
  void Rollback() override {
    if (db_->InTransaction()) Exec("ROLLBACK", {});
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

  StoreConfig config_;
  std::optional<sqlite::Database> db_;  // set by Open
};

}  // namespace

Result<std::unique_ptr<Connector>> OpenSqliteConnector(const StoreConfig& store) {
  auto c = std::make_unique<SqliteConnector>(store);
  if (Status s = c->Open(); !s.ok()) return s;
  return std::unique_ptr<Connector>(std::move(c));
}

}  // namespace retention
