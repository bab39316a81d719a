// A policy change as text for a person and as JSON (docs/operations.md).
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "retention/policy_change.h"
#include "run/one_line.h"

namespace retention {
namespace {

using nlohmann::ordered_json;
constexpr Phase kActions[] = {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete};

int64_t Due(const std::map<Phase, int64_t>& due, Phase p) {
  auto it = due.find(p);
  return it == due.end() ? 0 : it->second;
}

std::string ImpactText(const PolicyImpact& impact) {
  std::string out = fmt::format("\nImpact as of {} (every bound record of the changed rules, under both sets):\n",
                                impact.as_of.ToString());
  if (impact.bindings.empty()) return out + "  no binding of this deployment uses a changed rule\n";
  out += fmt::format("  {:<30} {:<13} {:>9} {:>9} {:>9} {:>15}\n", "binding", "action", "earlier", "later", "at once",
                     "due now old->new");
  for (const auto& b : impact.bindings) {
    for (Phase p : kActions) {
      auto it = b.actions.find(p);
      ImpactCount c = it == b.actions.end() ? ImpactCount{} : it->second;
      int64_t was = Due(b.due_old, p), now = Due(b.due_new, p);
      if (c.earlier == 0 && c.later == 0 && c.at_once == 0 && was == 0 && now == 0) continue;
      out += fmt::format("  {:<30} {:<13} {:>9} {:>9} {:>9} {:>15}\n", b.binding, PhaseName(p), c.earlier, c.later,
                         c.at_once, fmt::format("{} -> {}", was, now));
      if (!c.earlier_keys.empty()) out += fmt::format("      earlier e.g. keys {}\n", internal::OneLine(c.earlier_keys));
      if (!c.at_once_keys.empty()) out += fmt::format("      at once e.g. keys {}\n", internal::OneLine(c.at_once_keys));
      if (!c.later_keys.empty()) out += fmt::format("      later e.g. keys {}\n", internal::OneLine(c.later_keys));
    }
    out += fmt::format("  {:<30} {} of {} records evaluated would be acted on earlier\n", b.binding, b.earlier_records,
                       b.records);
  }
  return out;
}

ordered_json CountJson(const ImpactCount& c) {
  return {{"earlier", c.earlier}, {"later", c.later}, {"at_once", c.at_once},
          {"sample_keys", {{"earlier", c.earlier_keys}, {"later", c.later_keys}, {"at_once", c.at_once_keys}}}};
}

ordered_json DueJson(const std::map<Phase, int64_t>& due) {
  ordered_json j = ordered_json::object();
  for (Phase p : kActions) j[PhaseName(p)] = Due(due, p);
  return j;
}

ordered_json ImpactJson(const PolicyImpact& impact) {
  ordered_json bindings = ordered_json::array();
  for (const auto& b : impact.bindings) {
    ordered_json actions = ordered_json::object();
    for (Phase p : kActions) {
      auto it = b.actions.find(p);
      actions[PhaseName(p)] = CountJson(it == b.actions.end() ? ImpactCount{} : it->second);
    }
    bindings.push_back({{"binding", b.binding}, {"rule", b.rule_id}, {"old_rule", b.old_rule_id},
                        {"records", b.records}, {"earlier_records", b.earlier_records}, {"actions", actions},
                        {"due_old", DueJson(b.due_old)}, {"due_new", DueJson(b.due_new)}});
  }
  return {{"as_of", impact.as_of.ToString()}, {"bindings", bindings}};
}

}  // namespace

std::string PolicyChangeText(const PolicyDiff& diff, const PolicyImpact* impact) {
  std::string out = fmt::format("Policy versions {} -> {}{}\n", diff.old_version.substr(0, 12),
                                diff.new_version.substr(0, 12),
                                diff.old_version == diff.new_version ? " (the same meaning)" : "");
  for (const auto& r : diff.rules) {
    out += fmt::format("\n{}  {}\n", r.rule_id, RuleChangeKindName(r.kind));
    for (const auto& c : r.changes) out += "  " + c + "\n";
  }
  auto recompute = diff.RulesToRecompute();
  out += recompute.empty() ? "\nNo rule changed in meaning.\n"
                           : fmt::format("\nRules to recompute: {}\n", fmt::join(recompute, ", "));
  if (impact) out += ImpactText(*impact);
  return out;
}

std::string PolicyChangeJson(const PolicyDiff& diff, const PolicyImpact* impact) {
  ordered_json rules = ordered_json::array();
  for (const auto& r : diff.rules)
    rules.push_back({{"rule", r.rule_id}, {"change", RuleChangeKindName(r.kind)}, {"changes", r.changes}});
  ordered_json j{{"old_version", diff.old_version}, {"new_version", diff.new_version}, {"rules", rules},
                 {"recompute", diff.RulesToRecompute()}};
  j["impact"] = impact ? ImpactJson(*impact) : ordered_json(nullptr);
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace retention
