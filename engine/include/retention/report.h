// The DPO's report: the plan that `run` would make at a date, with what a person needs
// around it (fiche titles, legal basis, quoted rules, holds and their reasons, missing
// facts, manual rules, guards that would trip), a forecast drawn from every record's
// timeline, the lateness per binding and the history of past runs from the state
// database. Built on the one plan code path (PlanOrRun); nothing here decides anew.
// Never carries a record's key or subject: only counts, dates and names.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "retention/run.h"
#include "retention/state.h"

namespace retention {

struct ReportHold {
  int64_t id = 0;
  std::string kind;    // subject, key, rule, store
  std::string target;  // the rule or store named; "one subject" / "one record" for digests
  std::string author, reason, created_at;
  std::vector<std::string> bindings;  // the bindings it covers
  int64_t records_covered = 0;        // rows of those bindings (rule and store holds)
};

struct ReportLateness {
  std::string binding, rule_id;
  int64_t records = 0;  // due records still kept (due now, held or not)
  Date oldest_due;      // the earliest first day an action was allowed, among them
  int64_t days_late = 0;
};

struct ReportForecastMonth {
  std::string month;  // "YYYY-MM"; the first is the as-of month and includes the backlog
  std::map<Phase, int64_t> reached;
};

struct ReportHistoryRow {
  int64_t run_id = 0;
  std::string month;  // of the run's as-of date
  std::string binding, rule_id;
  int fiche = 0;
  Phase action = Phase::kDelete;
  int64_t count = 0;
  std::string certificate;  // the run's certificate (text), "" when absent
};

struct ReportRule {
  const BindingPlan* plan = nullptr;
  const Rule* rule = nullptr;      // null when the binding's rule is unknown
  const Policy* policy = nullptr;  // its fiche
  std::string guard;               // why a run would skip this binding, "" when it would not
};

struct ReportTotals {
  int64_t rows = 0, scanned = 0, scheduled = 0, held = 0, operator_held = 0, no_case = 0, invalid = 0;
  std::map<Phase, int64_t> due;
  std::map<std::string, int64_t> missing;  // fact → records
};

struct Report {
  RunOutcome outcome;  // the plan, as `run` makes it (a full scan)
  Date as_of;
  int horizon_months = 24;
  std::string engine_version;
  std::string generated_at;  // UTC, ISO 8601
  std::string state_note;    // why holds or history are absent, if they are
  ReportTotals totals;
  std::vector<ReportRule> rules;
  std::vector<ReportHold> holds;
  std::vector<ReportLateness> lateness;
  std::vector<ReportForecastMonth> forecast;
  std::vector<ReportHistoryRow> history;
  const Plan& plan() const { return outcome.plan; }
};

struct ReportOptions {
  Date as_of;
  int horizon_months = 24;  // 1..120
  std::string generated_at;
  std::function<void(const Progress&)> progress;
};

// Plans at `as_of` (a full scan: every record evaluated) and builds the report. `state`
// may be null (no holds checked, no history).
Result<Report> BuildReport(const Deployment& deployment, const PolicySet& policies, const Stores& stores,
                           StateDb* state, const ReportOptions& options);

// The operator holds in force, each with the bindings of the plan it covers.
Result<std::vector<ReportHold>> HoldsInForce(const Deployment& deployment, const Plan& plan, const StateDb& state);

// Renderings (docs/reports.md, docs/report-schema.md).
std::string ReportJson(const Report& report);
std::string ReportMarkdown(const Report& report);
std::string ReportCsv(const Report& report);
std::string ReportHtml(const Report& report);

// The register view: every fiche with its rules (quote, reading, kind, decision).
std::string RegisterMarkdown(const PolicySet& policies);
std::string RegisterHtml(const PolicySet& policies);

}  // namespace retention

namespace retention {

// One record read from its store and evaluated as the plan evaluates it.
struct RecordView {
  std::string binding;
  const Rule* rule = nullptr;
  Evaluation evaluation;
  std::optional<Phase> action;               // what a run would do now (nullopt: nothing)
  std::optional<std::string> operator_hold;  // the reason of the operator hold on it, if any
  bool pseudonymised = false;
};

// The records of one binding with this key, or of every binding with this subject (one
// of the two). Reads each binding once through the plan's code path, so the status is
// the one `run` would see.
struct RecordQuery {
  Date as_of;
  std::string binding, key;  // by key: both
  std::string subject;       // by subject: every binding with a subject column
};
Result<std::vector<RecordView>> FindRecords(const Deployment& deployment, const PolicySet& policies,
                                            const Stores& stores, StateDb* state, const RecordQuery& query);

// The right-of-access view: each record's binding, rule, status, next action and date,
// holds. Never prints a key or the subject.
std::string SubjectJson(const std::vector<RecordView>& records, Date as_of);
std::string SubjectText(const std::vector<RecordView>& records, Date as_of);
std::string SubjectHtml(const std::vector<RecordView>& records, Date as_of);

}  // namespace retention
