// The executable form of a rule, built once by the loader. Private to the engine.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "policy/expression.h"
#include "retention/policy.h"

namespace retention::internal {

struct Case {
  CondExpr when;
  DateExpr date;
};

// The last day of a phase: one expression, or cases (the longest applicable one wins)
// with an optional default.
struct EndSpec {
  std::vector<Case> cases;
  std::optional<DateExpr> otherwise;  // the expression itself when there are no cases
};

struct PhaseSpec {
  Phase kind = Phase::kActive;
  std::optional<EndSpec> until;     // absolute last day, inclusive
  std::optional<Duration> length;   // `for`: from the end of the previous phase
  std::optional<DateExpr> from;     // first phase only: the day it starts
  // Not first, not delete: the phase happens only when this is true; when false it is
  // absent (takes no time, no timeline entry); when unknown the record is missing_fact.
  std::optional<CondExpr> when;
};

// "Held while `when` is true and `until` is unknown; once known, the first phase
// lasts at least through `then` (default: the `until` date itself)."
struct HoldSpec {
  CondExpr when;
  std::string until;
  std::optional<DateExpr> then;
  std::string reason;
};

struct CompiledRule {
  std::vector<PhaseSpec> phases;
  std::vector<HoldSpec> holds;
  std::set<std::string> deployment_facts;  // facts of the rule whose scope is the deployment
};

}  // namespace retention::internal
