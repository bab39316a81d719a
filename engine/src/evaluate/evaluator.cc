#include "retention/evaluator.h"

#include <algorithm>

#include <fmt/format.h>

#include "policy/compiled_rule.h"

namespace retention {
namespace {
using internal::Truth;

const char* PhaseEndLabel(Phase p) {
  switch (p) {
    case Phase::kActive: return "end of active phase";
    case Phase::kArchive: return "end of archive phase";
    case Phase::kPseudonymise: return "end of pseudonymised phase";
    case Phase::kDelete: return "delete";
  }
  return "";
}

class RuleEvaluation {
 public:
  RuleEvaluation(const internal::CompiledRule& rule, const Facts& facts, bool derive, Evaluation* out)
      : rule_(rule), facts_(facts), derive_(derive), out_(*out) {}

  void Run() {
    CheckHolds();
    if (!out_.holds.empty()) {
      Finish(EvalStatus::kHold);
      return;
    }
    std::optional<Date> previous_end;
    bool no_case = false;
    for (size_t i = 0; i < rule_.phases.size(); ++i) {
      const auto& phase = rule_.phases[i];
      if (i > 0 && previous_end && phase.when && !PhaseHappens(phase)) continue;
      if (i == 0 && phase.from) {
        auto from = Date_(*phase.from, [&] { return fmt::format("{} from", PhaseName(phase.kind)); });
        if (from) Push(phase.kind, *from);
        if (from) previous_end = from->AddDays(-1);
      } else if (i > 0 && previous_end) {
        Push(phase.kind, previous_end->AddDays(1));
      }
      if (!phase.until && !phase.length) continue;
      std::optional<Date> end;
      if (phase.length && previous_end) {
        end = Add(*previous_end, *phase.length);
        Derive([&] { return fmt::format("{} + {} = {} ({})", previous_end->ToString(), phase.length->ToString(), end->ToString(),
                           PhaseEndLabel(phase.kind)); });
      } else if (phase.until) {
        auto result = End(*phase.until, phase.kind);
        if (result.no_case) no_case = true;
        end = result.date;
      }
      if (i == 0 && end) end = ApplyDecidedHolds(*end);
      if (end && previous_end && *end < *previous_end) {
        Derive([&] { return fmt::format("{} is before the previous phase ends: the phase is empty", end->ToString()); });
        end = previous_end;
      }
      previous_end = end;
      if (!end) break;
    }
    if (!out_.missing.empty()) Finish(EvalStatus::kMissingFact);
    else if (no_case) Finish(EvalStatus::kNoCase);
    else Finish(EvalStatus::kScheduled);
  }

 private:
  struct EndResult {
    std::optional<Date> date;
    bool no_case = false;
  };
  struct UnknownCase {
    const internal::Case* c;
    std::vector<std::string> missing;
  };

  // A conditional phase: true → it happens; false → it is absent; unknown → missing_fact.
  bool PhaseHappens(const internal::PhaseSpec& phase) {
    std::vector<std::string> missing;
    Truth t = internal::EvalCondition(*phase.when, facts_, &missing);
    if (t == Truth::kTrue) {
      Derive([&] { return fmt::format("{} phase: '{}' is true", PhaseName(phase.kind), phase.when->ToString()); });
      return true;
    }
    if (t == Truth::kFalse) {
      Derive([&] { return fmt::format("{} phase: '{}' is false: no {} for this record", PhaseName(phase.kind),
                         phase.when->ToString(), PhaseName(phase.kind)); });
      return false;
    }
    for (const auto& m : missing) AddMissing(m);
    Derive([&] { return fmt::format("{} phase: cannot tell whether '{}', missing {}", PhaseName(phase.kind), phase.when->ToString(),
                       fmt::join(missing, ", ")); });
    return true;  // computed as if it happened; the status is missing_fact anyway
  }

  void Push(Phase action, Date from) {
    timeline_.push_back({action, from});
    Derive([&] { return fmt::format("{} from {}", PhaseName(action), from.ToString()); });
  }
  // A line of the derivation, formatted only when the caller asked for one: the plan
  // evaluates millions of records and reads none of them.
  template <class MakeLine>
  void Derive(MakeLine make_line) {
    if (derive_) out_.derivation.push_back(make_line());
  }

