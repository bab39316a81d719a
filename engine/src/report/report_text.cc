// The report as Markdown (for tickets) and CSV (one row per rule and binding).
#include <set>

#include <fmt/format.h>

#include "report/report_common.h"

namespace retention {
namespace {
using namespace report_internal;

// A table cell on one line, its pipes escaped.
std::string Cell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n' || c == '\r') out += ' ';
    else out += c;
  }
  return out;
}

std::string Title(const ReportRule& r) { return r.policy ? r.policy->title : ""; }
std::string Fiche(const ReportRule& r) {
  if (!r.policy) return "";
  return r.policy->fiche ? fmt::format("F{:02}", r.policy->fiche) : r.policy->document;
}

std::string SummaryMd(const Report& r) {
  const ReportTotals& t = r.totals;
  std::string out = "## Summary\n\n";
  out += fmt::format("- Records scanned: {} of {} rows\n", t.scanned, t.rows);
  out += fmt::format("- Due now: archive {}, pseudonymise {}, delete {}\n", CountOf(t.due, Phase::kArchive),
                     CountOf(t.due, Phase::kPseudonymise), CountOf(t.due, Phase::kDelete));
  out += fmt::format("- Scheduled (an action later): {}\n", t.scheduled);
  out += fmt::format("- Held: {} by data (litigation...), {} due records by operator holds\n", t.held, t.operator_held);
  int64_t missing = 0;
  for (const auto& [f, n] : t.missing) missing += n;
  out += fmt::format("- Missing facts: {} records; no applicable case (`no_case`): {}; invalid facts: {}\n", missing,
                     t.no_case, t.invalid);
  out += fmt::format("- Manual rules (a person decides): {}\n", r.plan().manual_rules.size());
  if (!r.state_note.empty()) out += fmt::format("- Note: {}\n", r.state_note);
  return out;
}

std::string HoldsMd(const Report& r) {
  std::string out = "\n## Operator holds\n\n";
  if (r.holds.empty()) return out + "None active.\n";
  out += "| Id | Kind | On | Author | Reason | Since | Bindings | Records covered |\n|---|---|---|---|---|---|---|---|\n";
  for (const auto& h : r.holds)
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} |\n", h.id, h.kind, Cell(h.target), Cell(h.author),
                       Cell(h.reason), h.created_at, fmt::join(h.bindings, ", "), h.records_covered);
  return out;
}

std::string ConcernsMd(const Report& r) {
  std::string out = "\n## Missing facts\n\n";
  if (r.totals.missing.empty()) out += "None.\n";
  else out += "| Binding | Fact | Records |\n|---|---|---|\n";
  for (const auto& b : r.plan().bindings)
    for (const auto& [f, n] : b.missing) out += fmt::format("| {} | `{}` | {} |\n", b.binding, f, n);
  out += "\n## Assumptions in force\n\n";
  bool any = false;
  for (const auto& b : r.plan().bindings) {
    if (b.assumptions.empty()) continue;
    any = true;
    out += fmt::format("- {}: assumes {}\n", b.binding, fmt::join(b.assumptions, ", "));
  }
  if (!any) out += "None.\n";
  out += "\n## Guards that would trip\n\n";
  any = false;
  for (const auto& rule : r.rules) {
    if (rule.guard.empty()) continue;
    any = true;
    out += fmt::format("- {}: {}\n", rule.plan->binding, rule.guard);
  }
  if (!any) out += "None: a run at this date would apply every binding.\n";
  out += "\n## Manual rules\n\n";
  if (r.plan().manual_rules.empty()) out += "None.\n";
  for (const Rule* m : r.plan().manual_rules) out += fmt::format("- `{}`: {}\n", m->id, Cell(m->manual_reason));
  return out;
}

