// The state database (SQLite, owner-only files): runs, operator holds and the audit
// trail. The audit is a hash chain: each entry stores the hash of the previous one,
// so that changing, removing or reordering an entry is detected by VerifyAudit.
// Keys and subjects are stored only as HMAC digests under the deployment's audit key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "retention/date.h"
#include "retention/plan.h"
#include "retention/status.h"

namespace retention {

struct RunRecord {
  int64_t id = 0;
  std::string started_at;  // UTC, ISO 8601
  std::string ended_at;
  Date as_of;
  std::string policy_hash;
  std::string config_hash;
  std::string status;  // running, done, guarded, failed, refused
  std::string counts;  // JSON
};

struct OperatorHold {
  enum class Kind { kSubject, kKey, kRule, kStore };
  int64_t id = 0;
  Kind kind = Kind::kRule;
  std::string value;    // rule id or store name; a digest for subjects and keys
  std::string binding;  // for kKey
  std::string reason;
  std::string created_at;
  std::string released_at;  // empty while active
  std::string release_reason;
};
const char* HoldKindName(OperatorHold::Kind kind);  // "subject", "key", "rule", "store"

struct AuditEntry {
  int64_t id = 0;
  int64_t run_id = 0;
  std::string time;  // UTC, ISO 8601
  std::string binding;
  std::string rule_id;
  std::string action;
  int64_t count = 0;
  std::vector<std::string> key_digests;  // HMAC-SHA-256(audit key, key)
  std::string policy_hash;
  std::string prev_hash;
  std::string hash;  // sha256 of the canonical entry, prev_hash included
};

struct AuditVerification {
  bool ok = true;
  int64_t entries = 0;
  int64_t first_bad_id = 0;  // 0 when ok
  std::string problem;
  std::string head;          // hash of the last entry
};

class StateDb {
 public:
  ~StateDb();
  StateDb(StateDb&&) noexcept;
  StateDb& operator=(StateDb&&) noexcept;

  // Opens or creates the database; the files are created owner-only (0600).
  static Result<StateDb> Open(const std::string& path, std::string audit_key);

  // Exclusive per state database: a second concurrent run gets an error.
  Status LockForRun();
  void Unlock();

  Result<std::optional<RunRecord>> LastRun(bool applied_only) const;
  Result<std::vector<RunRecord>> Runs() const;
  Result<int64_t> BeginRun(Date as_of, const std::string& policy_hash, const std::string& config_hash,
                           const std::string& status);
  Status EndRun(int64_t id, const std::string& status, const std::string& counts_json);

  // Holds. Subjects and keys are stored as digests.
  Result<int64_t> AddHold(OperatorHold::Kind kind, const std::string& value, const std::string& binding,
                          const std::string& reason);
  Status ReleaseHold(int64_t id, const std::string& reason);
  Result<std::vector<OperatorHold>> Holds(bool include_released) const;
  // A checker over the active holds, reloaded at every BeginBatch.
  const HoldChecker& holds() const;
  Status ReloadHolds();

  // One applied batch: BeginBatch (BEGIN IMMEDIATE: holds re-read under the lock),
  // then AppendAudit and CommitBatch after the store committed, or AbortBatch.
  Status BeginBatch();
  Status AppendAudit(int64_t run_id, const AppliedBatch& batch, const std::string& policy_hash);
  Status CommitBatch();
  void AbortBatch();

  Result<std::vector<AuditEntry>> Audit(std::optional<int64_t> run_id) const;
  Result<AuditVerification> VerifyAudit() const;

  std::string Digest(const std::string& value) const;  // HMAC-SHA-256(audit key, value), hex

 private:
  struct Impl;
  explicit StateDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The canonical text an audit entry's hash is computed over.
std::string AuditCanonical(const AuditEntry& entry);

}  // namespace retention
