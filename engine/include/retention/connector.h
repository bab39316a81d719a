// Connectors: the one interface through which the engine reads and changes a store.
// The engine plans; a connector scans candidates with the pushed-down predicate and
// applies one batch of actions per transaction. Implementations live in connectors/
// (sqlite, postgres, files) and are registered explicitly in a ConnectorRegistry; a
// library user can register their own type.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "retention/deployment.h"
#include "retention/predicate.h"
#include "retention/state_backend.h"
#include "retention/status.h"

namespace retention {

struct ColumnInfo {
  std::string name;
  std::string type;  // as the store names it
  bool primary_key = false;
};

// One candidate record, as text from the store; the engine parses the facts.
struct RawRecord {
  std::string key;
  std::string subject;
  std::vector<std::optional<std::string>> facts;  // in the order of ScanRequest::facts
  bool pseudonymised = false;                     // the binding's marker is set
};

struct ScanRequest {
  const Binding* binding = nullptr;
  std::vector<std::string> facts;     // the facts to read (names in binding.facts)
  std::optional<Predicate> where;     // null: every row (the streaming fallback)
  size_t batch_size = 500;
};

// Rows counted by their facts instead of read one by one (Connector::Group): the rows
// for which `where` is true, less those for which `exclude` is true (SQL's three
// values: a NULL `exclude` does not exclude). A fast plan evaluates each group once.
struct GroupRequest {
  const Binding* binding = nullptr;
  std::vector<std::string> facts;     // grouped by, in this order (names in binding.facts)
  std::optional<Predicate> where;     // null: every row
  std::optional<Predicate> exclude;   // null: none
};

// The rows sharing one combination of facts (and of the pseudonymisation marker).
struct RecordGroup {
  std::vector<std::optional<std::string>> facts;  // as RawRecord::facts
  bool pseudonymised = false;
  int64_t rows = 0;
};

// What to do to a batch of records, in one transaction of the source store.
struct ApplyRequest {
  const Binding* binding = nullptr;
  Phase action = Phase::kDelete;
  std::vector<std::string> keys;
  std::string run_id;
  Date as_of;
  // Re-checked inside the transaction, on the rows as they are now (facts re-read in
  // ScanRequest order): only records for which it returns true are changed.
  std::vector<std::string> facts;
  std::function<bool(const RawRecord&)> still_due;
  // archive: the connector of the archive store (may be this one), and the rule id.
  class Connector* archive_target = nullptr;
  // pseudonymise: value → token (keyed HMAC); never logged.
  std::function<std::string(const std::string&)> tokenise;
  // key → its audit digest (HMAC under the audit key). When set, a transactional store
  // journals the batch's digests in the same transaction as the change (ApplyResult::
  // staged), so that a change committed before its audit entry is found by Recover.
  std::function<std::string(const std::string&)> key_digest;
};

// A record the store could not change; `reason` never quotes the key.
struct ApplyFailure {
  std::string key;
  std::string reason;
};

// What one Apply did. A partially applied batch (a store without transactions) lists
// exactly the keys changed in `applied` and the others in `failed`; the caller records
// `applied` before reporting the failures.
struct ApplyResult {
  std::vector<std::string> applied;  // keys changed
  std::vector<std::string> skipped;  // keys no longer due (or gone) at apply time
  std::vector<ApplyFailure> failed;  // keys that could not be changed (the run fails)
  // Keys kept because acting on them was unsafe (the key matched several rows, the
  // archive holds another record under it): reported, the run is incomplete.
  std::vector<ApplyFailure> refused;
  // Non-empty: the changes are staged (e.g. files moved to the store's trash), not yet
  // final; the caller calls Confirm(staged) once it has recorded `applied`.
  std::string staged;
};

// A staged batch left by an interrupted run (see Connector::Recover).
struct StagedBatch {
  std::string id;       // pass to Confirm once recorded
  std::string run_id;   // ApplyRequest::run_id of the run that staged it
  std::string binding;  // Binding::name
  Phase action = Phase::kDelete;
  std::vector<std::string> keys;  // the records changed (and not yet recorded, as far as the store knows)
  // Instead of `keys`: their audit digests (a store's journal never holds raw keys).
  std::vector<std::string> key_digests;
  // The deployment that staged it: the digest of kJournalOwner under its audit key.
  // Empty when the store does not say (a journal written before owners were recorded).
  std::string owner;
};

// One store may serve several deployments (each with its own state database and audit
// key). Each journals its batches under key_digest(kJournalOwner) and recovers only its
// own: another deployment's interrupted batch is never recorded in the wrong audit.
inline constexpr const char* kJournalOwner = "retention:journal-owner";

// Rows copied into an archive table: the source's columns plus archived_at, rule_id, run_id.
// The archive table is keyed by the source's key column.
struct ArchiveRows {
  std::string table;
  std::string key;
  std::vector<ColumnInfo> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::string rule_id;
  std::string run_id;
  Date archived_at;
};

// What WriteArchive did: each row was written, or found already archived (an identical
// row under its key), or refused because a different record is archived under its key.
struct ArchiveWrite {
  std::vector<std::string> refused;  // keys of the rows not written (conflicts)
};

// A part of a binding's table that can be removed whole: a leaf partition of a
// PostgreSQL partitioned table (names as SQL, from the store's catalog).
struct TablePart {
  std::string name;    // the partition
  std::string parent;  // the table it is attached to
};

// Removes one part whose every row is due for deletion, instead of deleting its rows
// one by one (Connector::DropPart).
struct DropPartRequest {
  const Binding* binding = nullptr;
  TablePart part;
  std::vector<std::string> facts;  // read for each row, in ScanRequest order
  // Read first without a lock: a part with a row for which it returns false is left
  // alone at once (the engine's due set: cheap).
  std::function<bool(const RawRecord&)> candidate;
  // Then with the part and its parent locked: every row is re-read and must pass.
  std::function<bool(const RawRecord&)> still_due;
  std::string run_id;
  std::function<std::string(const std::string&)> key_digest;  // journaled as in ApplyRequest
  // The keys are journaled in batches of this many, in the order of DropPartResult::keys:
  // the engine records one audit entry per batch, so that no entry grows with the part.
  size_t chunk = 5000;
};

struct DropPartResult {
  bool dropped = false;
  std::vector<std::string> keys;    // the keys of the rows dropped
  std::vector<std::string> staged;  // one journal batch per `chunk` keys (ApplyResult::staged)
};

// Groups scanned records into batches for a Scan sink (every connector's Scan uses it).
class ScanBatcher {
 public:
  ScanBatcher(size_t size, std::function<bool(std::vector<RawRecord>&)> sink) : size_(size), sink_(std::move(sink)) {}
  // Adds a record; false once the sink asked to stop.
  bool Add(RawRecord record) {
    batch_.push_back(std::move(record));
    if (batch_.size() >= size_) Flush();
    return go_on_;
  }
  // Hands over what is left (call once, at the end of the scan).
  void Flush() {
    if (go_on_ && !batch_.empty()) go_on_ = sink_(batch_);
    batch_.clear();
  }

