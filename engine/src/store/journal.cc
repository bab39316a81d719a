// The journal of an SQL store: the digests of the records a batch changed, written in
// the same transaction as the change. A committed change therefore always has its
// journal rows; the engine removes them (Confirm) once the batch's audit entry is
// committed in the state database, and turns the rows left by an interrupted run into
// audit entries (Recover, engine/src/run/recover.cc). Raw keys are never written: only
// their HMAC digests under the audit key.
#include <algorithm>

#include <fmt/format.h>

#include "store/sql_connector.h"

namespace retention {
namespace {

constexpr const char* kJournal = "\"_retention_journal\"";
constexpr size_t kDigestsPerRow = 200;

}  // namespace

Result<bool> SqlConnector::JournalHasOwner() {
  auto columns = Describe("_retention_journal");
  if (!columns.ok()) return columns.status();
  for (const auto& c : *columns)
    if (c.name == "owner") return true;
  return false;
}

Status SqlConnector::PrepareJournal() {
  if (journal_ready_) return Status::Ok();
  // Instances starting together on a new database would race on CREATE TABLE IF NOT
  // EXISTS (PostgreSQL: a unique violation): the first creation is serialized.
  auto exists = TableExists("_retention_journal");
  if (!exists.ok()) return exists.status();
  if (!*exists) {
    if (Status s = LockForDdl(); !s.ok()) return s;
    return Exec(fmt::format("CREATE TABLE IF NOT EXISTS {} (batch TEXT NOT NULL, seq INTEGER NOT NULL, "
                            "run_id TEXT NOT NULL, binding TEXT NOT NULL, action TEXT NOT NULL, "
                            "key_digest TEXT NOT NULL, owner TEXT, PRIMARY KEY (batch, seq))",
                            kJournal),
                {});
  }
  // A journal created before owners were recorded gains the column (its rows keep NULL).
  auto has_owner = JournalHasOwner();
  if (!has_owner.ok()) return has_owner.status();
  if (!*has_owner) {
    if (Status s = LockForDdl(); !s.ok()) return s;
    has_owner = JournalHasOwner();  // another instance may have added it meanwhile
    if (!has_owner.ok()) return has_owner.status();
    if (!*has_owner) return Exec(fmt::format("ALTER TABLE {} ADD COLUMN owner TEXT", kJournal), {});
  }
  journal_ready_ = true;  // only once seen committed (a creation may still roll back)
  return Status::Ok();
}

Result<std::string> SqlConnector::WriteJournal(const ApplyRequest& request, const std::vector<std::string>& applied) {
  if (!request.key_digest || applied.empty()) return std::string();
  if (Status s = PrepareJournal(); !s.ok()) return s;
  const std::string owner = request.key_digest(kJournalOwner);
  // Two deployments sharing the store may both be at run 5 of a binding named alike.
  std::string batch = fmt::format("{}:{}:{}:{}", owner.substr(0, 16), request.run_id, request.binding->name,
                                  ++journal_seq_);
  // A row holds the digests of up to kDigestsPerRow keys, comma-separated (a digest is
  // hexadecimal): a few rows per batch instead of one per record.
  std::vector<Value> params;
  std::string sql = fmt::format("INSERT INTO {} (batch, seq, run_id, binding, action, key_digest, owner) VALUES ", kJournal);
  for (size_t start = 0, row = 0; start < applied.size(); start += kDigestsPerRow, ++row) {
    size_t end = std::min(applied.size(), start + kDigestsPerRow);
    std::string digests;
    for (size_t i = start; i < end; ++i) digests += (i == start ? "" : ",") + request.key_digest(applied[i]);
    sql += row == 0 ? "(" : ", (";
    for (int c = 0; c < 7; ++c) sql += (c ? ", " : "") + dialect().Placeholder(static_cast<int>(params.size()) + c + 1);
    sql += ")";
    params.insert(params.end(), {batch, std::to_string(row), request.run_id, request.binding->name,
                                 std::string(PhaseName(request.action)), std::move(digests), owner});
  }
  if (Status s = Exec(sql, params); !s.ok()) return s;
  return batch;
}

Status SqlConnector::Confirm(const std::string& staged) {
  auto exists = TableExists("_retention_journal");
  if (!exists.ok()) return exists.status();
  if (!*exists) return Status::Ok();
  return Exec(fmt::format("DELETE FROM {} WHERE batch = {}", kJournal, dialect().Placeholder(1)), {staged});
}

Result<std::vector<StagedBatch>> SqlConnector::Recover() {
  std::vector<StagedBatch> out;
  auto exists = TableExists("_retention_journal");
  if (!exists.ok()) return exists.status();
  if (!*exists) return out;
  auto has_owner = JournalHasOwner();
  if (!has_owner.ok()) return has_owner.status();
  Status s = Query(fmt::format("SELECT batch, run_id, binding, action, key_digest, {} FROM {} ORDER BY batch, seq",
                               *has_owner ? "owner" : "NULL", kJournal),
                   {}, [&](const Row& r) {
                     if (out.empty() || out.back().id != r[0].value_or("")) {
                       StagedBatch b;
                       b.id = r[0].value_or("");
                       b.run_id = r[1].value_or("");
                       b.binding = r[2].value_or("");
                       b.action = PhaseFromName(r[3].value_or("")).value_or(Phase::kActive);  // unknown: refused
                       b.owner = r[5].value_or("");
                       out.push_back(std::move(b));
                     }
                     std::string digests = r[4].value_or("");
                     for (size_t start = 0; start <= digests.size();) {
                       size_t comma = std::min(digests.find(',', start), digests.size());
                       if (comma > start) out.back().key_digests.push_back(digests.substr(start, comma - start));
                       start = comma + 1;
                     }
                     return true;
                   });
  if (!s.ok()) return s;
  return out;
}

}  // namespace retention
