// The evaluator: a rule and one record's facts in, a timeline out.
//
// Semantics (docs/policy-format.md, DESIGN.md): every date in a timeline is the first
// day its action is allowed; a phase is kept through its last day inclusive. The as-of
// date is an input: nothing here reads the clock.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "retention/date.h"
#include "retention/facts.h"
#include "retention/policy.h"

namespace retention {

enum class EvalStatus { kScheduled, kDue, kHold, kMissingFact, kNoCase, kManual };
const char* EvalStatusName(EvalStatus status);  // "scheduled", "due", "hold", ...

struct TimelineEntry {
  Phase action = Phase::kDelete;  // never kActive
  Date from;                      // first day the action is allowed
};

struct Evaluation {
  std::string rule_id;
  Date as_of;
  EvalStatus status = EvalStatus::kNoCase;
  std::vector<TimelineEntry> timeline;  // empty unless scheduled or due
  std::optional<Phase> due;             // last action whose date is on or before as_of
  std::vector<std::string> missing;     // names of the missing facts
  std::vector<std::string> holds;       // descriptions of the active holds
  std::vector<std::string> assumed;     // "fact=value": deployment assumptions this result relied on
  std::vector<std::string> derivation;  // how each date was obtained, for a person
};

// Whether an evaluation writes its derivation (the lines a person reads in `explain`).
// kSkip gives the same status, timeline, missing facts, holds and assumptions, without
// formatting a line: what a plan over millions of records wants.
enum class Derivation { kBuild, kSkip };

// Evaluates `rule` for one record, with its derivation. Thread-safe; the rule is
// compiled once at load.
Evaluation Evaluate(const Rule& rule, const Facts& facts, Date as_of);

// Same, where a fact the rule reads that is absent from `facts` takes its value from
// `assumptions` (a deployment's explicit `assume:`, e.g. contentieux=false for a store
// that does not track litigation). Every assumption used is listed in `assumed` and
// stated in the derivation, so that a deletion that relied on one says which.
Evaluation Evaluate(const Rule& rule, const Facts& facts, Date as_of, const Facts& assumptions,
                    Derivation derivation = Derivation::kBuild);

// The checked entry point for library users: the rule by policy or catalog id in `set`
// (kNotFound otherwise), the facts and assumptions checked against its vocabulary
// (CheckFacts: unknown names and values of the wrong type are errors, not unknown
// facts), then Evaluate. Thread-safe: a loaded PolicySet is immutable.
Result<Evaluation> EvaluateRule(const PolicySet& set, const std::string& rule_id, const Facts& facts, Date as_of,
                                const Facts& assumptions = {});

// Several rules on one record: keep wins. Deletion is allowed only when every rule
// allows it, from the latest of their delete dates; any hold, missing fact or manual
// rule keeps the record. The result's rule_id lists the rules joined by '+'.
Evaluation Combine(const std::vector<Evaluation>& evaluations);

}  // namespace retention
