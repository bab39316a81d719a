// The part of a connector that is the same for every SQL store: scanning with the
// pushed-down predicate, re-checking and applying a batch in one transaction, copying
// to an archive table idempotently. A store implements only the primitives below
// (SQLite and PostgreSQL in connectors/).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "retention/connector.h"
#include "retention/sql.h"

namespace retention {

class SqlConnector : public Connector {
 public:
  using Value = std::optional<std::string>;  // NULL or the value as text
  using Row = std::vector<Value>;

  Result<int64_t> Count(const Binding& binding) override;
  Status Scan(const ScanRequest& request, const std::function<bool(std::vector<RawRecord>&)>& sink) override;
  Result<ApplyResult> Apply(const ApplyRequest& request) override;
  Status WriteArchive(const ArchiveRows& rows) override;
  // The journal (engine/src/store/journal.cc): a table `_retention_journal` in the
  // store's own schema, written in the transaction of each change.
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

 private:
  Result<std::vector<RawRecord>> ReadRecords(const Binding& binding, const std::vector<std::string>& facts,
                                             const std::vector<std::string>& keys);
  std::string SelectList(const Binding& binding, const std::vector<std::string>& facts) const;
  static RawRecord ToRecord(const Binding& binding, size_t facts, const Row& row);
  std::string KeyList(size_t count, int first_param) const;
  Status EnsureArchiveTable(const std::string& table, const std::string& key, const std::vector<ColumnInfo>& columns);
  Status ArchiveBatch(const ApplyRequest& request, const std::vector<std::string>& keys);
  Status PseudonymiseBatch(const ApplyRequest& request, const std::vector<std::string>& keys);
  // Inside Apply's transaction: journals the applied keys' digests; the batch's id.
  Result<std::string> WriteJournal(const ApplyRequest& request, const std::vector<std::string>& applied);
  int64_t journal_seq_ = 0;
};

}  // namespace retention
