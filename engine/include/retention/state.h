// The state database (SQLite, owner-only files): runs, operator holds and the audit
// trail. The audit is a keyed hash chain: each entry stores the HMAC-SHA-256, under the
// deployment's audit key, of its canonical text including the previous entry's hash, so
// that changing, removing or reordering an entry, or recomputing the chain without the
// key, is detected by VerifyAudit. Runs, holds (placed and released), approvals,
// `--allow-mass`, assumptions and policy or configuration changes are entries of the
// same chain; each run's head is also written to anchors outside the database (an
// append-only file, syslog), which VerifyAudit checks the chain against.
// Keys and subjects are stored only as HMAC digests under the audit key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "retention/date.h"
#include "retention/plan.h"
#include "retention/policy.h"
#include "retention/state_backend.h"
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
  std::string binding;  // for kKey: the binding whose records it names (BindingRecordsOf)
  std::string reason;
  std::string author;
  std::string created_at;
  std::string released_at;  // empty while active
  std::string release_reason;
  std::string release_author;
};
const char* HoldKindName(OperatorHold::Kind kind);  // "subject", "key", "rule", "store"

// The kinds of audit entries.
namespace audit_kind {
inline constexpr const char* kBatch = "batch";                // an applied batch (binding, action, keys)
inline constexpr const char* kRunStart = "run_start";         // as-of date, policy and configuration hashes
inline constexpr const char* kRunEnd = "run_end";             // status and counts
inline constexpr const char* kPolicyChange = "policy_change";  // the policy set differs from the previous run's
inline constexpr const char* kConfigChange = "configuration_change";
inline constexpr const char* kHoldAdd = "hold_add";
inline constexpr const char* kHoldRelease = "hold_release";
inline constexpr const char* kApproval = "approval";          // run --approved: plan id, approver, digest
inline constexpr const char* kAllowMass = "allow_mass";       // run --allow-mass and the guards it overrode
inline constexpr const char* kAssumptions = "assumptions";    // per binding, the facts assumed (assume:)
inline constexpr const char* kPolicyLock = "policy_lock";     // a rule locked at a version (policies lock)
inline constexpr const char* kPolicyUnlock = "policy_unlock"; // a lock overridden (policies unlock)
inline constexpr const char* kLockOverride = "lock_override"; // a run acted earlier than a lock it overrode allowed
}  // namespace audit_kind

// A policy set a plan or run used, kept under its version (policy_change.h).
struct PolicyVersionRecord {
  std::string id;                          // PolicyVersionId: the set's meaning
  std::string first_used;                  // UTC, ISO 8601
  std::vector<std::string> policy_hashes;  // the file-level hashes (PolicySet::hash) seen with this meaning
  int64_t plans = 0;                       // plans made with it
  std::string last_planned;
  std::vector<RunRecord> runs;             // runs that used it
};

// A rule locked at a version: while it holds, no run may act on a record of the rule
// earlier than that version would. Read from the audit chain (the latest lock or
// override of each rule).
struct PolicyLock {
  int64_t entry = 0;  // the policy_lock entry
  std::string rule_id;
  std::string version;    // PolicyVersionId of the set it was locked in
  std::string rule_hash;  // RuleMeaningHash of the rule then
  std::string reason, author, time;
  int64_t override_entry = 0;  // the policy_unlock entry; 0 while the lock holds
  std::string override_reason, override_author, override_time;
};

struct AuditEntry {
  int64_t id = 0;
  int64_t run_id = 0;  // 0 for entries outside a run (holds)
  std::string time;    // UTC, ISO 8601
  std::string kind = audit_kind::kBatch;
  std::string binding;
  std::string rule_id;
  std::string action;
  int64_t count = 0;
  std::vector<std::string> key_digests;  // HMAC-SHA-256(audit key, key)
  std::string policy_hash;
  std::string detail;  // JSON object: the kind's own fields ("{}" when none)
  std::string prev_hash;
  std::string hash;  // HMAC-SHA-256(audit key, AuditCanonical(entry)), prev_hash included
};

