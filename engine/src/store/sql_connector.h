// The part of a connector that is the same for every SQL store: scanning with the
// pushed-down predicate, re-checking and applying a batch in one transaction, copying
// to an archive table without ever ignoring a conflict. A store implements only the
// primitives below (SQLite and PostgreSQL in connectors/).
//
// Every statement that acts on records selects them with KeyIn. A key that matches more
// than one row when a batch is applied is refused (the rows are kept); an archive that
// already holds a different record under a key refuses that source record (kept too).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "retention/connector.h"
#include "store/sql.h"

namespace retention {

class SqlConnector : public Connector {
 public:
  using Value = std::optional<std::string>;  // NULL or the value as text
  using Row = std::vector<Value>;

  Result<int64_t> Count(const Binding& binding) override;
  Status Scan(const ScanRequest& request, const std::function<bool(std::vector<RawRecord>&)>& sink) override;
  Result<bool> Group(const GroupRequest& request, const std::function<void(const RecordGroup&)>& sink) override;
  Result<ApplyResult> Apply(const ApplyRequest& request) override;
  Result<ArchiveWrite> WriteArchive(const ArchiveRows& rows) override;
  // PostgreSQL: locks the parent and the part (ACCESS EXCLUSIVE, in that order, as an
  // insert takes them), re-reads and re-checks every row, journals, then DETACH + DROP.
  Result<DropPartResult> DropPart(const DropPartRequest& request) override;
  // The journal (engine/src/store/journal.cc): a table `_retention_journal` in the
  // store's own schema, written in the transaction of each change. Each row names the
  // deployment that wrote it (StagedBatch::owner).
  Status Confirm(const std::string& staged) override;
  Result<std::vector<StagedBatch>> Recover() override;

 protected:
  virtual SqlDialect dialect() const = 0;
  virtual Status Exec(const std::string& sql, const std::vector<Value>& params) = 0;
  // Calls `row` for each result row (streamed); `row` returns false to stop.
  virtual Status Query(const std::string& sql, const std::vector<Value>& params,
                       const std::function<bool(const Row&)>& row) = 0;
  virtual Status Begin() = 0;  // a write transaction (SQLite: BEGIN IMMEDIATE)
  virtual Status Commit() = 0;
  virtual void Rollback() = 0;
  // Whether `table` exists (for creating archive tables).
  virtual Result<bool> TableExists(const std::string& table) = 0;
  // Serializes the creation of the engine's own tables with other instances, until the
  // transaction ends (PostgreSQL: an advisory lock; SQLite's write lock already does).
  virtual Status LockForDdl() { return Status::Ok(); }
  // The condition "the key column `key` of `table` (as the SQL expression `column_sql`)
  // equals one of `keys`", appending its parameters to `params` (placeholders numbered
  // after those already there). Keys are text; the default compares them as text, which
  // the store converts to the column's type. A store whose column may hold values that
  // text does not convert to (SQLite without a declared type) overrides it.
  virtual std::string KeyIn(const std::string& table, const std::string& key, const std::string& column_sql,
                            const std::vector<std::string>& keys, std::vector<Value>* params);
  // The error of CheckUniqueKey when the store's catalog shows no unique key.
  static Status NotUniqueKey(const std::string& table, const std::string& column);
  // Appends `value` to `params`; returns its placeholder.
  std::string Param(std::vector<Value>* params, Value value, bool date = false) const;

 private:
  Result<std::vector<RawRecord>> ReadRecords(const Binding& binding, const std::vector<std::string>& facts,
                                             const std::vector<std::string>& keys);
  std::string SelectList(const Binding& binding, const std::vector<std::string>& facts) const;
  static RawRecord ToRecord(const Binding& binding, size_t facts, const Row& row);
  Status EnsureArchiveTable(const std::string& table, const std::string& key, const std::vector<ColumnInfo>& columns);
  // The rows of `table` under `keys` (columns `names`), by the text of their key column.
  Result<std::multimap<std::string, Row>> RowsByKey(const std::string& table, const std::string& key,
                                                     const std::vector<ColumnInfo>& columns,
                                                     const std::vector<std::string>& keys);
  // Archives `keys` (re-checked): the keys archived now or before; the others go to `refused`.
  Result<std::vector<std::string>> ArchiveBatch(const ApplyRequest& request, const std::vector<std::string>& keys,
                                                std::vector<ApplyFailure>* refused);
  Result<std::vector<std::string>> ArchiveHere(const ApplyRequest& request, const std::vector<ColumnInfo>& columns,
                                               const std::vector<std::string>& keys, std::vector<ApplyFailure>* refused);
  Status PseudonymiseBatch(const ApplyRequest& request, const std::vector<std::string>& keys);
  Status DeleteKeys(const Binding& binding, const std::vector<std::string>& keys);
  // Inside Apply's transaction: journals the applied keys' digests; the batch's id.
  Result<std::string> WriteJournal(const ApplyRequest& request, const std::vector<std::string>& applied);
  // Creates the journal table, or adds its `owner` column to one made before owners.
  Status PrepareJournal();
  Result<bool> JournalHasOwner();
  int64_t journal_seq_ = 0;
  bool journal_ready_ = false;  // the journal table was seen to exist
};

}  // namespace retention
