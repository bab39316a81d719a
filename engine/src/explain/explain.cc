#include "retention/explain.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace retention {

std::string ExplainJson(const Evaluation& e, const std::string& requested_id) {
  nlohmann::ordered_json j;
  j["rule"] = requested_id;
  j["policy_rule"] = e.rule_id;
  j["as_of"] = e.as_of.ToString();
  j["status"] = EvalStatusName(e.status);
  j["timeline"] = nlohmann::ordered_json::array();
  for (const auto& t : e.timeline) j["timeline"].push_back({{"action", PhaseName(t.action)}, {"from", t.from.ToString()}});
  j["due"] = e.due ? nlohmann::ordered_json(PhaseName(*e.due)) : nlohmann::ordered_json(nullptr);
  j["missing"] = e.missing;
  j["holds"] = e.holds;
  j["assumed"] = e.assumed;
  j["derivation"] = e.derivation;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string ExplainText(const Evaluation& e, const Rule& rule, const std::string& requested_id) {
  std::string out;
  out += fmt::format("rule      {}", requested_id);
  if (requested_id != rule.id) out += fmt::format(" (implemented by {})", rule.id);
  out += fmt::format("\nsource    {}\n", rule.source);
  out += fmt::format("as of     {}\nstatus    {}\n", e.as_of.ToString(), EvalStatusName(e.status));
  if (!e.timeline.empty()) {
    out += "timeline\n";
    for (const auto& t : e.timeline) {
      bool due = t.from <= e.as_of;
      out += fmt::format("  {:<13} from {}{}\n", PhaseName(t.action), t.from.ToString(), due ? "  (allowed)" : "");
    }
  }
  if (e.due) out += fmt::format("due       {}\n", PhaseName(*e.due));
  if (!e.missing.empty()) out += fmt::format("missing   {}\n", fmt::join(e.missing, ", "));
  for (const auto& h : e.holds) out += fmt::format("hold      {}\n", h);
  if (!e.assumed.empty()) out += fmt::format("assumed   {}\n", fmt::join(e.assumed, ", "));
  if (rule.manual) out += fmt::format("manual    {}\n", rule.manual_reason);
  out += "derivation\n";
  for (const auto& d : e.derivation) out += "  " + d + "\n";
  return out;
}

}  // namespace retention
