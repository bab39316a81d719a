// The state database's private parts, shared by state.cc (runs, holds, batches) and
// audit_chain.cc (the keyed chain, its verification and anchors).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "retention/state.h"
#include "retention/state_backend.h"

namespace retention {

using StateValue = StateBackend::Value;
using StateRow = StateBackend::Row;

std::string NowUtc();

class ActiveHolds : public HoldChecker {
 public:
  std::vector<OperatorHold> holds;
  const StateDb* db = nullptr;
  std::optional<std::string> Held(const Binding& b, const std::string& key, const std::string& subject) const override;
  bool ByRecord(const Binding& b) const override;
};

struct StateDb::Impl {
  std::unique_ptr<StateBackend> sql;  // SQLite (sqlite_state.h) or a registered backend
  std::string key;
  AnchorSettings anchors;
  ActiveHolds active;
  struct Fence {
    std::string binding, owner;
    int seconds = 0;
  };
  std::optional<Fence> fence;  // StateDb::FenceBatches
  bool lease_lost = false;
  // The last successful VerifyAudit: the head it verified, and when the whole chain was
  // last recomputed. BeginRun records it in the run_start entry ("verified").
  struct Verified {
    int64_t through = 0;
    std::string head, full_at;
    std::string others;  // the MAC of the ids of the entries up to `through` that are not batches
  };
  mutable std::optional<Verified> verified;

  Status Query(const std::string& sql, const std::vector<StateValue>& params,
               const std::function<void(const StateRow&)>& row) const;
  Status Exec(const std::string& sql, const std::vector<StateValue>& params = {}) const;
  // Runs `body` inside a transaction of `kind` (ROLLBACK when it fails).
  Status Transaction(const std::function<Status()>& body, StateBackend::Txn kind = StateBackend::Txn::kWrite) const;

  std::string Mac(const std::string& text) const;  // HMAC-SHA-256 under the audit key, hex
  // Appends `entry` (id, time, prev_hash and hash are filled in) inside the caller's
  // transaction.
  Status AppendEntry(AuditEntry entry) const;
  Result<std::vector<AuditEntry>> Entries(const std::string& where, const std::vector<StateValue>& params) const;
  // The holds as the chain records them (placed, then released), by id.
  Result<std::vector<OperatorHold>> HoldsFromChain() const;
  // Appends the chain's length and head to the anchors.
  Status WriteAnchor(int64_t run_id) const;

  // Policy versions (policy_versions.cc).
  // Keeps the set's texts under `id` and its file hash, inside the caller's transaction.
  Status SaveVersion(const PolicySet& set, const std::string& id) const;
  // The versions' and file hashes' MACs, and every locked version present.
  AuditVerification VerifyVersions(AuditVerification v, const std::vector<AuditEntry>& entries) const;
};

namespace internal {
// Whether a chain last recomputed whole at `full_at` (UTC, as NowUtc writes it) must be
// recomputed whole on `today`: kFullVerifyDays or more later, a date in the future, or
// no readable date.
bool FullVerificationDue(const std::string& full_at, Date today);
}  // namespace internal

// Strict integer parsing of a stored column ("" or garbage: nullopt).
std::optional<int64_t> ParseInt(const StateValue& v);

}  // namespace retention
