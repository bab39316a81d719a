#include "store/sqlite_handle.h"

#include <fmt/format.h>

namespace retention::sqlite {

Status Statement::Error(const std::string& what) const {
  return Status::IoError(fmt::format("{}: {}: {}", label_, what, sqlite3_errmsg(db_)));
}

Status Statement::Bind(int index, const Value& value) {
  int rc = value ? sqlite3_bind_text(stmt_.get(), index, value->data(), static_cast<int>(value->size()), SQLITE_TRANSIENT)
                 : sqlite3_bind_null(stmt_.get(), index);
  return rc == SQLITE_OK ? Status::Ok() : Error("cannot bind a parameter");
}

Status Statement::BindInt64(int index, int64_t value) {
  return sqlite3_bind_int64(stmt_.get(), index, value) == SQLITE_OK ? Status::Ok() : Error("cannot bind a parameter");
}

Status Statement::BindAll(const std::vector<Value>& values) {
  for (size_t i = 0; i < values.size(); ++i)
    if (Status s = Bind(static_cast<int>(i + 1), values[i]); !s.ok()) return s;
  return Status::Ok();
}

Result<bool> Statement::Step() {
  int rc = sqlite3_step(stmt_.get());
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return Error("statement failed");
}

void Statement::Reset() { sqlite3_reset(stmt_.get()); }

int Statement::ColumnCount() const { return sqlite3_column_count(stmt_.get()); }

Value Statement::Column(int index) const {
  if (sqlite3_column_type(stmt_.get(), index) == SQLITE_NULL) return std::nullopt;
  const unsigned char* text = sqlite3_column_text(stmt_.get(), index);
  if (!text) return std::string();  // out of memory is reported by the next step
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(stmt_.get(), index)));
}

Row Statement::CurrentRow() const {
  Row r(static_cast<size_t>(ColumnCount()));
  for (size_t c = 0; c < r.size(); ++c) r[c] = Column(static_cast<int>(c));
  return r;
}

Result<Database> Database::Open(const std::string& path, int flags, std::string label, int busy_timeout_ms) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  Database db(raw, std::move(label));  // owns the handle even when opening failed
  if (rc != SQLITE_OK) return raw ? db.Error("cannot open") : Status::IoError(db.label_ + ": cannot open: out of memory");
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  return db;
}

Status Database::Error(const std::string& what) const {
  return Status::IoError(fmt::format("{}: {}: {}", label_, what, db_ ? sqlite3_errmsg(db_.get()) : "not open"));
}

Result<Statement> Database::Prepare(const std::string& sql) const {
  sqlite3_stmt* raw = nullptr;
  // On failure SQLite leaves `raw` null: nothing to free.
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) != SQLITE_OK)
    return Error("cannot prepare a statement");
  return Statement(raw, db_.get(), label_);
}

Status Database::Query(const std::string& sql, const std::vector<Value>& params,
                       const std::function<bool(const Row&)>& row) const {
  auto stmt = Prepare(sql);
  if (!stmt.ok()) return stmt.status();
  if (Status s = stmt->BindAll(params); !s.ok()) return s;
  while (true) {
    auto more = stmt->Step();
    if (!more.ok()) return more.status();
    if (!*more || !row(stmt->CurrentRow())) return Status::Ok();
  }
}

Status Database::Exec(const std::string& sql, const std::vector<Value>& params) const {
  return Query(sql, params, [](const Row&) { return true; });
}

Status Database::ExecScript(const std::string& sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_.get(), sql.c_str(), nullptr, nullptr, &err) == SQLITE_OK) return Status::Ok();
  std::string reason = err ? err : sqlite3_errmsg(db_.get());
  sqlite3_free(err);
  return Status::IoError(fmt::format("{}: {}", label_, reason));
}

}  // namespace retention::sqlite