struct AuditVerification {
  bool ok = true;
  int64_t entries = 0;
  int64_t first_bad_id = 0;  // 0 when ok; the entry (or hold, run, anchor line) named by `problem`
  std::string problem;
  std::string head;          // hash of the last entry
  int64_t anchors = 0;       // anchors checked
  std::string anchor_note;   // e.g. that no anchor file is configured
  // The first batch entry whose MAC was recomputed (1: every entry; the entries that are
  // not batches are always recomputed), and when the whole chain was last recomputed (UTC, "YYYY-MM-DDTHH:MM:SSZ"; this verification's time when full).
  int64_t macs_from = 1;
  std::string full_at;
};

// How much of the chain VerifyAudit recomputes. Every entry's id and link, the anchors,
// holds, runs and policy versions are always checked, and every entry that is not a batch
// is recomputed; kSinceVerified recomputes the batch entries (the ones holding key
// digests: the bulk of a history) only from the head the last run verified (recorded,
// under the chain's MAC, in its run_start entry, with the ids of the other entries up to
// it), unless the whole chain was last recomputed kFullVerifyDays or more ago. An old
// batch entry rewritten in place by someone without the key is then found by the next
// full verification (`audit verify`, or a run at least once every kFullVerifyDays).
enum class ChainScope { kFull, kSinceVerified };
inline constexpr int kFullVerifyDays = 7;

// Where each run's head is anchored outside the state database.
struct AnchorSettings {
  std::string file;     // append-only file of anchors ("" = none)
  bool syslog = false;  // also send each anchor to syslog (LOG_AUTHPRIV | LOG_NOTICE)
};

class StateDb {
 public:
  ~StateDb();
  StateDb(StateDb&&) noexcept;
  StateDb& operator=(StateDb&&) noexcept;

  // Opens or creates the database; the files are created owner-only (0600). A
  // database whose audit table predates the keyed chain is refused.
  static Result<StateDb> Open(const std::string& path, std::string audit_key, AnchorSettings anchors = {});
  // The same over another backend (a PostgreSQL state database: ConnectorRegistry::OpenState).
  static Result<StateDb> Open(std::unique_ptr<StateBackend> sql, std::string audit_key, AnchorSettings anchors = {});

  // The run lock: exclusive (a second concurrent run gets an error), or shared by runs
  // that divide the bindings by lease (Shared()).
  Status LockForRun(bool shared = false);
  void Unlock();
  // Whether the database can be shared by several instances (PostgreSQL).
  bool Shared() const;

  // Lease-sharded runs (a shared database and `lease_seconds`, docs/scaling.md), on the
  // work table `leases`. ClaimBinding takes one of `bindings` that is neither completed
  // for `as_of` nor leased by a live instance (SELECT ... FOR UPDATE SKIP LOCKED), for
  // `seconds` of the database's clock; nullopt when none is left. A dead instance's
  // lease expires and its binding can be claimed again.
  Result<std::optional<std::string>> ClaimBinding(const std::vector<std::string>& bindings, Date as_of,
                                                  const std::string& owner, int seconds);
  // Extends a lease, even one past its expiry that no other instance has claimed since;
  // false when it was lost (another instance took it).
  Result<bool> RenewLease(const std::string& binding, const std::string& owner, int seconds);
  // Gives a lease back; `done` records the binding completed for `as_of` by `run_id`.
  Status ReleaseLease(const std::string& binding, const std::string& owner, Date as_of, bool done, int64_t run_id);
  // The fence of a leased binding: while set, every batch transaction (BeginBatch)
  // first extends this lease under its row lock, held until the batch commits, so no
  // other instance can claim the binding while a batch is being applied; a lease found
  // lost makes BeginBatch fail and LeaseLost() true. An empty binding clears the fence.
  void FenceBatches(const std::string& binding, const std::string& owner, int seconds);
  bool LeaseLost() const;