 private:
  size_t size_;
  std::function<bool(std::vector<RawRecord>&)> sink_;  // a copy: a temporary lambda may be passed
  std::vector<RawRecord> batch_;
  bool go_on_ = true;
};

class Connector {
 public:
  virtual ~Connector() = default;

  virtual const StoreConfig& config() const = 0;
  // The columns of a table (SQL) or the pseudo-columns of a file record.
  virtual Result<std::vector<ColumnInfo>> Describe(const std::string& table) = 0;
  // Counts the binding's rows (for the fraction guard).
  virtual Result<int64_t> Count(const Binding& binding) = 0;
  // Streams candidates to `sink` in batches; `sink` returns false to stop.
  virtual Status Scan(const ScanRequest& request, const std::function<bool(std::vector<RawRecord>&)>& sink) = 0;
  // Counts the rows of `request` by distinct facts, in the store (SQL's GROUP BY), for
  // plans that need counts, not keys. false: the store cannot; the engine reads the rows.
  virtual Result<bool> Group(const GroupRequest& /*request*/, const std::function<void(const RecordGroup&)>& /*sink*/) {
    return false;
  }
  // Applies one batch in one transaction (re-checking each record).
  virtual Result<ApplyResult> Apply(const ApplyRequest& request) = 0;
  // Archive side: copies rows, creating the table when needed, in one transaction. It
  // never ignores nor overwrites a conflict: a row identical to one already archived
  // under its key is already archived (nothing written); a row whose key is archived
  // with other values is not written and its key is returned in `refused` (the caller
  // keeps that source record). Any other failure writes nothing.
  virtual Result<ArchiveWrite> WriteArchive(const ArchiveRows& rows) = 0;
  // Checks that `column` identifies at most one row of `table`: a single-column primary
  // key, or a unique index on exactly that column declared NOT NULL. An error says why
  // not. The default is for stores whose keys are unique by construction (a file path).
  virtual Status CheckUniqueKey(const std::string& table, const std::string& column) {
    (void)table, (void)column;
    return Status::Ok();
  }
  // Makes a staged batch final (ApplyResult::staged, StagedBatch::id), after the caller
  // recorded it: e.g. unlinks the files moved to the trash. Idempotent.
  virtual Status Confirm(const std::string& /*staged*/) { return Status::Ok(); }
  // Stores without transactions: the batches a crashed run staged but never confirmed.
  // Their changes are done (the records are gone from the store) but may be unrecorded:
  // the caller records each batch not already recorded (under its run id), then calls
  // Confirm(id). Batches already confirmed are finished silently. SQL stores return
  // the batches journaled in their own transaction and not yet confirmed.
  virtual Result<std::vector<StagedBatch>> Recover() { return std::vector<StagedBatch>{}; }
  // The parts of the binding's table that DropPart can remove whole; none by default.
  virtual Result<std::vector<TablePart>> Parts(const Binding& /*binding*/) { return std::vector<TablePart>{}; }
  // Removes `request.part` in one transaction when every row of it passes `still_due`
  // with the part locked (and is not empty), journaling the keys' digests in the same
  // transaction; otherwise changes nothing (dropped = false).
  virtual Result<DropPartResult> DropPart(const DropPartRequest& /*request*/) { return DropPartResult{}; }
  // Whether this store can hold the archive of `source` in the same transaction.
  virtual bool SameTransactionAs(const Connector& other) const { return &other == this; }
};

using ConnectorFactory = std::function<Result<std::unique_ptr<Connector>>(const StoreConfig&)>;
// A state database on a server (`state: {type: ...}`), opened from its settings.
using StateFactory = std::function<Result<std::unique_ptr<StateBackend>>(const StoreConfig&)>;

// Explicit registry of connector types; no static self-registration.
class ConnectorRegistry {
 public:
  void Register(const std::string& type, ConnectorFactory factory) { factories_[type] = std::move(factory); }
  bool Has(const std::string& type) const { return factories_.count(type) > 0; }
  std::vector<std::string> Types() const;
  Result<std::unique_ptr<Connector>> Open(const StoreConfig& store) const;
  // State databases on a server ("postgres", registered by RegisterPostgresConnector).
  void RegisterState(const std::string& type, StateFactory factory) { states_[type] = std::move(factory); }
  Result<std::unique_ptr<StateBackend>> OpenState(const StoreConfig& state) const;