  template <class MakeLabel>
  std::optional<Date> Date_(const internal::DateExpr& e, MakeLabel label) {
    std::vector<std::string> missing;
    auto d = internal::EvalDate(e, facts_, &missing);
    for (const auto& m : missing) AddMissing(m);
    if (d) Derive([&] { return fmt::format("{} = {} ({})", e.ToString(), d->ToString(), label()); });
    else Derive([&] { return fmt::format("{}: cannot compute, missing {}", e.ToString(), fmt::join(missing, ", ")); });
    return d;
  }

  void AddMissing(const std::string& name) {
    if (std::find(out_.missing.begin(), out_.missing.end(), name) == out_.missing.end()) out_.missing.push_back(name);
  }

  // Cases: the latest date of the cases known to apply; `otherwise` only when every
  // case is known not to apply. A case that cannot be decided matters only if its date
  // could be later than the date reached: then the record is missing_fact.
  EndResult End(const internal::EndSpec& spec, Phase kind) {
    const char* label = PhaseEndLabel(kind);
    if (spec.cases.empty()) return {Date_(*spec.otherwise, [label] { return std::string(label); })};
    std::optional<Date> reached;
    bool applied = false, incomplete = false;
    std::vector<UnknownCase> unknown;
    for (const auto& c : spec.cases) {
      std::vector<std::string> missing;
      Truth t = internal::EvalCondition(c.when, facts_, &missing);
      if (t == Truth::kFalse) {
        Derive([&] { return fmt::format("case '{}': does not apply", c.when.ToString()); });
        continue;
      }
      if (t == Truth::kUnknown) {
        unknown.push_back({&c, std::move(missing)});
        continue;
      }
      applied = true;
      auto d = Date_(c.date, [&] { return fmt::format("case '{}'", c.when.ToString()); });
      if (!d) incomplete = true;
      else if (!reached || *d > *reached) reached = d;
    }
    if (incomplete) return {};
    if (!applied && spec.otherwise && unknown.empty()) {
      reached = Date_(*spec.otherwise, [label] { return fmt::format("no case applies: {}", label); });
      if (!reached) return {};
    } else if (!applied && spec.otherwise) {
      // Whether the default applies at all depends on the undecided cases: name their
      // facts first; the default's own missing facts matter only once they are known.
      std::vector<std::string> ignored;
      reached = internal::EvalDate(*spec.otherwise, facts_, &ignored);
      if (reached) Derive([&] { return fmt::format("{} = {} (if no undecided case applies: {})", spec.otherwise->ToString(),
                                      reached->ToString(), label); });
    }
    if (!UnknownCasesEndBy(unknown, reached)) return {};
    if (!reached) {
      Derive([] { return std::string("no case applies and there is no default: the record is kept"); });
      return {std::nullopt, true};
    }
    Derive([&] { return fmt::format("longest applicable case: {} ({})", reached->ToString(), label); });
    return {reached};
  }

  // True when every undecided case could only end by `reached`; otherwise each one that
  // could keep the record longer names its missing facts.
  bool UnknownCasesEndBy(const std::vector<UnknownCase>& unknown, std::optional<Date> reached) {
    bool all = true;
    for (const auto& u : unknown) {
      std::vector<std::string> date_missing;
      auto d = internal::EvalDate(u.c->date, facts_, &date_missing);
      if (reached && d && *d <= *reached) {
        Derive([&] { return fmt::format("case '{}': cannot tell (missing {}), but it could only end earlier ({}): no effect",
                           u.c->when.ToString(), fmt::join(u.missing, ", "), d->ToString()); });
        continue;
      }
      all = false;
      for (const auto& m : u.missing) AddMissing(m);  // the condition's facts: what decides first
      Derive([&] { return fmt::format("case '{}': cannot tell, missing {}; it could keep the record {}", u.c->when.ToString(),
                         fmt::join(u.missing, ", "),
                         d ? "through " + d->ToString() : std::string("longer")); });
    }
    return all;
  }

