// The report model: the plan `run` makes, and what a person needs around it.
#include "retention/report.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

#include <fmt/format.h>

#include "retention/version.h"

namespace retention {
namespace fs = std::filesystem;
namespace {

std::string MonthOf(Date d) { return d.ToString().substr(0, 7); }

std::string UtcNow() {
  auto now = std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
  auto day = std::chrono::floor<std::chrono::days>(now);
  std::chrono::hh_mm_ss hms(now - day);
  return fmt::format("{}T{:02}:{:02}:{:02}Z", Date::FromChrono(std::chrono::year_month_day(day)).ToString(),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count());
}

// Per record, as the plan evaluates it: the forecast and the lateness.
struct Collector {
  Date as_of, horizon_end;  // horizon_end: first day after the horizon
  std::map<std::string, std::map<Phase, int64_t>> months;  // "YYYY-MM" → action → records
  std::map<std::string, ReportLateness> late;              // binding → lateness

  void Record(const Binding& b, const RawRecord& r, const Evaluation& e, std::optional<Phase> action) {
    if (e.status != EvalStatus::kDue && e.status != EvalStatus::kScheduled) return;
    for (const auto& t : e.timeline) {
      if (action && t.action == *action && t.from <= as_of) Late(b, t.from);
      if (t.from <= as_of || t.from >= horizon_end) continue;
      if (t.action == Phase::kArchive && b.archived_view) continue;  // already in the archive
      if (t.action == Phase::kPseudonymise && r.pseudonymised) continue;
      ++months[MonthOf(t.from)][t.action];
    }
  }

