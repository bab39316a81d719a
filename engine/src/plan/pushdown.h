// Pushdown: a rule's due condition as a Predicate with constant cutoffs (predicate.h).
#pragma once

#include <optional>

#include "retention/facts.h"
#include "retention/policy.h"
#include "retention/predicate.h"

namespace retention {

// The predicate "action `action` of `rule` is due on or before `as_of` and no
// data-driven hold is active". Deployment-wide facts are folded in as constants. Null
// when the rule never reaches that action (or is manual).
std::optional<Predicate> DuePredicate(const Rule& rule, Phase action, Date as_of, const Facts& deployment_facts);

// Whether the predicate is exact (selects only rows whose action is due) rather than a
// superset: false when part of the rule compares two facts and was left to the evaluator.
bool IsExactPushdown(const Rule& rule, Phase action, Date as_of, const Facts& deployment_facts);

// "A fact the rule reads is unknown for this row": one of `mapped` (the rule's facts the
// binding reads) is NULL. True when some fact is unknown for every row (neither mapped
// nor a deployment fact that is set); false when no row can miss one.
Predicate UnknownFactPredicate(const Rule& rule, const std::vector<std::string>& mapped, const Facts& deployment_facts);

}  // namespace retention
