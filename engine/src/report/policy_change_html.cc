// A policy change as an HTML <section>, in the report's style (policy_change.h).
#include <fmt/format.h>

#include "report/html.h"
#include "retention/policy_change.h"

namespace retention {
namespace {

constexpr Phase kActions[] = {Phase::kArchive, Phase::kPseudonymise, Phase::kDelete};

int64_t Due(const std::map<Phase, int64_t>& due, Phase p) {
  auto it = due.find(p);
  return it == due.end() ? 0 : it->second;
}

std::string Keys(const std::vector<std::string>& keys) {
  std::string out;
  for (const auto& k : keys) out += (out.empty() ? "" : ", ") + html::Esc(k);
  return out;
}

std::string ImpactRows(const BindingImpact& b) {
  std::string out;
  for (Phase p : kActions) {
    auto it = b.actions.find(p);
    ImpactCount c = it == b.actions.end() ? ImpactCount{} : it->second;
    int64_t was = Due(b.due_old, p), now = Due(b.due_new, p);
    if (c.earlier == 0 && c.later == 0 && c.at_once == 0 && was == 0 && now == 0) continue;
    out += fmt::format("<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>"
                       "<td class=\"num\">{}</td><td class=\"num\">{} &rarr; {}</td><td>{}</td></tr>",
                       html::Esc(b.binding), PhaseName(p), c.earlier, c.later, c.at_once, was, now,
                       Keys(c.earlier_keys.empty() ? c.at_once_keys : c.earlier_keys));
  }
  return out;
}

}  // namespace

std::string PolicyChangeHtmlSection(const PolicyDiff& diff, const PolicyImpact* impact) {
  std::string out = fmt::format("<section id=\"policy-change\"><h2>Policy change: version {} &rarr; {}</h2>",
                                html::Esc(diff.old_version.substr(0, 12)), html::Esc(diff.new_version.substr(0, 12)));
  if (diff.rules.empty()) out += "<p>No rule changed.</p>";
  else out += "<table class=\"rules\"><thead><tr><th>Rule</th><th>Change</th><th>What changed in its meaning</th></tr></thead><tbody>";
  for (const auto& r : diff.rules) {
    std::string lines;
    for (const auto& c : r.changes) lines += (lines.empty() ? "" : "<br>") + html::Esc(c);
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", html::Esc(r.rule_id), RuleChangeKindName(r.kind), lines);
  }
  if (!diff.rules.empty()) out += "</tbody></table>";
  if (impact) {
    out += fmt::format("<h3>Records moved, as of {}</h3>", impact->as_of.ToString());
    out += "<table class=\"rules\"><thead><tr><th>Binding</th><th>Action</th><th>Earlier</th><th>Later</th>"
           "<th>Due at once</th><th>Due now (old &rarr; new)</th><th>Sample keys</th></tr></thead><tbody>";
    for (const auto& b : impact->bindings) out += ImpactRows(b);
    out += "</tbody></table>";
  }
  return out + "</section>";
}

std::string PolicyChangeHtmlPage(const PolicyDiff& diff, const PolicyImpact* impact) {
  return html::Page("Policy change", PolicyChangeHtmlSection(diff, impact));
}

}  // namespace retention
