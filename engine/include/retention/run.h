// The nightly job and the DPO's dry-run, as one function: plan, then (for a run) check
// the guards and apply. Used by `retention plan`, `retention run` and the daemon.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "retention/clock.h"
#include "retention/plan.h"
#include "retention/state.h"

namespace retention {

// A saved plan (`retention plan --save`), approved by a person for `run --approved`.
struct ApprovedPlan {
  Date as_of;
  std::string policy_hash;
  std::string config_hash;
  std::map<std::string, std::map<Phase, int64_t>> counts;  // binding → action → count
};

struct RunOptions {
  std::optional<Date> as_of;                 // default: today (clock)
  bool apply = false;                        // false: plan (dry-run)
  bool full_scan = false;                    // plan: evaluate every row (complete report)
  std::vector<std::string> only_bindings;
  bool allow_mass = false;                   // run: ignore the blast-radius guard
  std::optional<ApprovedPlan> approved;      // run: act within these counts
  const Clock* clock = &SystemClock();
  std::string certificate_dir;               // run: where certificates go ("" = beside the state database)
  std::function<void(const Progress&)> progress;
  std::map<std::string, std::string> pseudonymise_keys;  // binding → key
  // Passed to Execute: every evaluated record (for reports and tests).
  std::function<void(const Binding&, const RawRecord&, const Evaluation&, std::optional<Phase>)> on_record;
};

struct RunOutcome {
  Plan plan;
  int64_t run_id = 0;              // 0 for a plan
  bool guard_tripped = false;      // some binding was skipped by a guard
  int64_t recovered_batches = 0;   // batches of an interrupted run recorded first (recover.h)
  int64_t recovered_records = 0;
  std::string certificate_json;    // paths, for a run
  std::string certificate_text;
};

// Exit codes of `retention run` (docs/operations.md): refused runs are errors with
// Status codes: kFailedPrecondition (clock guard, lock, future date, stale plan).
Result<RunOutcome> PlanOrRun(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                             StateDb* state, const RunOptions& options);

std::string PlanToJson(const Plan& plan);
Result<ApprovedPlan> ParseApprovedPlan(const std::string& json);
std::string PlanToText(const Plan& plan);

}  // namespace retention
