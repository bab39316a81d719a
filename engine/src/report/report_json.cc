// The report as JSON (docs/report-schema.md). Counts, dates and names only: no key.
#include <nlohmann/json.hpp>

#include "retention/report.h"

namespace retention {
namespace {
using nlohmann::ordered_json;

constexpr Phase kActions[] = {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete};

ordered_json Actions(const std::map<Phase, int64_t>& counts) {
  ordered_json j = ordered_json::object();
  for (Phase p : kActions) {
    auto it = counts.find(p);
    j[PhaseName(p)] = it == counts.end() ? int64_t{0} : it->second;
  }
  return j;
}

std::map<Phase, int64_t> DueOf(const BindingPlan& b) {
  std::map<Phase, int64_t> due;
  for (const auto& [p, s] : b.due) due[p] = s.count;
  return due;
}

ordered_json Stamp(const Report& r) {
  return {{"as_of", r.as_of.ToString()},         {"policy_set", r.plan().policy_hash},
          {"configuration", r.plan().config_hash}, {"engine_version", r.engine_version},
          {"generated_at", r.generated_at},        {"horizon_months", r.horizon_months}};
}

ordered_json Summary(const Report& r) {
  const ReportTotals& t = r.totals;
  ordered_json s;
  s["rows"] = t.rows;
  s["scanned"] = t.scanned;
  s["due"] = Actions(t.due);
  s["scheduled"] = t.scheduled;
  s["held"] = {{"data", t.held}, {"operator", t.operator_held}};
  ordered_json missing = ordered_json::array();
  for (const auto& [fact, n] : t.missing) {
    ordered_json bindings = ordered_json::array();
    for (const auto& b : r.plan().bindings)
      if (auto it = b.missing.find(fact); it != b.missing.end())
        bindings.push_back({{"binding", b.binding}, {"records", it->second}});
    missing.push_back({{"fact", fact}, {"records", n}, {"bindings", bindings}});
  }
  s["missing_facts"] = missing;
  ordered_json assumptions = ordered_json::array();
  for (const auto& b : r.plan().bindings)
    if (!b.assumptions.empty())
      assumptions.push_back({{"binding", b.binding}, {"assume", b.assumptions}, {"due_relying_on", b.assumed}});
  s["assumptions"] = assumptions;
  s["no_case"] = t.no_case;
  s["invalid_facts"] = t.invalid;
  ordered_json manual = ordered_json::array();
  for (const Rule* rule : r.plan().manual_rules) manual.push_back({{"rule", rule->id}, {"reason", rule->manual_reason}});
  s["manual_rules"] = manual;
  ordered_json guards = ordered_json::array();
  for (const auto& rule : r.rules)
    if (!rule.guard.empty()) guards.push_back({{"binding", rule.plan->binding}, {"reason", rule.guard}});
  s["guards"] = guards;
  if (!r.state_note.empty()) s["note"] = r.state_note;
  return s;
}

ordered_json RuleJson(const ReportRule& rule) {
  const BindingPlan& b = *rule.plan;
  ordered_json j;
  j["binding"] = b.binding;
  j["rule"] = b.rule_id;
  j["fiche"] = rule.policy ? rule.policy->fiche : 0;
  j["title"] = rule.policy ? rule.policy->title : "";
  j["legal_basis"] = rule.policy ? rule.policy->legal_basis : std::vector<std::string>{};
  j["quote"] = rule.rule ? rule.rule->source : "";
  j["reading"] = rule.rule ? rule.rule->summary : "";
  j["store"] = b.store;
  j["table"] = b.table;
  if (b.manual) {
    j["manual"] = b.manual_reason;
    return j;
  }
  j["rows"] = b.total_rows;
  j["scanned"] = b.scanned;
  j["due"] = Actions(DueOf(b));
  j["scheduled"] = b.scheduled;
  j["held"] = {{"data", b.held.count}, {"operator", b.operator_held.count}};
  j["missing_facts"] = b.missing;
  j["no_case"] = b.no_case;
  j["invalid_facts"] = b.invalid_facts;
  j["guard"] = rule.guard.empty() ? ordered_json(nullptr) : ordered_json(rule.guard);
  return j;
}

ordered_json Holds(const Report& r) {
  ordered_json holds = ordered_json::array();
  for (const auto& h : r.holds)
    holds.push_back({{"id", h.id},         {"kind", h.kind},           {"target", h.target},
                     {"author", h.author}, {"reason", h.reason},       {"created_at", h.created_at},
                     {"bindings", h.bindings}, {"records_covered", h.records_covered}});
  return holds;
}

}  // namespace

std::string ReportJson(const Report& r) {
  ordered_json j;
  j["schema"] = "retention-report/1";
  j["stamp"] = Stamp(r);
  j["summary"] = Summary(r);
  j["operator_holds"] = Holds(r);
  ordered_json rules = ordered_json::array();
  for (const auto& rule : r.rules) rules.push_back(RuleJson(rule));
  j["rules"] = rules;
  ordered_json forecast = ordered_json::array();
  for (const auto& m : r.forecast) {
    ordered_json x{{"month", m.month}};
    x.update(Actions(m.reached));
    forecast.push_back(x);
  }
  j["forecast"] = forecast;
  ordered_json lateness = ordered_json::array();
  for (const auto& l : r.lateness)
    lateness.push_back({{"binding", l.binding}, {"rule", l.rule_id}, {"records", l.records},
                        {"oldest_due", l.oldest_due.ToString()}, {"days_late", l.days_late}});
  j["lateness"] = lateness;
  ordered_json history = ordered_json::array();
  for (const auto& h : r.history)
    history.push_back({{"run", h.run_id}, {"month", h.month}, {"binding", h.binding}, {"rule", h.rule_id},
                       {"fiche", h.fiche}, {"action", PhaseName(h.action)}, {"count", h.count},
                       {"certificate", h.certificate}});
  j["history"] = history;
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace retention
