// The report as one self-contained HTML file: inline CSS, SVG charts drawn here, each
// chart followed by its data table; readable in print and without colour (every
// action has its own pattern and a label). Nothing is fetched, no script.
#include <algorithm>

#include <set>

#include <fmt/format.h>

#include "report/html.h"
#include "report/report_common.h"

namespace retention {
namespace {
using namespace report_internal;
using html::Esc;

// A chart's data: one labelled row per bar, the records of each action.
using ChartRows = std::vector<std::pair<std::string, std::map<Phase, int64_t>>>;

// One stacked bar per row; each bar's segments are the actions, bottom to top.
std::string StackedBars(const std::string& id, const std::string& title, const ChartRows& rows) {
  const int width = 880, height = 310, left = 64, right = 16, top = 42, bottom = 64;
  // A first bar (the backlog) far above the others is drawn cut, its total written on
  // it, so that the coming months stay readable.
  int64_t max = 1, rest = 1;
  for (const auto& [label, v] : rows) max = std::max(max, Sum(v));
  for (size_t i = 1; i < rows.size(); ++i) rest = std::max(rest, Sum(rows[i].second));
  bool cut = rows.size() > 1 && max > 4 * rest;
  if (cut) max = rest * 5 / 4 + 1;
  double slot = rows.empty() ? 0 : double(width - left - right) / double(rows.size());
  double bar = std::max(2.0, slot * 0.7);
  auto y = [&](int64_t n) { return top + (height - top - bottom) * (1.0 - double(n) / double(max)); };
  std::string svg = fmt::format(
      "<svg class=\"chart\" id=\"{}\" role=\"img\" aria-label=\"{}\" viewBox=\"0 0 {} {}\" "
      "xmlns=\"http://www.w3.org/2000/svg\">{}<title>{}</title>",
      id, Esc(title), width, height, html::Patterns(id), Esc(title));
  for (int64_t tick : {int64_t{0}, max / 2, max})
    svg += fmt::format("<line x1=\"{}\" x2=\"{}\" y1=\"{:.1f}\" y2=\"{:.1f}\" class=\"grid\"/>"
                       "<text x=\"{}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"end\">{}</text>",
                       left, width - right, y(tick), y(tick), left - 6, y(tick) + 4, tick);
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& [label, v] = rows[i];
    double x = left + slot * double(i) + (slot - bar) / 2;
    int64_t base = 0, total = Sum(v);
    double shrink = total > max ? double(max) / double(total) : 1.0;  // the cut bar: its parts in proportion
    for (Phase p : kActions) {
      int64_t n = static_cast<int64_t>(double(CountOf(v, p)) * shrink);
      if (n == 0) continue;
      svg += fmt::format("<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" fill=\"url(#{}-{})\" "
                         "class=\"seg {}\"><title>{} {}: {}</title></rect>",
                         x, y(base + n), bar, y(base) - y(base + n), id, PhaseName(p), PhaseName(p), Esc(label),
                         PhaseName(p), CountOf(v, p));
      base += n;
    }
    if (total > 0 && slot >= 18)
      svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"value\" text-anchor=\"middle\">{}{}</text>",
                         x + bar / 2, y(std::min(total, max)) - 3, total, total > max ? " (cut)" : "");
    double lx = x + bar / 2, ly = height - bottom + 14;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" class=\"axis\" text-anchor=\"end\" "
                       "transform=\"rotate(-45 {:.1f} {:.1f})\">{}</text>",
                       lx, ly, lx, ly, Esc(label));
  }
  return svg + html::Legend(id, left) + "</svg>\n";
}

// The chart's data table: one row per bar.
std::string DataTable(const std::string& first, const ChartRows& rows) {
  std::string out = fmt::format("<table class=\"data\"><thead><tr><th>{}</th><th>Archive</th><th>Pseudonymise</th>"
                                "<th>Delete</th><th>Total</th></tr></thead><tbody>",
                                Esc(first));
  for (const auto& [label, v] : rows)
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", Esc(label),
                       CountOf(v, Phase::kArchive), CountOf(v, Phase::kPseudonymise), CountOf(v, Phase::kDelete), Sum(v));
  return out + "</tbody></table>\n";
}

// A chart followed by its data table; `first` heads the table's label column.
std::string ChartAndTable(const std::string& id, const std::string& title, const std::string& first,
                          const ChartRows& rows) {
  return StackedBars(id, title, rows) + DataTable(first, rows);
}

std::string Card(const std::string& key, const std::string& label, int64_t n, const std::string& css = "") {
  return fmt::format("<div class=\"card {}\"><div class=\"n\" data-total=\"{}\">{}</div><div>{}</div></div>", css, key,
                     n, Esc(label));
}