  void CheckHolds() {
    for (const auto& h : rule_.holds) {
      std::vector<std::string> missing;
      Truth t = internal::EvalCondition(h.when, facts_, &missing);
      bool decided = facts_.count(h.until) && std::holds_alternative<Date>(facts_.at(h.until));
      if (decided || t == Truth::kFalse) continue;
      if (t == Truth::kUnknown) {
        // Cannot tell whether the hold applies: keep the record, name what is missing.
        for (const auto& m : missing) AddMissing(m);
        Derive([&] { return fmt::format("hold '{}': cannot tell, missing {}: the record is kept", h.when.ToString(),
                           fmt::join(missing, ", ")); });
        continue;
      }
      out_.holds.push_back(h.reason);
      Derive([&] { return fmt::format("hold: {} is true and {} is unknown: every action is suspended", h.when.ToString(), h.until); });
    }
  }

  // A hold whose event is now known keeps the record at least through `then`; one whose
  // condition cannot be decided makes the record missing_fact if it could keep it longer.
  Date ApplyDecidedHolds(Date end) {
    for (const auto& h : rule_.holds) {
      std::vector<std::string> missing;
      Truth t = internal::EvalCondition(h.when, facts_, &missing);
      if (t == Truth::kFalse) continue;
      internal::DateExpr until;
      until.fact = h.until;
      const internal::DateExpr& bound = h.then ? *h.then : until;
      std::vector<std::string> date_missing;
      auto d = internal::EvalDate(bound, facts_, &date_missing);
      if (!d) continue;  // undecided: CheckHolds kept the record
      if (t == Truth::kUnknown) {
        if (*d <= end) continue;
        for (const auto& m : missing) AddMissing(m);
        Derive([&] { return fmt::format("hold '{}': cannot tell, missing {}; it could keep the record through {}", h.when.ToString(),
                           fmt::join(missing, ", "), d->ToString()); });
        continue;
      }
      Derive([&] { return fmt::format("{} and {} is known: kept at least through {} = {}", h.when.ToString(), h.until,
                         bound.ToString(), d->ToString()); });
      end = std::max(end, *d);
    }
    return end;
  }

  void Finish(EvalStatus status) {
    out_.status = status;
    if (status != EvalStatus::kScheduled) return;
    out_.timeline = timeline_;
    for (const auto& entry : timeline_)
      if (entry.from <= out_.as_of) out_.due = entry.action;
    if (out_.due) out_.status = EvalStatus::kDue;
  }

