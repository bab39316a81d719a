// Plan and run: one code path. A plan scans every binding, evaluates each candidate
// record and counts what is due; a run makes the same plan, checks the guards, then
// applies the due actions in batches (one transaction each), re-checking every record
// at the moment it is changed.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "retention/connector.h"
#include "retention/deployment.h"
#include "retention/evaluator.h"
#include "retention/policy.h"

namespace retention {

struct ActionSummary {
  int64_t count = 0;
  std::vector<std::string> sample_keys;  // the first few (plans show them; audits never)
};

struct BindingPlan {
  std::string binding;
  std::string rule_id;
  std::string store;
  std::string table;
  bool archived_view = false;
  bool manual = false;
  std::string manual_reason;
  std::string predicate;        // the pushed-down predicate, "" for a full scan
  bool exact_pushdown = false;
  int64_t total_rows = 0;       // rows of the binding in the store
  int64_t scanned = 0;          // rows the store returned
  std::map<Phase, ActionSummary> due;
  int64_t scheduled = 0;
  int64_t already_done = 0;     // e.g. archive due but the record is in the archive view
  ActionSummary held;           // data-driven holds
  ActionSummary operator_held;  // holds placed with `retention hold add`
  std::map<std::string, int64_t> missing;  // fact → records missing it
  bool missing_counted = false;             // `missing` covers every row (a full scan, or counted in the store)
  bool counted_in_store = false;            // counted by Connector::Group (BindingPlan::scanned: rows counted)
  std::vector<std::string> assumptions;     // the binding's `assume:` as "fact=value"
  std::map<std::string, int64_t> assumed;   // "fact=value" → due records whose date relied on it
  int64_t no_case = 0;
  std::vector<std::string> errors;  // records skipped because a value could not be read
  // Filled by a run.
  std::map<Phase, int64_t> applied;
  int64_t skipped_at_apply = 0;     // no longer due, or held, when re-checked
  int64_t refused_at_apply = 0;     // of those, kept because acting was unsafe (why: in errors)
  int64_t invalid_facts = 0;        // records kept because a stored value is not a valid fact (invalid_fact)
  int64_t not_approved = 0;         // due, but outside the approved plan: left as they are
  int64_t parts_dropped = 0;        // table parts removed whole (their rows are in `applied`)
  std::string guard;                // non-empty: why the binding was not applied

  int64_t DueTotal() const;
  // A run left due records undone: some were refused at apply, or records were due and
  // none could be applied. Such a run is not "done".
  // Records were left undone for a reason other than their dates: refused, none of the
  // due applied, or unreadable facts (invalid_fact). A run with such a binding is not done.
  bool Incomplete() const;
};

struct Plan {
  Date as_of;
  std::string policy_hash;
  std::string config_hash;
  bool full_scan = false;
  std::vector<BindingPlan> bindings;
  std::vector<const Rule*> manual_rules;  // the manual rules of every fiche the deployment binds
};

struct Progress {
  std::string binding;
  int64_t done = 0;
  int64_t total = 0;
};

// Operator holds, checked for every record when planning and again inside the
// transaction that changes it (state.h implements it over the state database).
class HoldChecker {
 public:
  virtual ~HoldChecker() = default;
  // A reason when the record is held, else nullopt.
  virtual std::optional<std::string> Held(const Binding& binding, const std::string& key,
                                          const std::string& subject) const = 0;
  // Whether a hold may apply to some records of the binding and not to others (a hold
  // on a key or a person). false: Held gives the same answer for every record of it, so
  // a plan may count its records by their facts without their keys.
  virtual bool ByRecord(const Binding& /*binding*/) const { return true; }
};

// Receives each applied batch (the audit trail, state.h).
struct AppliedBatch {
  const Binding* binding = nullptr;
  Phase action = Phase::kDelete;
  std::vector<std::string> keys;
  std::vector<std::string> subjects;
  // Set instead of `keys` for a batch recovered from a store's journal (recover.h).
  std::vector<std::string> key_digests;
  std::string part;  // non-empty: the batch is this table part, dropped whole (Connector::DropPart)
};
using BatchSink = std::function<Status(const AppliedBatch&)>;

struct ExecuteOptions {
  Date as_of;
  std::vector<std::string> only_bindings;  // empty: all
  bool full_scan = false;                  // stream every row instead of pushing the predicate down
  // A plan (not a run, no on_record) counts in the store where it can (Connector::Group):
  // the rows the predicate selects and the rows missing a fact, by distinct facts,
  // each combination evaluated once; then reads just enough due rows for the sample
  // keys. false: every selected row is read (tests compare both).
  bool count_in_store = true;
  // Counted in the store: also the rows missing a fact (a second GROUP BY, which may
  // read the whole table). A run's dry pass needs only the due counts.
  bool count_missing = true;
  bool apply = false;                      // false: plan only
  size_t sample_size = 5;
  std::string run_id;
  const HoldChecker* holds = nullptr;
  // Per binding and action, the most a run may apply (guards, approved plans); absent:
  // unlimited. A binding listed in `blocked` is not applied at all.
  std::map<std::string, std::map<Phase, int64_t>> limits;
  std::map<std::string, std::string> blocked;  // binding → reason
  // An approved plan's records: when set, a run applies a due record only if this
  // returns true; the others are counted in BindingPlan::not_approved and left as they are.
  std::function<bool(const Binding&, Phase, const std::string& key)> approved;
  // Around each applied batch: `before_batch` opens the caller's transaction (the state
  // database, so that operator holds are re-checked under its lock), `on_batch` records
  // the batch and commits it, `abort_batch` rolls it back after a failed apply.
  std::function<Status()> before_batch;
  BatchSink on_batch;
  std::function<void()> abort_batch;
  std::function<void(const Progress&)> progress;
  // Every evaluated record with the action it needs now (nullopt: none), for reports
  // and tests. Raw records carry keys and subjects: never log them.
  std::function<void(const Binding&, const RawRecord&, const Evaluation&, std::optional<Phase>)> on_record;
  // Whether the evaluations given to `on_record` carry their derivation (explain --key).
  Derivation derivation = Derivation::kSkip;
  // Pseudonymisation keys by binding (read by the caller from key files or env).
  std::map<std::string, std::string> pseudonymise_keys;
  // A run: key → audit digest, for the stores' journals (ApplyRequest::key_digest).
  std::function<std::string(const std::string&)> key_digest;
};

// The one code path behind `plan` and `run`.
Result<Plan> Execute(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                     const ExecuteOptions& options);


}  // namespace retention
