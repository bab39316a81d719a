// Policy changes under control: what a policy set means (its version), what changes
// between two sets (per rule, in meaning), and which bound records a change moves.
//
// A version is content-addressed by the canonical form of each rule: its phases, their
// `until`/`for`/`from`/`when`, the cases of each end (in any order), the holds (in any
// order), whether it is manual, the catalog ids it implements and the definitions of the
// facts it reads. Durations are compared in their smallest unit (1y = 12m, 1w = 7d), and
// the arguments of max, min, and, or in any order. Formatting, comments, the quoted
// register text (`source`), `decision`, and the reasons of manual rules and holds do not
// count: they say why, not what. A change of the quoted text alone is reported by
// DiffPolicies as such, without making the rule changed (docs/operations.md).
//
// A library user who stores a computed `purge_after` reads RulesToRecompute() of
// DiffPolicies(old, new) to know which records to recompute after a policy change.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "retention/connector.h"
#include "retention/deployment.h"
#include "retention/plan.h"
#include "retention/policy.h"

namespace retention {

// The canonical form of a rule (JSON text), and its SHA-256 ("sha256:<hex>").
std::string RuleCanonical(const Rule& rule, const Vocabulary& vocabulary);
std::string RuleMeaningHash(const Rule& rule, const Vocabulary& vocabulary);
// The version of a set: SHA-256 (hex, 64 characters) over its rules' canonical forms,
// by rule id. Two sets that differ only in formatting have the same version.
std::string PolicyVersionId(const PolicySet& set);

struct RuleChange {
  enum class Kind { kAdded, kRemoved, kChanged, kTextOnly };
  Kind kind = Kind::kChanged;
  std::string rule_id;
  // What changed in its meaning, one line each ("phase active: until fin_droits + 5y ->
  // fin_droits + 3y", "hold added: when contentieux until decision_definitive"...).
  std::vector<std::string> changes;
};
const char* RuleChangeKindName(RuleChange::Kind kind);  // "added", "removed", "changed", "text only"

struct PolicyDiff {
  std::string old_version, new_version;  // PolicyVersionId of each set
  std::vector<RuleChange> rules;         // by rule id; unchanged rules are not listed
  // The rules whose meaning changed (added, removed or changed; not text only): the
  // records bound to them need their dates recomputed.
  std::vector<std::string> RulesToRecompute() const;
};

// Compares two sets rule by rule, in meaning.
PolicyDiff DiffPolicies(const PolicySet& old_set, const PolicySet& new_set);

// How many records' dates one action moves, for one binding.
struct ImpactCount {
  int64_t earlier = 0;  // the action's first day comes earlier (or the action appears)
  int64_t later = 0;    // it comes later (or the action disappears)
  int64_t at_once = 0;  // due now under the new set, not under the old one (operator holds excepted)
  // The first few keys of each (sorted), as plans show keys: never logged.
  std::vector<std::string> earlier_keys, later_keys, at_once_keys;
};

struct BindingImpact {
  std::string binding;
  std::string rule_id;       // the new set's rule ("" when the new set lacks it)
  std::string old_rule_id;   // the old set's rule ("" when the old set lacks it)
  int64_t records = 0;       // records evaluated under either set
  std::map<Phase, ImpactCount> actions;  // archive, pseudonymise, delete
  // What `retention plan` counts as due now under each set (BindingPlan::due).
  std::map<Phase, int64_t> due_old, due_new;
  int64_t earlier_records = 0;  // records with at least one action earlier
};

struct PolicyImpact {
  Date as_of;
  std::vector<BindingImpact> bindings;  // the bindings of the changed rules only
};

struct ImpactOptions {
  Date as_of;
  // Only the bindings of these rules (policy ids); empty: those of the rules whose
  // meaning changed (PolicyDiff::RulesToRecompute).
  std::vector<std::string> rules;
  const HoldChecker* holds = nullptr;  // operator holds: excluded from at_once and from due
  size_t sample_size = 5;
};

// Evaluates the bound records of the changed rules under both sets, through the one
// plan code path (Execute, full scan), and compares each record's timeline per action.
// `deployment` may be bound to either set: each side is rebound by rule id. Records are
// matched by key. A side whose set lacks the rule, or whose rule is manual, gives no dates.
Result<PolicyImpact> EvaluateImpact(const Deployment& deployment, const PolicySet& old_set, const PolicySet& new_set,
                                    const Stores& stores, const ImpactOptions& options);

// Renderings of a diff and, when given, its impact: text for a person, JSON
// (docs/operations.md lists its fields), and an HTML <section> for a report page.
std::string PolicyChangeText(const PolicyDiff& diff, const PolicyImpact* impact);
std::string PolicyChangeJson(const PolicyDiff& diff, const PolicyImpact* impact);
std::string PolicyChangeHtmlSection(const PolicyDiff& diff, const PolicyImpact* impact);
// A complete page holding the section (`retention policies diff --format html`).
std::string PolicyChangeHtmlPage(const PolicyDiff& diff, const PolicyImpact* impact);

}  // namespace retention