  void Late(const Binding& b, Date from) {
    auto& l = late[b.name];
    if (l.records == 0 || from < l.oldest_due) l.oldest_due = from;
    l.binding = b.name;
    l.rule_id = b.rule ? b.rule->id : b.rule_id;
    ++l.records;
  }
};

std::string HoldTarget(const OperatorHold& h) {
  switch (h.kind) {
    case OperatorHold::Kind::kSubject: return "one subject";
    case OperatorHold::Kind::kKey: return "one record";
    default: return h.value;
  }
}

bool Covers(const OperatorHold& h, const Binding& b) {
  switch (h.kind) {
    case OperatorHold::Kind::kRule:
      return b.rule && (h.value == b.rule->id ||
                        std::find(b.rule->implements.begin(), b.rule->implements.end(), h.value) != b.rule->implements.end());
    case OperatorHold::Kind::kStore: return h.value == b.store;
    case OperatorHold::Kind::kKey: return h.binding == b.name;
    case OperatorHold::Kind::kSubject: return !b.subject.empty();
  }
  return false;
}

Status AddHistory(const Deployment& d, const PolicySet& policies, const StateDb& state, Report* r) {
  auto runs = state.Runs();
  if (!runs.ok()) return runs.status();
  std::map<int64_t, RunRecord> by_id;
  for (auto& run : *runs) by_id[run.id] = run;
  auto audit = state.Audit(std::nullopt);
  if (!audit.ok()) return audit.status();
  fs::path certificates = d.CertificatesDir();
  for (const auto& e : *audit) {
    if (e.kind != audit_kind::kBatch || e.count == 0) continue;
    auto action = PhaseFromName(e.action);
    auto run = by_id.find(e.run_id);
    if (!action || run == by_id.end()) continue;
    ReportHistoryRow row{e.run_id, MonthOf(run->second.as_of), e.binding, e.rule_id, 0, *action, e.count, ""};
    if (const Rule* rule = policies.FindRule(e.rule_id))
      if (const Policy* p = policies.FindPolicyOf(*rule)) row.fiche = p->fiche;
    std::error_code ec;
    fs::path cert = certificates / fmt::format("run-{}.txt", e.run_id);
    if (fs::is_regular_file(cert, ec)) row.certificate = cert.string();
    r->history.push_back(std::move(row));
  }
  return Status::Ok();
}

void AddTotals(Report* r) {
  ReportTotals& t = r->totals;
  for (const auto& b : r->plan().bindings) {
    if (b.manual) continue;
    t.rows += b.total_rows;
    t.scanned += b.scanned;
    t.scheduled += b.scheduled;
    t.held += b.held.count;
    t.operator_held += b.operator_held.count;
    t.no_case += b.no_case;
    t.invalid += b.invalid_facts;
    for (const auto& [p, s] : b.due) t.due[p] += s.count;
    for (const auto& [f, n] : b.missing) t.missing[f] += n;
  }
}

void AddForecast(const Collector& c, Report* r) {
  Date month = *Date::FromYmd(r->as_of.year(), r->as_of.month(), 1);
  for (int i = 0; i < r->horizon_months; ++i, month = month.AddMonths(1)) {
    ReportForecastMonth m{MonthOf(month), {}};
    if (i == 0) m.reached = r->totals.due;  // the backlog: due now
    if (auto it = c.months.find(m.month); it != c.months.end())
      for (const auto& [p, n] : it->second) m.reached[p] += n;
    r->forecast.push_back(std::move(m));
  }
}

}  // namespace

Result<std::vector<ReportHold>> HoldsInForce(const Deployment& d, const Plan& plan, const StateDb& state) {
  auto holds = state.Holds(false);
  if (!holds.ok()) return holds.status();
  std::vector<ReportHold> out;
  for (const auto& h : *holds) {
    ReportHold x{h.id, HoldKindName(h.kind), HoldTarget(h), h.author, h.reason, h.created_at, {}, 0};
    for (const auto& bp : plan.bindings) {
      const Binding* b = d.FindBinding(bp.binding);
      if (!b || !Covers(h, *b)) continue;
      x.bindings.push_back(bp.binding);
      bool whole = h.kind == OperatorHold::Kind::kRule || h.kind == OperatorHold::Kind::kStore;
      if (whole) x.records_covered += bp.total_rows;
    }
    out.push_back(std::move(x));
  }
  return out;
}

Result<Report> BuildReport(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                           StateDb* state, const ReportOptions& options) {
  if (options.horizon_months < 1 || options.horizon_months > 120)
    return Status::InvalidArgument("the forecast horizon is 1 to 120 months");
  Report r;
  r.as_of = options.as_of;
  r.horizon_months = options.horizon_months;
  r.engine_version = Version();
  r.generated_at = options.generated_at.empty() ? UtcNow() : options.generated_at;
  Collector c;
  c.as_of = options.as_of;
  c.horizon_end = Date::FromYmd(options.as_of.year(), options.as_of.month(), 1)->AddMonths(options.horizon_months);
  RunOptions ro;
  ro.as_of = options.as_of;
  ro.full_scan = true;
  ro.progress = options.progress;
  ro.on_record = [&c](const Binding& b, const RawRecord& rec, const Evaluation& e, std::optional<Phase> a) {
    c.Record(b, rec, e, a);
  };
  auto outcome = PlanOrRun(deployment, policies, stores, state, ro);
  if (!outcome.ok()) return outcome.status();
  r.outcome = std::move(*outcome);
  AddTotals(&r);
  for (const auto& bp : r.plan().bindings) {
    ReportRule rule{&bp, nullptr, nullptr, ""};
    if (const Binding* b = deployment.FindBinding(bp.binding)) {
      rule.rule = b->rule;
      if (!bp.manual) rule.guard = GuardReason(bp, *b);
    }
    if (rule.rule) rule.policy = policies.FindPolicyOf(*rule.rule);
    r.rules.push_back(rule);
  }
  for (auto& [name, l] : c.late) {
    l.days_late = options.as_of.days_since_epoch() - l.oldest_due.days_since_epoch();
    r.lateness.push_back(l);
  }
  AddForecast(c, &r);
  if (!state) {
    r.state_note = "no state database yet: operator holds were not checked and there is no history";
    return r;
  }
  auto holds = HoldsInForce(deployment, r.plan(), *state);
  if (!holds.ok()) return holds.status();
  r.holds = std::move(*holds);
  if (Status s = AddHistory(deployment, policies, *state, &r); !s.ok()) return s;
  return r;
}

}  // namespace retention
