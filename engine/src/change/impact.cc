// Which bound records a policy change moves: each side planned through Execute (the
// one plan code path, full scan), each record's timeline compared per action.
#include <algorithm>
#include <set>

#include "retention/policy_change.h"

namespace retention {
namespace {

constexpr Phase kActions[] = {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete};

struct RecordDates {
  std::map<Phase, Date> from;  // each action's first day
  std::optional<Phase> now;    // what a plan would do now (not held by an operator)
};

struct Side {
  std::map<std::string, std::map<std::string, RecordDates>> records;  // binding → key → dates
  std::map<std::string, std::map<Phase, int64_t>> due;                // binding → what the plan counts
  std::map<std::string, std::string> rule_of;                         // binding → rule id
};

// The rule a binding names, in one set (its policy id or a catalog id it implements).
const Rule* RuleIn(const PolicySet& set, const Binding& b) { return set.FindRule(b.rule_id); }

bool Selected(const Binding& b, const PolicySet& a, const PolicySet& z, const std::set<std::string>& rules) {
  const Rule* x = RuleIn(a, b);
  const Rule* y = RuleIn(z, b);
  return (x && rules.count(x->id)) || (y && rules.count(y->id));
}

// Plans the selected bindings under `set` and keeps every record's dates.
Status PlanSide(const Deployment& deployment, const PolicySet& set, const PolicySet& other, const Stores& stores,
                const ImpactOptions& o, const std::set<std::string>& rules, Side* side) {
  Deployment rebound = deployment;
  rebound.bindings.clear();
  for (const auto& b : deployment.bindings) {
    if (!Selected(b, set, other, rules)) continue;
    const Rule* rule = RuleIn(set, b);
    if (!rule) continue;  // this side lacks the rule: no dates
    side->rule_of[b.name] = rule->id;
    Binding copy = b;
    copy.rule = rule;
    if (!rule->manual) rebound.bindings.push_back(std::move(copy));
  }
  if (rebound.bindings.empty()) return Status::Ok();
  ExecuteOptions exec;
  exec.as_of = o.as_of;
  exec.full_scan = true;
  exec.holds = o.holds;
  exec.on_record = [&](const Binding& b, const RawRecord& r, const Evaluation& e, std::optional<Phase> action) {
    RecordDates& d = side->records[b.name][r.key];
    for (const auto& t : e.timeline) d.from[t.action] = t.from;
    if (action && !(o.holds && o.holds->Held(b, r.key, r.subject))) d.now = action;
  };
  auto plan = Execute(rebound, set, stores, exec);
  if (!plan.ok()) return plan.status();
  for (const auto& bp : plan->bindings)
    for (const auto& [action, summary] : bp.due) side->due[bp.binding][action] = summary.count;
  return Status::Ok();
}

void Count(std::vector<std::string>* keys, int64_t* n, const std::string& key, size_t samples) {
  ++*n;
  if (keys->size() < samples) keys->push_back(key);
}

void Compare(const std::string& key, const RecordDates* a, const RecordDates* b, size_t samples, BindingImpact* out) {
  bool any_earlier = false;
  for (Phase p : kActions) {
    std::optional<Date> x, y;
    if (a)
      if (auto it = a->from.find(p); it != a->from.end()) x = it->second;
    if (b)
      if (auto it = b->from.find(p); it != b->from.end()) y = it->second;
    bool earlier = y && (!x || *y < *x), later = x && (!y || *y > *x);
    bool at_once = b && b->now == p && !(a && a->now == p);
    if (!earlier && !later && !at_once) continue;
    ImpactCount& c = out->actions[p];
    if (earlier) Count(&c.earlier_keys, &c.earlier, key, samples);
    if (later) Count(&c.later_keys, &c.later, key, samples);
    if (at_once) Count(&c.at_once_keys, &c.at_once, key, samples);
    any_earlier = any_earlier || earlier;
  }
  if (any_earlier) ++out->earlier_records;
}

}  // namespace

Result<PolicyImpact> EvaluateImpact(const Deployment& deployment, const PolicySet& old_set, const PolicySet& new_set,
                                    const Stores& stores, const ImpactOptions& options) {
  std::set<std::string> rules(options.rules.begin(), options.rules.end());
  if (rules.empty()) {
    auto changed = DiffPolicies(old_set, new_set).RulesToRecompute();
    rules.insert(changed.begin(), changed.end());
  }
  PolicyImpact impact;
  impact.as_of = options.as_of;
  if (rules.empty()) return impact;
  Side before, after;
  if (Status s = PlanSide(deployment, old_set, new_set, stores, options, rules, &before); !s.ok()) return s;
  if (Status s = PlanSide(deployment, new_set, old_set, stores, options, rules, &after); !s.ok()) return s;
  for (const auto& b : deployment.bindings) {
    if (!Selected(b, old_set, new_set, rules)) continue;
    BindingImpact bi;
    bi.binding = b.name;
    bi.old_rule_id = before.rule_of[b.name];
    bi.rule_id = after.rule_of[b.name];
    bi.due_old = before.due[b.name];
    bi.due_new = after.due[b.name];
    const auto& x = before.records[b.name];
    const auto& y = after.records[b.name];
    std::set<std::string> keys;
    for (const auto& [k, d] : x) keys.insert(k);
    for (const auto& [k, d] : y) keys.insert(k);
    bi.records = static_cast<int64_t>(keys.size());
    for (const auto& k : keys) {
      auto i = x.find(k), j = y.find(k);
      Compare(k, i == x.end() ? nullptr : &i->second, j == y.end() ? nullptr : &j->second, options.sample_size, &bi);
    }
    impact.bindings.push_back(std::move(bi));
  }
  return impact;
}

}  // namespace retention
