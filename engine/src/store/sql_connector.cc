#include "store/sql_connector.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

namespace retention {
namespace {

std::vector<SqlConnector::Value> AsValues(const std::vector<std::string>& v) {
  return std::vector<SqlConnector::Value>(v.begin(), v.end());
}

// The pseudonymisation marker's test as the store returns it (1/0, t/f, or NULL).
bool Marked(const SqlConnector::Value& m) { return m && *m != "0" && *m != "f" && *m != "false"; }

}  // namespace

// A row of SelectList: key, subject, the facts, then the pseudonymisation marker.
RawRecord SqlConnector::ToRecord(const Binding& b, size_t facts, const Row& r) {
  RawRecord rec;
  rec.key = r[0].value_or("");
  rec.subject = r[1].value_or("");
  rec.facts.assign(r.begin() + 2, r.begin() + 2 + static_cast<long>(facts));
  if (b.pseudonymise) rec.pseudonymised = Marked(r[2 + facts]);
  return rec;
}

std::string SqlConnector::SelectList(const Binding& b, const std::vector<std::string>& facts) const {
  std::string s = "t." + QuoteIdentifier(b.key) + ", " + (b.subject.empty() ? "NULL" : "t." + QuoteIdentifier(b.subject));
  for (const auto& f : facts) s += ", " + FactSql(b, f);
  if (b.pseudonymise) s += ", (t." + QuoteIdentifier(b.pseudonymise->marker_column) + " IS NOT NULL)";
  return s;
}

Status SqlConnector::NotUniqueKey(const std::string& table, const std::string& column) {
  return Status::FailedPrecondition(fmt::format(
      "key column '{}' of {} is not unique: it needs a single-column PRIMARY KEY, or a UNIQUE index on it alone "
      "with the column NOT NULL (a key matching several rows would act on all of them)",
      column, table));
}

std::string SqlConnector::Param(std::vector<Value>* params, Value value, bool date) const {
  params->push_back(std::move(value));
  int index = static_cast<int>(params->size());
  return date ? dialect().DateParameter(index) : dialect().Placeholder(index);
}

std::string SqlConnector::KeyIn(const std::string&, const std::string&, const std::string& column_sql,
                                const std::vector<std::string>& keys, std::vector<Value>* params) {
  std::string s = column_sql + " IN (";
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", " : "") + Param(params, keys[i]);
  return s + ")";
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

Result<bool> SqlConnector::Group(const GroupRequest& request, const std::function<void(const RecordGroup&)>& sink) {
  const Binding& b = *request.binding;
  auto exists = TableExists(b.table);
  if (!exists.ok()) return exists.status();
  if (!*exists) return true;
  std::vector<std::string> groups;
  for (const auto& f : request.facts) groups.push_back(dialect().GroupedValue(FactSql(b, f)));
  if (b.pseudonymise) groups.push_back("(t." + QuoteIdentifier(b.pseudonymise->marker_column) + " IS NOT NULL)");
  std::string columns;
  for (const auto& g : groups) columns += g + ", ";
  std::string sql = "SELECT " + columns + "COUNT(*) FROM " + QuoteIdentifier(b.table) + " AS t";
  std::vector<std::string> conditions, params;
  auto render = [&](const Predicate& p) {
    SqlFragment f = RenderPredicate(p, b, dialect(), static_cast<int>(params.size()) + 1);
    params.insert(params.end(), f.params.begin(), f.params.end());
    return f.sql;
  };
  if (request.where) conditions.push_back("(" + render(*request.where) + ")");
  // CASE, not NOT: a row whose `exclude` is NULL (unknown) stays.
  if (request.exclude) conditions.push_back("(CASE WHEN (" + render(*request.exclude) + ") THEN 0 ELSE 1 END) = 1");
  for (size_t i = 0; i < conditions.size(); ++i) sql += (i ? " AND " : " WHERE ") + conditions[i];
  size_t n = groups.size();
  for (size_t i = 0; i < n; ++i) sql += (i ? ", " : " GROUP BY ") + groups[i];
  Status s = Query(sql, AsValues(params), [&](const Row& r) {
    RecordGroup g;
    g.facts.assign(r.begin(), r.begin() + static_cast<long>(request.facts.size()));
    if (b.pseudonymise) g.pseudonymised = Marked(r[request.facts.size()]);
    g.rows = std::stoll(r[n].value_or("0"));
    if (g.rows > 0) sink(g);
    return true;
  });
  if (!s.ok()) return s;
  return true;
}

Result<std::vector<RawRecord>> SqlConnector::ReadRecords(const Binding& b, const std::vector<std::string>& facts,
                                                         const std::vector<std::string>& keys) {
  std::vector<RawRecord> out;
  std::vector<Value> params;
  std::string sql = "SELECT " + SelectList(b, facts) + " FROM " + QuoteIdentifier(b.table) + " AS t WHERE " +
                    KeyIn(b.table, b.key, "t." + QuoteIdentifier(b.key), keys, &params);
  if (dialect().kind == SqlDialect::Kind::kPostgres) sql += " FOR UPDATE OF t";
  Status s = Query(sql, params, [&](const Row& r) {
    out.push_back(ToRecord(b, facts.size(), r));
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

namespace {

// Sorts the re-read records of a batch: applied (still due, one row per key), skipped
// (no longer due, or gone since the scan) or refused (the key matches several rows).
ApplyResult Sort(const ApplyRequest& request, const std::vector<RawRecord>& records) {
  std::map<std::string, int> rows;
  for (const auto& r : records) ++rows[r.key];
  ApplyResult result;
  for (const auto& k : request.keys) {
    auto it = rows.find(k);
    if (it == rows.end()) result.skipped.push_back(k);  // gone since the scan
    else if (it->second > 1) result.refused.push_back({k, "the key matches more than one row: keys must be unique"});
  }
  for (const auto& r : records)
    if (rows[r.key] == 1) (request.still_due && !request.still_due(r) ? result.skipped : result.applied).push_back(r.key);
  return result;
}

}  // namespace

Result<ApplyResult> SqlConnector::Apply(const ApplyRequest& request) {
  const Binding& b = *request.binding;
  if (Status s = Begin(); !s.ok()) return s;
  auto fail = [&](Status s) -> Result<ApplyResult> {
    Rollback();
    return s;
  };
  auto records = ReadRecords(b, request.facts, request.keys);
  if (!records.ok()) return fail(records.status());
  ApplyResult result = Sort(request, *records);
  if (!result.applied.empty()) {
    Status s;
    switch (request.action) {
      case Phase::kDelete: s = DeleteKeys(b, result.applied); break;
      case Phase::kArchive: {
        auto archived = ArchiveBatch(request, result.applied, &result.refused);
        if (archived.ok()) result.applied = std::move(*archived);
        s = archived.status();
        break;
      }
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

Result<DropPartResult> SqlConnector::DropPart(const DropPartRequest& request) {
  DropPartResult out;
  if (dialect().kind != SqlDialect::Kind::kPostgres) return out;
  const Binding& b = *request.binding;
  const std::string select = "SELECT " + SelectList(b, request.facts) + " FROM " + request.part.name + " AS t";
  // Without a lock first: most parts that are not wholly due fail on an early row.
  bool all = true;
  int64_t rows = 0;
  Status s = Query(select, {}, [&](const Row& r) {
    ++rows;
    all = request.candidate && request.candidate(ToRecord(b, request.facts.size(), r));
    return all;
  });
  if (!s.ok()) return s;
  if (!all || rows == 0) return out;
  if (s = Begin(); !s.ok()) return s;
  auto fail = [&](Status st) -> Result<DropPartResult> {
    Rollback();
    return st;
  };
  if (s = Exec("LOCK TABLE " + request.part.parent + ", " + request.part.name + " IN ACCESS EXCLUSIVE MODE", {}); !s.ok())
    return fail(s);
  std::vector<std::string> keys;
  s = Query(select, {}, [&](const Row& r) {
    RawRecord record = ToRecord(b, request.facts.size(), r);
    all = request.still_due && request.still_due(record);
    if (all) keys.push_back(std::move(record.key));
    return all;
  });
  if (!s.ok()) return fail(s);
  if (!all || keys.empty()) {
    Rollback();
    return out;
  }
  ApplyRequest journal;
  journal.binding = &b;
  journal.action = Phase::kDelete;
  journal.run_id = request.run_id;
  journal.key_digest = request.key_digest;
  const size_t chunk = std::max<size_t>(1, request.chunk);
  for (size_t start = 0; start < keys.size(); start += chunk) {
    std::vector<std::string> part(keys.begin() + static_cast<long>(start),
                                  keys.begin() + static_cast<long>(std::min(keys.size(), start + chunk)));
    auto staged = WriteJournal(journal, part);
    if (!staged.ok()) return fail(staged.status());
    out.staged.push_back(std::move(*staged));
  }
  if (s = Exec("ALTER TABLE " + request.part.parent + " DETACH PARTITION " + request.part.name, {}); !s.ok())
    return fail(s);
  if (s = Exec("DROP TABLE " + request.part.name, {}); !s.ok()) return fail(s);
  if (s = Commit(); !s.ok()) {
    out.staged.clear();
    return fail(s);
  }
  out.dropped = true;
  out.keys = std::move(keys);
  return out;
}

Status SqlConnector::DeleteKeys(const Binding& b, const std::vector<std::string>& keys) {
  if (keys.empty()) return Status::Ok();
  std::vector<Value> params;
  std::string sql = "DELETE FROM " + QuoteIdentifier(b.table) + " WHERE " +
                    KeyIn(b.table, b.key, QuoteIdentifier(b.key), keys, &params);
  return Exec(sql, params);
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

namespace {

std::string Names(const std::vector<ColumnInfo>& columns) {
  std::string names;
  for (const auto& c : columns) names += (names.empty() ? "" : ", ") + QuoteIdentifier(c.name);
  return names;
}

size_t KeyIndex(const std::vector<ColumnInfo>& columns, const std::string& key) {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].name == key) return i;
  return columns.size();
}

enum class Archived { kNo, kSame, kOther };

// Whether `row` (the source's columns) is already archived: an identical row (by the text
// of every column) is; another row under the same key is a conflict.
Archived Lookup(const std::multimap<std::string, SqlConnector::Row>& archived, const std::string& key,
                const SqlConnector::Row& row) {
  auto [first, last] = archived.equal_range(key);
  if (first == last) return Archived::kNo;
  for (auto it = first; it != last; ++it)
    if (std::equal(row.begin(), row.end(), it->second.begin(), it->second.end()))
      return Archived::kSame;
  return Archived::kOther;
}

constexpr const char* kArchiveConflict =
    "the archive already holds a different record under this key: the record is kept (see docs/reliability.md)";

}  // namespace

Result<std::multimap<std::string, SqlConnector::Row>> SqlConnector::RowsByKey(const std::string& table,
                                                                             const std::string& key,
                                                                             const std::vector<ColumnInfo>& columns,
                                                                             const std::vector<std::string>& keys) {
  std::multimap<std::string, Row> out;
  size_t k = KeyIndex(columns, key);
  if (k == columns.size()) return Status::InvalidArgument(fmt::format("key column '{}' is not in {}", key, table));
  std::vector<Value> params;
  std::string sql = "SELECT " + Names(columns) + " FROM " + QuoteIdentifier(table) + " WHERE " +
                    KeyIn(table, key, QuoteIdentifier(key), keys, &params);
  Status s = Query(sql, params, [&](const Row& r) {
    out.emplace(r[k].value_or(""), r);
    return true;
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<std::string>> SqlConnector::ArchiveBatch(const ApplyRequest& request,
                                                            const std::vector<std::string>& keys,
                                                            std::vector<ApplyFailure>* refused) {
  const Binding& b = *request.binding;
  auto columns = Describe(b.table);
  if (!columns.ok()) return columns.status();
  SqlConnector* target = dynamic_cast<SqlConnector*>(request.archive_target);
  if (!target) return Status::InvalidArgument(fmt::format("binding {}: the archive store is not an SQL store", b.name));
  std::vector<std::string> archived;
  if (target == this) {
    auto here = ArchiveHere(request, *columns, keys, refused);
    if (!here.ok()) return here.status();
    archived = std::move(*here);
  } else {
    // Another database: copy there first (committed), then delete here.
    auto source = RowsByKey(b.table, b.key, *columns, keys);
    if (!source.ok()) return source.status();
    ArchiveRows rows{b.archive->table, b.key, *columns, {}, b.rule ? b.rule->id : b.rule_id, request.run_id,
                     request.as_of};
    for (auto& [key, row] : *source) rows.rows.push_back(row);
    auto written = target->WriteArchive(rows);
    if (!written.ok()) return written.status();
    for (const auto& [key, row] : *source)
      if (std::find(written->refused.begin(), written->refused.end(), key) == written->refused.end())
        archived.push_back(key);
      else refused->push_back({key, kArchiveConflict});
  }
  if (Status s = DeleteKeys(b, archived); !s.ok()) return s;
  return archived;
}

// The archive table is in this database: copy and delete in the caller's transaction.
Result<std::vector<std::string>> SqlConnector::ArchiveHere(const ApplyRequest& request,
                                                           const std::vector<ColumnInfo>& columns,
                                                           const std::vector<std::string>& keys,
                                                           std::vector<ApplyFailure>* refused) {
  const Binding& b = *request.binding;
  if (Status s = EnsureArchiveTable(b.archive->table, b.key, columns); !s.ok()) return s;
  auto source = RowsByKey(b.table, b.key, columns, keys);
  if (!source.ok()) return source.status();
  auto before = RowsByKey(b.archive->table, b.key, columns, keys);
  if (!before.ok()) return before.status();
  std::vector<std::string> copy, archived;
  for (const auto& [key, row] : *source) {
    Archived a = Lookup(*before, key, row);
    if (a == Archived::kOther) refused->push_back({key, kArchiveConflict});
    else (a == Archived::kNo ? copy : archived).push_back(key);
  }
  if (!copy.empty()) {
    // A plain INSERT: a conflict the lookup did not see fails the batch, never ignored.
    // Placeholders are appended one statement at a time: SQLite numbers "?" in text order.
    std::string names = Names(columns);
    std::vector<Value> params;
    std::string sql = "INSERT INTO " + QuoteIdentifier(b.archive->table) + " (" + names +
                      ", \"archived_at\", \"rule_id\", \"run_id\") SELECT " + names;
    sql += ", " + Param(&params, request.as_of.ToString(), true);
    sql += ", " + Param(&params, b.rule ? b.rule->id : b.rule_id);
    sql += ", " + Param(&params, request.run_id);
    sql += " FROM " + QuoteIdentifier(b.table) + " AS t WHERE ";
    sql += KeyIn(b.table, b.key, "t." + QuoteIdentifier(b.key), copy, &params);
    if (Status s = Exec(sql, params); !s.ok()) return s;
  }
  archived.insert(archived.end(), copy.begin(), copy.end());
  return archived;
}

Result<ArchiveWrite> SqlConnector::WriteArchive(const ArchiveRows& rows) {
  if (Status s = Begin(); !s.ok()) return s;
  auto fail = [&](Status s) -> Result<ArchiveWrite> {
    Rollback();
    return s;
  };
  if (Status s = EnsureArchiveTable(rows.table, rows.key, rows.columns); !s.ok()) return fail(s);
  size_t k = KeyIndex(rows.columns, rows.key);
  std::vector<std::string> keys;
  for (const auto& r : rows.rows) keys.push_back(k < r.size() ? r[k].value_or("") : "");
  auto before = RowsByKey(rows.table, rows.key, rows.columns, keys);
  if (!before.ok()) return fail(before.status());
  ArchiveWrite out;
  for (size_t i = 0; i < rows.rows.size(); ++i) {
    Archived a = Lookup(*before, keys[i], rows.rows[i]);
    if (a == Archived::kOther) out.refused.push_back(keys[i]);
    if (a != Archived::kNo) continue;
    std::vector<Value> params;
    std::string marks;
    for (const auto& v : rows.rows[i]) marks += (marks.empty() ? "" : ", ") + Param(&params, v);
    marks += ", " + Param(&params, rows.archived_at.ToString(), true);
    marks += ", " + Param(&params, rows.rule_id);
    marks += ", " + Param(&params, rows.run_id);
    std::string sql = "INSERT INTO " + QuoteIdentifier(rows.table) + " (" + Names(rows.columns) +
                      ", \"archived_at\", \"rule_id\", \"run_id\") VALUES (" + marks + ")";
    if (Status s = Exec(sql, params); !s.ok()) return fail(s);
  }
  if (Status s = Commit(); !s.ok()) return fail(s);
  return out;
}

Status SqlConnector::PseudonymiseBatch(const ApplyRequest& request, const std::vector<std::string>& keys) {
  const Binding& b = *request.binding;
  const PseudonymiseSettings& p = *b.pseudonymise;
  if (!request.tokenise) return Status::FailedPrecondition("no pseudonymisation key");
  std::string cols;
  for (const auto& c : p.columns) cols += ", " + QuoteIdentifier(c);
  std::vector<Row> rows;
  std::vector<Value> select_params;
  Status s = Query("SELECT " + QuoteIdentifier(b.key) + cols + " FROM " + QuoteIdentifier(b.table) + " WHERE " +
                       KeyIn(b.table, b.key, QuoteIdentifier(b.key), keys, &select_params),
                   select_params, [&](const Row& r) {
                     rows.push_back(r);
                     return true;
                   });
  if (!s.ok()) return s;
  for (const auto& r : rows) {
    std::vector<Value> params;
    std::string set;
    for (size_t c = 0; c < p.columns.size(); ++c) {
      set += (set.empty() ? "" : ", ") + QuoteIdentifier(p.columns[c]) + " = ";
      set += Param(&params, r[c + 1] ? Value(request.tokenise(*r[c + 1])) : Value());
    }
    for (const auto& c : p.null_columns) set += (set.empty() ? "" : ", ") + QuoteIdentifier(c) + " = NULL";
    set += (set.empty() ? "" : ", ") + QuoteIdentifier(p.marker_column) + " = ";
    set += Param(&params, request.as_of.ToString(), true);
    std::string sql = "UPDATE " + QuoteIdentifier(b.table) + " SET " + set + " WHERE ";
    sql += KeyIn(b.table, b.key, QuoteIdentifier(b.key), {r[0].value_or("")}, &params);
    if (Status u = Exec(sql, params); !u.ok()) return u;
  }
  return Status::Ok();
}

}  // namespace retention