  Result<std::optional<RunRecord>> LastRun(bool applied_only) const;
  Result<std::vector<RunRecord>> Runs() const;
  // Inserts the run and its run_start entry, plus a policy_change or
  // configuration_change entry when the hashes differ from the previous run's. The
  // entry names `policy_version` (recorded before, RecordPolicyVersion) when given:
  // `audit verify` then requires that version and its files' hash to stay recorded.
  Result<int64_t> BeginRun(Date as_of, const std::string& policy_hash, const std::string& config_hash,
                           const std::string& status, const std::string& policy_version = "");
  // Updates the run, appends its run_end entry and writes the anchors.
  Status EndRun(int64_t id, const std::string& status, const std::string& counts_json);

  // Appends one typed entry (approval, allow_mass, assumptions...) in its own
  // transaction. `detail` is a JSON object.
  Status Record(int64_t run_id, const std::string& kind, const std::string& binding, const std::string& detail);
  // The run that used an approved plan's id, if any (from the chain).
  Result<std::optional<int64_t>> ApprovalUsedBy(const std::string& plan_id) const;

  // Holds, each placed and released with an entry in the chain. Subjects and keys are
  // stored as digests.
  Result<int64_t> AddHold(OperatorHold::Kind kind, const std::string& value, const std::string& binding,
                          const std::string& reason, const std::string& author = "");
  Status ReleaseHold(int64_t id, const std::string& reason, const std::string& author = "");
  Result<std::vector<OperatorHold>> Holds(bool include_released) const;
  // A checker over the active holds (those active in the holds table or in the chain),
  // reloaded at every BeginBatch.
  const HoldChecker& holds() const;
  Status ReloadHolds();

  // One applied batch: BeginBatch (BEGIN IMMEDIATE: holds re-read under the lock),
  // then AppendAudit and CommitBatch after the store committed, or AbortBatch.
  Status BeginBatch();
  Status AppendAudit(int64_t run_id, const AppliedBatch& batch, const std::string& policy_hash);
  Status CommitBatch();
  void AbortBatch();

  Result<std::vector<AuditEntry>> Audit(std::optional<int64_t> run_id) const;
  // Recomputes the keyed chain (all of it, or as `scope` says); checks the holds and
  // runs tables against it and the chain against the anchors. A successful verification
  // is recorded in the run_start entry of the next BeginRun.
  Result<AuditVerification> VerifyAudit(ChainScope scope = ChainScope::kFull) const;

  std::string Digest(const std::string& value) const;  // HMAC-SHA-256(audit key, value), hex

  // Policy versions: the texts of each set a plan or run used, kept once per version
  // under a MAC (VerifyAudit checks it), with the file-level hashes that had it.
  Status RecordPolicyVersion(const PolicySet& set, bool plan);
  Result<std::vector<PolicyVersionRecord>> PolicyVersions() const;
  // The full id of a recorded version from an unambiguous prefix (8 characters or more).
  Result<std::string> FindPolicyVersion(const std::string& prefix) const;
  // A recorded version loaded again from its texts (MAC and version checked).
  Result<PolicySet> LoadPolicyVersion(const std::string& id) const;

  // Locks `rule_ids` of `set` at its version (its texts recorded), one policy_lock entry
  // each; the chain must verify first. A rule already locked is locked again at this version.
  Status LockRules(const PolicySet& set, const std::vector<std::string>& rule_ids, const std::string& reason,
                   const std::string& author);
  // Overrides the locks of `rule_ids` (each must be locked): a policy_unlock entry each.
  Status UnlockRules(const std::vector<std::string>& rule_ids, const std::string& reason, const std::string& author);
  // The latest lock of each locked or overridden rule, by rule id.
  Result<std::vector<PolicyLock>> PolicyLocks() const;

  struct Impl;

 private:
  explicit StateDb(std::unique_ptr<Impl> impl);
  Result<AuditVerification> VerifyAuditInSnapshot(const std::optional<std::string>& anchors, ChainScope scope) const;
  std::unique_ptr<Impl> impl_;
};


}  // namespace retention
