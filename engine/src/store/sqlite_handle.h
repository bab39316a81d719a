// The one SQLite wrapper of the project (state database, SQLite connector, demo
// generator): a database and its prepared statements as non-copyable owners that free
// themselves (std::unique_ptr with a deleter), with step, bind and column helpers that
// return Status values. Private to the engine and the connectors (target
// retention_sqlite); never part of the public headers.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "retention/status.h"

namespace retention::sqlite {

using Value = std::optional<std::string>;  // NULL or the value as text
using Row = std::vector<Value>;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// One prepared statement. Obtained from Database::Prepare; must not outlive its Database.
class Statement {
 public:
  Statement() = default;
  Statement(Statement&&) noexcept = default;
  Statement& operator=(Statement&&) noexcept = default;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Binds a text value or NULL to a 1-based parameter.
  Status Bind(int index, const Value& value);
  Status BindInt64(int index, int64_t value);
  // Binds every parameter in order (1..n).
  Status BindAll(const std::vector<Value>& values);
  // One step: true when a row is available, false when the statement is done.
  Result<bool> Step();
  // Ready to run again (bindings are kept until rebound).
  void Reset();

  int ColumnCount() const;
  // A column of the current row as text (NULL as nullopt).
  Value Column(int index) const;
  // The current row, every column as text.
  Row CurrentRow() const;
  sqlite3_stmt* get() const { return stmt_.get(); }

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, sqlite3* db, std::string label) : stmt_(stmt), db_(db), label_(std::move(label)) {}
  Status Error(const std::string& what) const;

  std::unique_ptr<sqlite3_stmt, StatementFinalizer> stmt_;
  sqlite3* db_ = nullptr;  // not owned: the Database's connection
  std::string label_;
};

// One database connection. `label` starts every error message ("state database PATH",
// "sqlite store 'NAME'"); messages carry SQLite's reason, never a bound value.
class Database {
 public:
  Database(Database&&) noexcept = default;
  Database& operator=(Database&&) noexcept = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Opens (flags: SQLITE_OPEN_*) and sets a busy timeout.
  static Result<Database> Open(const std::string& path, int flags, std::string label, int busy_timeout_ms = 10000);

  Result<Statement> Prepare(const std::string& sql) const;
  // Runs one statement with text parameters; `row` is called for each result row and
  // returns false to stop early.
  Status Query(const std::string& sql, const std::vector<Value>& params,
               const std::function<bool(const Row&)>& row) const;
  // Runs one statement with text parameters to completion.
  Status Exec(const std::string& sql, const std::vector<Value>& params = {}) const;
  // Runs several statements without parameters (a schema, pragmas).
  Status ExecScript(const std::string& sql) const;

  bool InTransaction() const { return sqlite3_get_autocommit(db_.get()) == 0; }
  int64_t LastInsertRowid() const { return sqlite3_last_insert_rowid(db_.get()); }
  const std::string& label() const { return label_; }
  sqlite3* get() const { return db_.get(); }

  // "LABEL: what: SQLite's message".
  Status Error(const std::string& what) const;

 private:
  Database(sqlite3* db, std::string label) : db_(db), label_(std::move(label)) {}

  std::unique_ptr<sqlite3, DbCloser> db_;
  std::string label_;
};

}  // namespace retention::sqlite
