#include "sqlite/sqlite_connector.h"

#include "retention/connectors.h"

#include <charconv>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "retention/secrets.h"
#include "store/sql_connector.h"
#include "store/sqlite_handle.h"

namespace retention {
namespace {

class SqliteConnector : public SqlConnector {
 public:
  explicit SqliteConnector(StoreConfig config) : config_(std::move(config)) {}

  Status Open() {
    // A database the engine creates (an archive) is owner-only: it holds personal data.
    if (Status created = CreatePrivateFile(config_.path); !created.ok()) return created;
    auto db = sqlite::Database::Open(config_.path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                     fmt::format("sqlite store '{}'", config_.name));
    if (!db.ok()) return db.status();
    db_.emplace(std::move(*db));
    // A 16 MiB page cache, and a checkpoint every 16 MiB of WAL rather than 4: a run's
    // batches rewrite the same pages, each checkpoint copies them once.
    return db_->ExecScript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
        "PRAGMA cache_size=-16384; PRAGMA wal_autocheckpoint=4096;");
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

  // A count reads the smallest index of the table once, page after page: with the 16 MiB
  // cache it would allocate (and fault in) pages it never reads again; SQLite's default
  // 2 MiB recycles them. Half the time on a 5,000,000-row table (docs/benchmarks.md).
  Result<int64_t> Count(const Binding& binding) override {
    if (Status s = db_->ExecScript("PRAGMA cache_size=-2000;"); !s.ok()) return s;
    auto n = SqlConnector::Count(binding);
    if (Status s = db_->ExecScript("PRAGMA cache_size=-16384;"); !s.ok()) return s;
    return n;
  }

  // A single-column primary key (an INTEGER PRIMARY KEY is the rowid), or a unique index
  // on exactly this column (not partial) with the column declared NOT NULL.
  Status CheckUniqueKey(const std::string& table, const std::string& column) override {
    static const char* kSql =
        "SELECT ((SELECT COUNT(*) FROM pragma_table_info(?1) WHERE pk > 0) = 1 "
        "  AND EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE pk = 1 AND name = ?2 COLLATE NOCASE)) "
        "OR EXISTS (SELECT 1 FROM pragma_index_list(?1) AS l WHERE l.\"unique\" = 1 AND l.partial = 0 "
        "  AND (SELECT COUNT(*) FROM pragma_index_info(l.name)) = 1 "
        "  AND EXISTS (SELECT 1 FROM pragma_index_info(l.name) WHERE name = ?2 COLLATE NOCASE) "
        "  AND EXISTS (SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE AND \"notnull\" = 1))";
    bool unique = false;
    Status s = Query(kSql, {Unqualified(table), column}, [&](const Row& r) {
      unique = r[0].value_or("0") == "1";
      return false;
    });
    if (!s.ok()) return s;
    if (unique) return Status::Ok();
    return NotUniqueKey(table, column);
  }

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

  // A column without a declared type (or declared BLOB) has no affinity: the text '7'
  // does not equal the integer 7 stored there. There a key that is the text of an
  // integer is matched as that integer too (CAST of a canonical integer is exact); the
  // scan renders both as "7", so this is exactly the set of rows the keys name.
  std::string KeyIn(const std::string& table, const std::string& key, const std::string& column_sql,
                    const std::vector<std::string>& keys, std::vector<Value>* params) override {
    if (!Untyped(table, key)) return SqlConnector::KeyIn(table, key, column_sql, keys, params);
    std::string s = column_sql + " IN (";
    for (size_t i = 0; i < keys.size(); ++i) {
      s += (i ? ", " : "") + Param(params, keys[i]);
      if (CanonicalInteger(keys[i])) s += ", CAST(" + Param(params, keys[i]) + " AS INTEGER)";
    }
    return s + ")";
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

  // Whether `column` of `table` has no type affinity (SQLite's rule: no declared type,
  // or one containing BLOB and none of INT, CHAR, CLOB, TEXT).
  bool Untyped(const std::string& table, const std::string& column) {
    auto [it, added] = untyped_.try_emplace(table + "\n" + column, false);
    if (!added) return it->second;
    auto columns = Describe(table);
    if (!columns.ok()) return false;  // the statement reports the missing table
    for (const auto& c : *columns) {
      if (c.name != column) continue;
      std::string t = c.type;
      for (char& ch : t) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      auto has = [&](const char* part) { return t.find(part) != std::string::npos; };
      it->second = !has("INT") && !has("CHAR") && !has("CLOB") && !has("TEXT") && (t.empty() || has("BLOB"));
    }
    return it->second;
  }

  // "0", "-12", "42": the text SQLite gives for an integer (within 64 bits).
  static bool CanonicalInteger(const std::string& s) {
    size_t start = !s.empty() && s[0] == '-' ? 1 : 0;
    if (s.size() == start || s.size() - start > 19) return false;
    if (s.find_first_not_of("0123456789", start) != std::string::npos) return false;
    if (s[start] == '0' && s.size() - start > 1) return false;
    if (s == "-0") return false;
    long long v = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && ptr == s.data() + s.size();
  }

  StoreConfig config_;
  std::optional<sqlite::Database> db_;  // set by Open
  std::map<std::string, bool> untyped_;  // table + "\n" + column → no type affinity
};

}  // namespace

Result<std::unique_ptr<Connector>> OpenSqliteConnector(const StoreConfig& store) {
  auto c = std::make_unique<SqliteConnector>(store);
  if (Status s = c->Open(); !s.ok()) return s;
  return std::unique_ptr<Connector>(std::move(c));
}

void RegisterSqliteConnector(ConnectorRegistry& registry) { registry.Register("sqlite", OpenSqliteConnector); }

}  // namespace retention
