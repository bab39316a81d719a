#include "retention/sql_connector.h"

#include <fmt/format.h>

namespace retention {
namespace {

std::vector<SqlConnector::Value> AsValues(const std::vector<std::string>& v) {
  return std::vector<SqlConnector::Value>(v.begin(), v.end());
}

}  // namespace

// A row of SelectList: key, subject, the facts, then the pseudonymisation marker.
RawRecord SqlConnector::ToRecord(const Binding& b, size_t facts, const Row& r) {
  RawRecord rec;
  rec.key = r[0].value_or("");
  rec.subject = r[1].value_or("");
  rec.facts.assign(r.begin() + 2, r.begin() + 2 + static_cast<long>(facts));
  if (b.pseudonymise) {
    const Value& m = r[2 + facts];
    rec.pseudonymised = m && *m != "0" && *m != "f" && *m != "false";
  }
  return rec;
}

std::string SqlConnector::SelectList(const Binding& b, const std::vector<std::string>& facts) const {
  std::string s = "t." + QuoteIdentifier(b.key) + ", " + (b.subject.empty() ? "NULL" : "t." + QuoteIdentifier(b.subject));
  for (const auto& f : facts) s += ", " + FactSql(b, f);
  if (b.pseudonymise) s += ", (t." + QuoteIdentifier(b.pseudonymise->marker_column) + " IS NOT NULL)";
  return s;
}

std::string SqlConnector::KeyList(size_t count, int first_param) const {
  std::string s;
  for (size_t i = 0; i < count; ++i) s += (i ? ", " : "") + dialect().Placeholder(first_param + static_cast<int>(i));
  return s;
}

Result<int64_t> SqlConnector::Count(const Binding& b) {
  auto exists = TableExists(b.table);
  if (!exists.ok()) return exists.status();
  if (!*exists) return int64_t{0};  // an archive table not created yet
  int64_t n = 0;
  Status s = Query("SELECT COUNT(*) FROM " + QuoteIdentifier(b.table), {}, [&](const Row& r) {
    n = std::stoll(r[0].value_or("0"));
    return false;
  });
  if (!s.ok()) return s;
  return n;
}

Status SqlConnector::Scan(const ScanRequest& request, const std::function<bool(std::vector<RawRecord>&)>& sink) {
  const Binding& b = *request.binding;
  auto exists = TableExists(b.table);
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status::Ok();
  std::string sql = "SELECT " + SelectList(b, request.facts) + " FROM " + QuoteIdentifier(b.table) + " AS t";
  std::vector<Value> params;
  if (request.where) {
    SqlFragment where = RenderPredicate(*request.where, b, dialect());
    sql += " WHERE " + where.sql;
    params = AsValues(where.params);
  }
  ScanBatcher batcher(request.batch_size, sink);
  Status s = Query(sql, params, [&](const Row& r) { return batcher.Add(ToRecord(b, request.facts.size(), r)); });
  if (!s.ok()) return s;
  batcher.Flush();
  return Status::Ok();
}

Result<std::vector<RawRecord>> SqlConnector::ReadRecords(const Binding& b, const std::vector<std::string>& facts,
                                                         const std::vector<std::string>& keys) {
  std::vector<RawRecord> out;
  std::string sql = "SELECT " + SelectList(b, facts) + " FROM " + QuoteIdentifier(b.table) + " AS t WHERE t." +
                    QuoteIdentifier(b.key) + " IN (" + KeyList(keys.size(), 1) + ")";
  if (dialect().kind == SqlDialect::Kind::kPostgres) sql += " FOR UPDATE OF t";
  Status s = Query(sql, AsValues(keys), [&](const Row& r) {
    out.push_back(ToRecord(b, facts.size(), r));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<ApplyResult> SqlConnector::Apply(const ApplyRequest& request) {
  const Binding& b = *request.binding;
  if (Status s = Begin(); !s.ok()) return s;
  auto fail = [&](Status s) -> Result<ApplyResult> {
    Rollback();
    return s;
  };
  auto records = ReadRecords(b, request.facts, request.keys);
  if (!records.ok()) return fail(records.status());
  ApplyResult result;
  for (const auto& r : *records)
    (request.still_due && !request.still_due(r) ? result.skipped : result.applied).push_back(r.key);
  for (const auto& k : request.keys)
    if (std::find(result.applied.begin(), result.applied.end(), k) == result.applied.end() &&
        std::find(result.skipped.begin(), result.skipped.end(), k) == result.skipped.end())
      result.skipped.push_back(k);  // gone since the scan
  if (!result.applied.empty()) {
    Status s;
    switch (request.action) {
      case Phase::kDelete:
        s = Exec("DELETE FROM " + QuoteIdentifier(b.table) + " WHERE " + QuoteIdentifier(b.key) + " IN (" +
                     KeyList(result.applied.size(), 1) + ")",
                 AsValues(result.applied));
        break;
      case Phase::kArchive: s = ArchiveBatch(request, result.applied); break;
      case Phase::kPseudonymise: s = PseudonymiseBatch(request, result.applied); break;
      case Phase::kActive: s = Status::InvalidArgument("'active' is not an action"); break;
    }
    if (!s.ok()) return fail(s);
    auto staged = WriteJournal(request, result.applied);
    if (!staged.ok()) return fail(staged.status());
    result.staged = *staged;
  }
  if (Status s = Commit(); !s.ok()) return fail(s);
  return result;
}

Status SqlConnector::EnsureArchiveTable(const std::string& table, const std::string& key,
                                        const std::vector<ColumnInfo>& columns) {
  auto exists = TableExists(table);
  if (!exists.ok()) return exists.status();
  if (*exists) return Status::Ok();
  std::string sql = "CREATE TABLE " + QuoteIdentifier(table) + " (";
  for (const auto& c : columns) sql += QuoteIdentifier(c.name) + " " + (c.type.empty() ? "TEXT" : c.type) + ", ";
  sql += "\"archived_at\" DATE NOT NULL, \"rule_id\" TEXT NOT NULL, \"run_id\" TEXT NOT NULL, PRIMARY KEY (" +
         QuoteIdentifier(key) + "))";
  return Exec(sql, {});
}

Status SqlConnector::ArchiveBatch(const ApplyRequest& request, const std::vector<std::string>& keys) {
  const Binding& b = *request.binding;
  auto columns = Describe(b.table);
  if (!columns.ok()) return columns.status();
  std::string names;
  for (const auto& c : *columns) names += (names.empty() ? "" : ", ") + QuoteIdentifier(c.name);
  SqlConnector* target = dynamic_cast<SqlConnector*>(request.archive_target);
  if (!target) return Status::InvalidArgument(fmt::format("binding {}: the archive store is not an SQL store", b.name));
  std::string rule_id = b.rule ? b.rule->id : b.rule_id;
  if (target == this) {
    // One transaction: copy (idempotent on the key) and delete together.
    if (Status s = EnsureArchiveTable(b.archive->table, b.key, *columns); !s.ok()) return s;
    // Parameters in the order they appear in the text (SQLite's "?" are positional):
    // the three archive columns, then the keys.
    std::string insert = (dialect().kind == SqlDialect::Kind::kSqlite ? "INSERT OR IGNORE INTO " : "INSERT INTO ") +
                         QuoteIdentifier(b.archive->table) + " (" + names +
                         ", \"archived_at\", \"rule_id\", \"run_id\") SELECT " + names + ", " +
                         dialect().DateParameter(1) + ", " + dialect().Placeholder(2) + ", " +
                         dialect().Placeholder(3) + " FROM " + QuoteIdentifier(b.table) + " WHERE " +
                         QuoteIdentifier(b.key) + " IN (" + KeyList(keys.size(), 4) + ")";
    if (dialect().kind == SqlDialect::Kind::kPostgres) insert += " ON CONFLICT DO NOTHING";
    std::vector<Value> params = {request.as_of.ToString(), rule_id, request.run_id};
    for (auto& k : AsValues(keys)) params.push_back(std::move(k));
    if (Status s = Exec(insert, params); !s.ok()) return s;
  } else {
    // Another database: copy there first (committed, idempotent), then delete here.
    ArchiveRows rows{b.archive->table, b.key, *columns, {}, rule_id, request.run_id, request.as_of};
    Status s = Query("SELECT " + names + " FROM " + QuoteIdentifier(b.table) + " WHERE " + QuoteIdentifier(b.key) +
                         " IN (" + KeyList(keys.size(), 1) + ")",
                     AsValues(keys), [&](const Row& r) {
                       rows.rows.push_back(r);
                       return true;
                     });
    if (!s.ok()) return s;
    if (Status w = target->WriteArchive(rows); !w.ok()) return w;
  }
  return Exec("DELETE FROM " + QuoteIdentifier(b.table) + " WHERE " + QuoteIdentifier(b.key) + " IN (" +
                  KeyList(keys.size(), 1) + ")",
              AsValues(keys));
}

Status SqlConnector::WriteArchive(const ArchiveRows& rows) {
  if (Status s = Begin(); !s.ok()) return s;
  auto fail = [&](Status s) {
    Rollback();
    return s;
  };
  if (Status s = EnsureArchiveTable(rows.table, rows.key, rows.columns); !s.ok()) return fail(s);
  std::string names, marks;
  int i = 0;
  for (const auto& c : rows.columns) {
    names += (names.empty() ? "" : ", ") + QuoteIdentifier(c.name);
    marks += (marks.empty() ? "" : ", ") + dialect().Placeholder(++i);
  }
  std::string sql = (dialect().kind == SqlDialect::Kind::kSqlite ? "INSERT OR IGNORE INTO " : "INSERT INTO ") +
                    QuoteIdentifier(rows.table) + " (" + names + ", \"archived_at\", \"rule_id\", \"run_id\") VALUES (" +
                    marks + ", " + dialect().DateParameter(i + 1) + ", " + dialect().Placeholder(i + 2) + ", " +
                    dialect().Placeholder(i + 3) + ")";
  if (dialect().kind == SqlDialect::Kind::kPostgres) sql += " ON CONFLICT DO NOTHING";
  for (const auto& r : rows.rows) {
    std::vector<Value> params = r;
    params.push_back(rows.archived_at.ToString());
    params.push_back(rows.rule_id);
    params.push_back(rows.run_id);
    if (Status s = Exec(sql, params); !s.ok()) return fail(s);
  }
  if (Status s = Commit(); !s.ok()) return fail(s);
  return Status::Ok();
}

Status SqlConnector::PseudonymiseBatch(const ApplyRequest& request, const std::vector<std::string>& keys) {
  const Binding& b = *request.binding;
  const PseudonymiseSettings& p = *b.pseudonymise;
  if (!request.tokenise) return Status::FailedPrecondition("no pseudonymisation key");
  std::string cols;
  for (const auto& c : p.columns) cols += ", " + QuoteIdentifier(c);
  std::vector<Row> rows;
  Status s = Query("SELECT " + QuoteIdentifier(b.key) + cols + " FROM " + QuoteIdentifier(b.table) + " WHERE " +
                       QuoteIdentifier(b.key) + " IN (" + KeyList(keys.size(), 1) + ")",
                   AsValues(keys), [&](const Row& r) {
                     rows.push_back(r);
                     return true;
                   });
  if (!s.ok()) return s;
  std::string set;
  int i = 0;
  for (const auto& c : p.columns) set += (set.empty() ? "" : ", ") + QuoteIdentifier(c) + " = " + dialect().Placeholder(++i);
  for (const auto& c : p.null_columns) set += (set.empty() ? "" : ", ") + QuoteIdentifier(c) + " = NULL";
  set += (set.empty() ? "" : ", ") + QuoteIdentifier(p.marker_column) + " = " + dialect().DateParameter(++i);
  std::string sql = "UPDATE " + QuoteIdentifier(b.table) + " SET " + set + " WHERE " + QuoteIdentifier(b.key) + " = " +
                    dialect().Placeholder(i + 1);
  for (const auto& r : rows) {
    std::vector<Value> params;
    for (size_t c = 0; c < p.columns.size(); ++c) params.push_back(r[c + 1] ? Value(request.tokenise(*r[c + 1])) : Value());
    params.push_back(request.as_of.ToString());
    params.push_back(r[0]);
    if (Status u = Exec(sql, params); !u.ok()) return u;
  }
  return Status::Ok();
}

}  // namespace retention