std::string SummaryHtml(const Report& r) {
  const ReportTotals& t = r.totals;
  int64_t missing = 0;
  for (const auto& [f, n] : t.missing) missing += n;
  int64_t guards = std::count_if(r.rules.begin(), r.rules.end(), [](const ReportRule& x) { return !x.guard.empty(); });
  std::string out = "<section id=\"summary\"><h2>Summary</h2><div class=\"cards\">";
  out += Card("scanned", "records scanned", t.scanned);
  out += Card("due.archive", "to archive now", CountOf(t.due, Phase::kArchive), "archive");
  out += Card("due.pseudonymise", "to pseudonymise now", CountOf(t.due, Phase::kPseudonymise), "pseudonymise");
  out += Card("due.delete", "to delete now", CountOf(t.due, Phase::kDelete), "delete");
  out += Card("scheduled", "scheduled later", t.scheduled);
  out += Card("held.data", "held by data", t.held);
  out += Card("held.operator", "due but held by an operator", t.operator_held);
  out += Card("missing", "kept: a fact is missing", missing);
  out += Card("no_case", "kept: no case applies", t.no_case);
  out += Card("manual", "manual rules", static_cast<int64_t>(r.plan().manual_rules.size()));
  out += Card("guards", "guards that would trip", guards);
  out += "</div>";
  if (!r.state_note.empty()) out += fmt::format("<p class=\"note\">{}</p>", Esc(r.state_note));
  return out + "</section>\n";
}

std::string HoldsHtml(const Report& r) {
  std::string out = "<section id=\"holds\"><h2>Operator holds</h2>";
  if (r.holds.empty()) return out + "<p>None active.</p></section>\n";
  out += "<table><thead><tr><th>Id</th><th>Kind</th><th>On</th><th>Author</th><th>Reason</th><th>Since</th>"
         "<th>Bindings</th><th>Records covered</th></tr></thead><tbody>";
  for (const auto& h : r.holds)
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                       h.id, h.kind, Esc(h.target), Esc(h.author), Esc(h.reason), Esc(h.created_at),
                       Esc(fmt::format("{}", fmt::join(h.bindings, ", "))), h.records_covered);
  return out + "</tbody></table></section>\n";
}

std::string ConcernsHtml(const Report& r) {
  std::string out = "<section id=\"concerns\"><h2>Kept for a reason a person should look at</h2><h3>Missing facts</h3>";
  if (r.totals.missing.empty()) out += "<p>None.</p>";
  else out += "<table><thead><tr><th>Binding</th><th>Fact</th><th>Records</th></tr></thead><tbody>";
  for (const auto& b : r.plan().bindings)
    for (const auto& [f, n] : b.missing)
      out += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td></tr>", Esc(b.binding), Esc(f), n);
  if (!r.totals.missing.empty()) out += "</tbody></table>";
  out += "<h3>Assumptions in force</h3><ul>";
  for (const auto& b : r.plan().bindings)
    if (!b.assumptions.empty())
      out += fmt::format("<li>{}: assumes {}</li>", Esc(b.binding), Esc(fmt::format("{}", fmt::join(b.assumptions, ", "))));
  out += "</ul><h3>Guards that would trip</h3><ul>";
  for (const auto& rule : r.rules)
    if (!rule.guard.empty()) out += fmt::format("<li>{}: {}</li>", Esc(rule.plan->binding), Esc(rule.guard));
  out += "</ul><h3>Manual rules (never acted on: a person decides)</h3><ul>";
  for (const Rule* m : r.plan().manual_rules)
    out += fmt::format("<li><code>{}</code>: {}</li>", Esc(m->id), Esc(m->manual_reason));
  return out + "</ul></section>\n";
}

std::string ForecastHtml(const Report& r) {
  ChartRows rows;
  for (const auto& m : r.forecast) rows.emplace_back(m.month, m.reached);
  return fmt::format("<section id=\"forecast\"><h2>Forecast: records each action reaches, per month</h2>"
                     "<p>From every record's timeline at {}. The first month includes what is due now (the backlog).</p>"
                     "{}</section>\n",
                     r.as_of.ToString(), ChartAndTable("forecast-chart", "Forecast per month", "Month", rows));
}

std::string LatenessHtml(const Report& r) {
  std::string out = "<section id=\"lateness\"><h2>Lateness: records kept past their due date</h2>";
  if (r.lateness.empty()) return out + "<p>No record is kept past its due date.</p></section>\n";
  out += "<table><thead><tr><th>Binding</th><th>Rule</th><th>Records past due</th><th>Oldest due since</th>"
         "<th>Days late</th></tr></thead><tbody>";
  for (const auto& l : r.lateness)
    out += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>", Esc(l.binding),
                       Esc(l.rule_id), l.records, l.oldest_due.ToString(), l.days_late);
  return out + "</tbody></table></section>\n";
}