 private:
  std::map<std::string, ConnectorFactory> factories_;
  std::map<std::string, StateFactory> states_;
};

// The open connectors of a deployment, by store name.
class Stores {
 public:
  static Result<Stores> Open(const Deployment& deployment, const ConnectorRegistry& registry);
  // Opens every store it can: a store whose connector cannot reach it (kUnavailable,
  // kIoError, kNotFound: a server down, a file missing) is recorded as unavailable
  // instead, and its bindings are left out of plans and runs (exit code 5). Any other
  // error (an unknown type, a bad setting) fails the open.
  static Result<Stores> OpenAvailable(const Deployment& deployment, const ConnectorRegistry& registry);
  Connector* Find(const std::string& store) const;
  // Store name → why it could not be opened (empty when every store is open).
  const std::map<std::string, std::string>& unavailable() const { return unavailable_; }
  // Whether the binding's store and archive store are open.
  bool Available(const Binding& binding) const;

 private:
  std::map<std::string, std::shared_ptr<Connector>> connectors_;
  std::map<std::string, std::string> unavailable_;
};

// Checks every binding's key (present and unique: CheckUniqueKey), subject, fact columns
// and pseudonymised columns against the live schema; each problem is a diagnostic located
// at the binding. Bindings on unavailable stores are not checked.
Diagnostics ValidateSchemas(const Deployment& deployment, const Stores& stores);

}  // namespace retention
