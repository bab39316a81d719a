// One record, or one person's records, read from their stores and evaluated through
// the plan's code path; the right-of-access view. Keys and subjects are compared here,
// never printed.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "report/html.h"
#include "retention/report.h"

namespace retention {
namespace {
using nlohmann::ordered_json;

// The next action after the as-of date, if any.
std::optional<TimelineEntry> Next(const RecordView& r) {
  for (const auto& t : r.evaluation.timeline)
    if (t.from > r.evaluation.as_of) return t;
  return std::nullopt;
}

std::string StatusOf(const RecordView& r) {
  if (r.action && r.operator_hold) return "hold";  // due, but an operator hold keeps it
  return EvalStatusName(r.evaluation.status);
}

std::vector<std::string> Holds(const RecordView& r) {
  std::vector<std::string> holds = r.evaluation.holds;
  if (r.operator_hold) holds.push_back("operator hold: " + *r.operator_hold);
  return holds;
}

}  // namespace

Result<std::vector<RecordView>> FindRecords(const Deployment& deployment, const PolicySet& policies,
                                            const Stores& stores, StateDb* state, const RecordQuery& q) {
  if (q.subject.empty() == q.key.empty())
    return Status::InvalidArgument("give a binding and a key, or a subject");
  RunOptions o;
  o.as_of = q.as_of;
  o.full_scan = true;
  o.derivation = q.key.empty() ? Derivation::kSkip : Derivation::kBuild;
  if (!q.key.empty()) {
    if (!deployment.FindBinding(q.binding)) return Status::InvalidArgument(fmt::format("unknown binding '{}'", q.binding));
    o.only_bindings = {q.binding};
  } else {
    for (const auto& b : deployment.bindings)
      if (!b.subject.empty() && !(b.rule && b.rule->manual)) o.only_bindings.push_back(b.name);
    if (o.only_bindings.empty()) return std::vector<RecordView>{};
  }
  std::vector<RecordView> found;
  const HoldChecker* holds = state ? &state->holds() : nullptr;
  o.on_record = [&](const Binding& b, const RawRecord& r, const Evaluation& e, std::optional<Phase> action) {
    if (q.key.empty() ? r.subject != q.subject : r.key != q.key) return;
    RecordView v{b.name, b.rule, e, action, std::nullopt, r.pseudonymised};
    if (holds) v.operator_hold = holds->Held(b, r.key, r.subject);
    found.push_back(std::move(v));
  };
  auto plan = PlanOrRun(deployment, policies, stores, state, o);
  if (!plan.ok()) return plan.status();
  return found;
}

std::string SubjectJson(const std::vector<RecordView>& records, Date as_of) {
  ordered_json list = ordered_json::array();
  for (const auto& r : records) {
    auto next = Next(r);
    list.push_back({{"binding", r.binding},
                    {"rule", r.evaluation.rule_id},
                    {"status", StatusOf(r)},
                    {"due_now", r.action ? ordered_json(PhaseName(*r.action)) : ordered_json(nullptr)},
                    {"next_action", next ? ordered_json(PhaseName(next->action)) : ordered_json(nullptr)},
                    {"next_date", next ? ordered_json(next->from.ToString()) : ordered_json(nullptr)},
                    {"missing", r.evaluation.missing},
                    {"holds", Holds(r)}});
  }
  ordered_json j{{"as_of", as_of.ToString()}, {"records", list}};
  return j.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

std::string SubjectText(const std::vector<RecordView>& records, Date as_of) {
  std::string out = fmt::format("{} record(s) about this person as of {}\n", records.size(), as_of.ToString());
  for (const auto& r : records) {
    auto next = Next(r);
    out += fmt::format("  {:<28} {:<26} {:<12}", r.binding, r.evaluation.rule_id, StatusOf(r));
    if (r.action) out += fmt::format(" due now: {}", PhaseName(*r.action));
    if (next) out += fmt::format(" next: {} from {}", PhaseName(next->action), next->from.ToString());
    for (const auto& m : r.evaluation.missing) out += fmt::format(" missing: {}", m);
    for (const auto& h : Holds(r)) out += fmt::format(" [{}]", h);
    out += "\n";
  }
  return out;
}

std::string SubjectHtml(const std::vector<RecordView>& records, Date as_of) {
  using html::Esc;
  std::string body = fmt::format("<p>{} record(s) about this person, as of {}, with what the engine would do.</p>"
                                 "<table><thead><tr><th>Binding</th><th>Rule</th><th>Status</th><th>Due now</th>"
                                 "<th>Next action</th><th>From</th><th>Missing facts</th><th>Holds</th></tr></thead><tbody>",
                                 records.size(), as_of.ToString());
  for (const auto& r : records) {
    auto next = Next(r);
    body += fmt::format("<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                        "<td>{}</td></tr>",
                        Esc(r.binding), Esc(r.evaluation.rule_id), StatusOf(r), r.action ? PhaseName(*r.action) : "",
                        next ? PhaseName(next->action) : "", next ? next->from.ToString() : "",
                        Esc(fmt::format("{}", fmt::join(r.evaluation.missing, ", "))),
                        Esc(fmt::format("{}", fmt::join(Holds(r), "; "))));
  }
  return html::Page("Records about one person", body + "</tbody></table>");
}

}  // namespace retention