std::string HistoryHtml(const Report& r) {
  std::string out = "<section id=\"history\"><h2>History: what past runs did</h2>";
  if (r.history.empty()) return out + "<p>No run has applied anything yet.</p></section>\n";
  HistoryTotals t = TotalsOf(r.history);
  out += "<h3>Per month</h3>" +
         ChartAndTable("history-chart", "Applied per month", "Month", ChartRows(t.by_month.begin(), t.by_month.end()));
  ChartRows fiches;
  for (const auto& [f, v] : t.by_fiche) fiches.emplace_back(f ? fmt::format("F{:02}", f) : "other", v);
  out += "<h3>Per fiche</h3>" + ChartAndTable("history-fiche-chart", "Applied per fiche", "Fiche", fiches);
  out += "<h3>Per run</h3><table><thead><tr><th>Run</th><th>Month</th><th>Binding</th><th>Rule</th><th>Action</th>"
         "<th>Records</th><th>Certificate</th></tr></thead><tbody>";
  for (const auto& h : r.history)
    out += fmt::format("<tr><td>#{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                       h.run_id, h.month, Esc(h.binding), Esc(h.rule_id), PhaseName(h.action), h.count,
                       h.certificate.empty() ? std::string()
                                             : fmt::format("<a href=\"file://{}\">run-{}</a>", Esc(h.certificate), h.run_id));
  return out + "</tbody></table></section>\n";
}

std::string RulesHtml(const Report& r) {
  std::string out = "<section id=\"rules\"><h2>Per fiche and rule</h2><table class=\"rules\"><thead><tr><th>Fiche</th>"
                    "<th>Binding / rule</th><th>Rows</th><th>Archive</th><th>Pseudo&shy;nymise</th><th>Delete</th>"
                    "<th>Scheduled</th><th>Held data / operator</th><th>Missing</th><th>No case</th></tr></thead><tbody>";
  for (const auto& rule : r.rules) {
    const BindingPlan& b = *rule.plan;
    std::string fiche = rule.policy ? fmt::format("<b>{}</b> {}", rule.policy->fiche ? fmt::format("F{:02}", rule.policy->fiche)
                                                                                   : Esc(rule.policy->document),
                                                  Esc(rule.policy->title))
                                    : "";
    std::string name = fmt::format("{}<br><code>{}</code>", Esc(b.binding), Esc(b.rule_id));
    if (b.manual) {
      out += fmt::format("<tr><td>{}</td><td>{}</td><td colspan=\"8\">manual: {}</td></tr>", fiche, name, Esc(b.manual_reason));
      continue;
    }
    out += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} / {}</td>"
                       "<td>{}</td><td>{}</td></tr>",
                       fiche, name, b.total_rows, DueOf(b, Phase::kArchive), DueOf(b, Phase::kPseudonymise),
                       DueOf(b, Phase::kDelete), b.scheduled, b.held.count, b.operator_held.count, MissingOf(b), b.no_case);
  }
  out += "</tbody></table><h3>The rules' texts and readings</h3>";
  std::set<const Rule*> shown;  // a rule bound twice (its archive view) is quoted once
  for (const auto& rule : r.rules) {
    if (!rule.rule || !shown.insert(rule.rule).second) continue;
    std::string basis = rule.policy && !rule.policy->legal_basis.empty()
                            ? fmt::format("<p class=\"basis\">Legal basis: {}</p>",
                                          Esc(fmt::format("{}", fmt::join(rule.policy->legal_basis, "; "))))
                            : "";
    out += fmt::format("<div class=\"rule\"><h4><code>{}</code> {}</h4>{}<blockquote lang=\"fr\">{}</blockquote><p>Reading: {}</p></div>",
                       Esc(rule.rule->id), rule.policy ? Esc(rule.policy->title) : "", basis, Esc(rule.rule->source),
                       Esc(rule.rule->manual ? "manual: " + rule.rule->manual_reason : rule.rule->summary));
  }
  return out + "</section>\n";
}

}  // namespace

std::string ReportHtml(const Report& r) {
  std::string stamp = fmt::format(
      "<dl class=\"stamp\"><dt>As of</dt><dd id=\"as-of\">{}</dd><dt>Policy set</dt><dd><code>{}</code></dd>"
      "<dt>Configuration</dt><dd><code>{}</code></dd><dt>Engine</dt><dd>{}</dd><dt>Generated</dt><dd>{}</dd></dl>",
      r.as_of.ToString(), Esc(r.plan().policy_hash), Esc(r.plan().config_hash), Esc(r.engine_version), Esc(r.generated_at));
  return html::Page(fmt::format("Retention report as of {}", r.as_of.ToString()),
                    stamp + SummaryHtml(r) + ForecastHtml(r) + HoldsHtml(r) + ConcernsHtml(r) + LatenessHtml(r) +
                        HistoryHtml(r) + RulesHtml(r));
}

}  // namespace retention