  const internal::CompiledRule& rule_;
  const Facts& facts_;
  bool derive_;
  Evaluation& out_;
  std::vector<TimelineEntry> timeline_;
};

}  // namespace

const char* EvalStatusName(EvalStatus status) {
  switch (status) {
    case EvalStatus::kScheduled: return "scheduled";
    case EvalStatus::kDue: return "due";
    case EvalStatus::kHold: return "hold";
    case EvalStatus::kMissingFact: return "missing_fact";
    case EvalStatus::kNoCase: return "no_case";
    case EvalStatus::kManual: return "manual";
  }
  return "?";
}

namespace {

Evaluation EvaluateOne(const Rule& rule, const Facts& facts, Date as_of, Derivation derivation) {
  Evaluation out;
  out.rule_id = rule.id;
  out.as_of = as_of;
  if (rule.manual || !rule.compiled) {
    out.status = EvalStatus::kManual;
    if (derivation == Derivation::kBuild) out.derivation.push_back("manual rule: " + rule.manual_reason);
    return out;
  }
  RuleEvaluation(*rule.compiled, facts, derivation == Derivation::kBuild, &out).Run();
  return out;
}

}  // namespace

Evaluation Evaluate(const Rule& rule, const Facts& facts, Date as_of) {
  return EvaluateOne(rule, facts, as_of, Derivation::kBuild);
}

Result<Evaluation> EvaluateRule(const PolicySet& set, const std::string& rule_id, const Facts& facts, Date as_of,
                                const Facts& assumptions) {
  const Rule* rule = set.FindRule(rule_id);
  if (!rule) return Status::NotFound(fmt::format("unknown rule '{}' (no policy rule or catalog id)", rule_id));
  if (Status s = CheckFacts(set.vocabulary, facts); !s.ok()) return s;
  if (Status s = CheckFacts(set.vocabulary, assumptions); !s.ok()) return Status::InvalidArgument("assumption: " + s.message());
  for (const auto& [name, value] : assumptions)  // as in a configuration's `assume:`
    if (std::holds_alternative<Date>(value))
      return Status::InvalidArgument(fmt::format("assumption: '{}' is a date, and a date is never assumed", name));
  return Evaluate(*rule, facts, as_of, assumptions);
}

Evaluation Evaluate(const Rule& rule, const Facts& facts, Date as_of, const Facts& assumptions,
                    Derivation derivation) {
  auto used = [&](const std::string& name) {
    return !facts.count(name) && std::find(rule.facts.begin(), rule.facts.end(), name) != rule.facts.end();
  };
  if (std::none_of(assumptions.begin(), assumptions.end(), [&](const auto& a) { return used(a.first); }))
    return EvaluateOne(rule, facts, as_of, derivation);
  Facts merged = facts;
  std::vector<std::string> assumed, lines;
  for (const auto& [name, value] : assumptions) {
    if (!used(name)) continue;
    merged[name] = value;
    assumed.push_back(name + "=" + FactValueToString(value));
    if (derivation == Derivation::kBuild)
      lines.push_back(fmt::format("assumed {} = {} (stated by the deployment: the store does not record it)", name,
                                  FactValueToString(value)));
  }
  Evaluation out = EvaluateOne(rule, merged, as_of, derivation);
  out.assumed = std::move(assumed);
  out.derivation.insert(out.derivation.begin(), lines.begin(), lines.end());
  return out;
}

Evaluation Combine(const std::vector<Evaluation>& evaluations) {
  Evaluation out;
  if (evaluations.empty()) return out;
  out.as_of = evaluations.front().as_of;
  std::vector<std::string> ids;
  std::optional<Date> delete_from;
  bool all_delete = true;
  // Keep wins: the most conservative status is reported.
  static constexpr EvalStatus kOrder[] = {EvalStatus::kHold, EvalStatus::kManual, EvalStatus::kMissingFact,
                                          EvalStatus::kNoCase, EvalStatus::kScheduled, EvalStatus::kDue};
  size_t worst = std::size(kOrder) - 1;
  for (const auto& e : evaluations) {
    ids.push_back(e.rule_id);
    for (size_t i = 0; i < std::size(kOrder); ++i)
      if (kOrder[i] == e.status) worst = std::min(worst, i);
    for (const auto& m : e.missing)
      if (std::find(out.missing.begin(), out.missing.end(), m) == out.missing.end()) out.missing.push_back(m);
    out.holds.insert(out.holds.end(), e.holds.begin(), e.holds.end());
    for (const auto& a : e.assumed)
      if (std::find(out.assumed.begin(), out.assumed.end(), a) == out.assumed.end()) out.assumed.push_back(a);
    auto it = std::find_if(e.timeline.begin(), e.timeline.end(),
                           [](const TimelineEntry& t) { return t.action == Phase::kDelete; });
    if (it == e.timeline.end()) all_delete = false;
    else if (!delete_from || it->from > *delete_from) delete_from = it->from;
    for (const auto& d : e.derivation) out.derivation.push_back(e.rule_id + ": " + d);
  }
  out.rule_id = fmt::format("{}", fmt::join(ids, "+"));
  out.status = kOrder[worst];
  if (out.status != EvalStatus::kScheduled && out.status != EvalStatus::kDue) return out;
  if (!all_delete) {
    out.status = EvalStatus::kScheduled;
    out.derivation.push_back("not every rule ends in deletion: the record is kept");
    return out;
  }
  out.timeline.push_back({Phase::kDelete, *delete_from});
  out.derivation.push_back(fmt::format("delete from the latest delete date: {}", delete_from->ToString()));
  if (*delete_from <= out.as_of) out.due = Phase::kDelete;
  out.status = out.due ? EvalStatus::kDue : EvalStatus::kScheduled;
  return out;
}

}  // namespace retention