std::string RulesMd(const Report& r) {
  std::string out =
      "\n## Per fiche and rule\n\n| Fiche | Title | Binding | Rule | Rows | Archive | Pseudonymise | Delete | Scheduled "
      "| Held (data/operator) | Missing | No case |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n";
  for (const auto& rule : r.rules) {
    const BindingPlan& b = *rule.plan;
    if (b.manual) {
      out += fmt::format("| {} | {} | {} | `{}` | manual: {} |||||||\n", Fiche(rule), Cell(Title(rule)), b.binding,
                         b.rule_id, Cell(b.manual_reason));
      continue;
    }
    out += fmt::format("| {} | {} | {} | `{}` | {} | {} | {} | {} | {} | {}/{} | {} | {} |\n", Fiche(rule),
                       Cell(Title(rule)), b.binding, b.rule_id, b.total_rows, DueOf(b, Phase::kArchive),
                       DueOf(b, Phase::kPseudonymise), DueOf(b, Phase::kDelete), b.scheduled, b.held.count,
                       b.operator_held.count, MissingOf(b), b.no_case);
  }
  out += "\n### The rules' texts\n";
  std::set<const Rule*> shown;  // a rule bound twice (its archive view) is quoted once
  for (const auto& rule : r.rules) {
    if (!rule.rule || !shown.insert(rule.rule).second) continue;
    out += fmt::format("\n**{}** ({} {}){}\n\n> {}\n\nReading: {}\n", rule.rule->id, Fiche(rule), Cell(Title(rule)),
                       rule.policy && !rule.policy->legal_basis.empty()
                           ? fmt::format(", legal basis: {}", fmt::join(rule.policy->legal_basis, "; "))
                           : std::string(),
                       Cell(rule.rule->source), Cell(rule.rule->manual ? "manual: " + rule.rule->manual_reason
                                                                         : rule.rule->summary));
  }
  return out;
}

std::string TimeMd(const Report& r) {
  std::string out = fmt::format("\n## Forecast ({} months; the first month includes what is due now)\n\n", r.horizon_months);
  out += "| Month | Archive | Pseudonymise | Delete |\n|---|---|---|---|\n";
  for (const auto& m : r.forecast)
    out += fmt::format("| {} | {} | {} | {} |\n", m.month, CountOf(m.reached, Phase::kArchive),
                       CountOf(m.reached, Phase::kPseudonymise), CountOf(m.reached, Phase::kDelete));
  out += "\n## Lateness\n\n";
  if (r.lateness.empty()) out += "No record is kept past its due date.\n";
  else out += "| Binding | Rule | Records past due | Oldest due since | Days late |\n|---|---|---|---|---|\n";
  for (const auto& l : r.lateness)
    out += fmt::format("| {} | `{}` | {} | {} | {} |\n", l.binding, l.rule_id, l.records, l.oldest_due.ToString(),
                       l.days_late);
  out += "\n## History\n\n";
  if (r.history.empty()) out += "No run has applied anything yet.\n";
  else out += "| Run | Month | Binding | Rule | Action | Records | Certificate |\n|---|---|---|---|---|---|---|\n";
  for (const auto& h : r.history)
    out += fmt::format("| #{} | {} | {} | `{}` | {} | {} | {} |\n", h.run_id, h.month, h.binding, h.rule_id,
                       PhaseName(h.action), h.count, h.certificate.empty() ? "" : fmt::format("[certificate]({})", h.certificate));
  return out;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::string ReportMarkdown(const Report& r) {
  std::string out = fmt::format("# Retention report as of {}\n\n", r.as_of.ToString());
  out += fmt::format("Policy set `{}`, configuration `{}`, engine {}, generated {}.\n\n", r.plan().policy_hash,
                     r.plan().config_hash, r.engine_version, r.generated_at);
  return out + SummaryMd(r) + HoldsMd(r) + ConcernsMd(r) + RulesMd(r) + TimeMd(r);
}

std::string ReportCsv(const Report& r) {
  std::string out =
      "binding,rule,fiche,title,store,table,kind,rows,scanned,archive,pseudonymise,delete,scheduled,held,operator_held,"
      "missing_facts,no_case,invalid_facts,guard\n";
  for (const auto& rule : r.rules) {
    const BindingPlan& b = *rule.plan;
    std::vector<std::string> f = {b.binding, b.rule_id, Fiche(rule), Title(rule), b.store, b.table,
                                  b.manual ? "manual" : "executable"};
    if (!b.manual)
      for (int64_t n : {b.total_rows, b.scanned, DueOf(b, Phase::kArchive), DueOf(b, Phase::kPseudonymise),
                        DueOf(b, Phase::kDelete), b.scheduled, b.held.count, b.operator_held.count, MissingOf(b),
                        b.no_case, b.invalid_facts})
        f.push_back(std::to_string(n));
    else
      f.resize(f.size() + 11);
    f.push_back(rule.guard);
    for (size_t i = 0; i < f.size(); ++i) out += (i ? "," : "") + CsvField(f[i]);
    out += "\n";
  }
  return out;
}

}  // namespace retention
