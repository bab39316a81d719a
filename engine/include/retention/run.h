// The nightly job and the DPO's dry-run, as one function: plan, then (for a run) check
// the guards and apply. Used by `retention plan`, `retention run` and the daemon.
#pragma once

#include <map>
#include <set>
#include <optional>
#include <string>

#include "retention/clock.h"
#include "retention/plan.h"
#include "retention/state.h"

namespace retention {

// One binding and action of an approved plan: exactly the records it may act on.
struct ApprovedSet {
  int64_t count = 0;
  std::string digest;                 // SHA-256 over the sorted key digests, one a line
  std::set<std::string> key_digests;  // HMAC-SHA-256(audit key, key) of each record
};

// A saved plan (`retention plan --save`), approved by a person for `run --approved`.
// It carries no raw keys; its MAC (HMAC-SHA-256 under the audit key over
// ApprovalCanonical) binds every field, so an edited plan is refused.
struct ApprovedPlan {
  std::string plan_id;  // random; consumed by the run that uses it
  Date created;         // the day it was saved
  Date expires;         // the last day it may be used
  Date as_of;
  std::string policy_hash;
  std::string config_hash;
  std::map<std::string, std::map<Phase, ApprovedSet>> sets;  // binding → action → records
  std::string mac;
  std::string approved_by;  // who approved it: `run --approved-by`, required
};
// The text the plan's MAC is computed over.
std::string ApprovalCanonical(const ApprovedPlan& plan);

struct RunOptions {
  std::optional<Date> as_of;                 // default: today (clock)
  bool apply = false;                        // false: plan (dry-run)
  bool full_scan = false;                    // plan: evaluate every row (complete report)
  std::vector<std::string> only_bindings;
  bool allow_mass = false;                   // run: ignore the blast-radius guard
  std::optional<ApprovedPlan> approved;      // run: act only on these records, once, before expiry
  // plan: when set, RunOutcome::approval_json is the plan to save for approval, its
  // digests and MAC under this key (the audit key), valid `approval_days` days.
  std::string approval_key;
  int approval_days = 7;
  const Clock* clock = &SystemClock();
  std::string certificate_dir;               // run: where certificates go ("" = beside the state database)
  std::function<void(const Progress&)> progress;
  // run: asked before each batch; true stops the run there (recorded as interrupted,
  // RunOutcome::interrupted; the next run goes on). For signals and run windows.
  std::function<bool()> stop;
  std::map<std::string, std::string> pseudonymise_keys;  // binding → key
  // Passed to Execute: every evaluated record (for reports and tests).
  std::function<void(const Binding&, const RawRecord&, const Evaluation&, std::optional<Phase>)> on_record;
  Derivation derivation = Derivation::kSkip;  // kBuild: on_record's evaluations explain themselves
};

// A rule lock (state.h, PolicyLock) this policy set would break: some bound record of
// the rule would be archived, pseudonymised or deleted earlier than under the locked
// version. A run refuses it while the lock holds; once overridden, a run that relies on
// the override records it (a lock_override entry) and its certificate lists it.
struct LockFinding {
  PolicyLock lock;
  bool rule_missing = false;  // the locked rule is not in this policy set (removed or renamed)
  int64_t earlier = 0;        // records some action of which comes earlier
  int64_t at_once = 0;        // of them, due at once as of the date
  std::map<std::string, int64_t> by_binding;  // binding → records earlier
  std::map<Phase, int64_t> by_action;         // action → records for which it comes earlier
  bool overridden() const { return lock.override_entry != 0; }
  std::string Message() const;  // names the rule and the counts, never a key
};

struct RunOutcome {
  Plan plan;
  int64_t run_id = 0;              // 0 for a plan
  bool guard_tripped = false;      // some binding was skipped by a guard
  bool incomplete = false;         // some binding left due records undone (BindingPlan::Incomplete)
  bool interrupted = false;        // stopped between batches by RunOptions::stop
  std::string status;              // a run's status in the state database: done, guarded, incomplete, interrupted
  // Stores that could not be opened (Stores::OpenAvailable): their bindings were left
  // out; store → why.
  std::map<std::string, std::string> unavailable_stores;
  int64_t recovered_batches = 0;   // batches of an interrupted run recorded first (recover.h)
  int64_t recovered_records = 0;
  std::string certificate_json;    // paths, for a run
  std::string certificate_text;
  std::string approval_json;       // plan with approval_key: the file `plan --save` writes
  // Locks this policy set breaks (a plan lists them; a run refuses those still holding,
  // and lists the overridden ones it relied on).
  std::vector<LockFinding> lock_findings;
  // A lease-sharded run (docs/scaling.md): each binding this instance claimed, run as its
  // own run. Empty otherwise. run_id and the certificate paths are the last one's.
  struct LeasedBinding {
    std::string binding;
    int64_t run_id = 0;
    std::string status;
    std::string certificate_text;
    bool lease_lost = false;  // another instance took the binding over (this one stalled past its lease)
  };
  std::vector<LeasedBinding> leased;
  bool by_lease = false;  // the run divided the bindings by lease (even if it claimed none)
};

// Exit codes of `retention run` (docs/operations.md): refused runs are errors with
// Status codes: kFailedPrecondition (clock guard, lock, future date, an audit chain
// that does not verify, an approved plan stale, edited, replayed, expired or dated in
// the future, a locked rule that this policy set would make act earlier); kUnavailable
// when the stores of every selected binding are unavailable.
// Steps, in order: holds reloaded, bindings restricted to the open stores; a plan then
// executes once; a run checks its date, takes the run lock, records interrupted batches,
// checks the refusals, begins the run, dry-runs and applies the guards, applies in
// batches and writes the certificate.
Result<RunOutcome> PlanOrRun(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                             StateDb* state, const RunOptions& options);

// Why a run would skip this binding (its blast-radius guard: max_rows, max_fraction),
// "" when it would not. The one guard test, shared by runs and reports.
std::string GuardReason(const BindingPlan& plan, const Binding& binding);

std::string PlanToJson(const Plan& plan);
Result<ApprovedPlan> ParseApprovedPlan(const std::string& json);
std::string PlanToText(const Plan& plan);

}  // namespace retention
