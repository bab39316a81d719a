// Compiles a rule's due condition into a Predicate that only compares facts with
// constants. Every date expression of a rule is non-decreasing in each fact it reads
// (offsets, end_of_month/year, max, min), so "expr < T" reduces to comparisons of each
// fact with a cutoff found by bisection with the evaluator's own arithmetic.
#include <algorithm>
#include <functional>
#include <set>

#include <fmt/format.h>

#include "policy/compiled_rule.h"
#include "plan/pushdown.h"

namespace retention {
namespace {
using internal::CondExpr;
using internal::DateExpr;
using Kind = Predicate::Kind;

Predicate Leaf(Kind kind) { Predicate p; p.kind = kind; return p; }
Predicate Make(Kind kind, std::vector<Predicate> args) {
  // Constant folding keeps the SQL small and the three-valued meaning intact.
  std::vector<Predicate> kept;
  bool is_and = kind == Kind::kAnd;
  for (auto& a : args) {
    if (a.kind == (is_and ? Kind::kFalse : Kind::kTrue)) return Leaf(a.kind);
    if (a.kind == (is_and ? Kind::kTrue : Kind::kFalse)) continue;
    if (a.kind == kind) { for (auto& x : a.args) kept.push_back(std::move(x)); continue; }
    kept.push_back(std::move(a));
  }
  if (kept.empty()) return Leaf(is_and ? Kind::kTrue : Kind::kFalse);
  if (kept.size() == 1) return std::move(kept.front());
  Predicate p;
  p.kind = kind;
  p.args = std::move(kept);
  return p;
}
Predicate Not(Predicate a) {
  if (a.kind == Kind::kTrue) return Leaf(Kind::kFalse);
  if (a.kind == Kind::kFalse) return Leaf(Kind::kTrue);
  if (a.kind == Kind::kNull) return a;
  if (a.kind == Kind::kNot) return std::move(a.args[0]);
  Predicate p;
  p.kind = Kind::kNot;
  p.args.push_back(std::move(a));
  return p;
}

class Compiler {
 public:
  Compiler(const Facts& deployment) : deployment_(deployment) {}
  bool exact = true;

  // "expr < T".
  Predicate Less(const DateExpr& e, Date t) {
    switch (e.kind) {
      case DateExpr::Kind::kLiteral: return Leaf(e.literal < t ? Kind::kTrue : Kind::kFalse);
      case DateExpr::Kind::kMax:
      case DateExpr::Kind::kMin: {
        std::vector<Predicate> parts;
        for (const auto& a : e.args) parts.push_back(Less(a, t));
        return Make(e.kind == DateExpr::Kind::kMax ? Kind::kAnd : Kind::kOr, std::move(parts));
      }
      default: break;
    }
    // A chain of non-decreasing unary steps around one inner expression.
    const DateExpr* inner = &e;
    while (inner->kind == DateExpr::Kind::kOffset || inner->kind == DateExpr::Kind::kEndOfMonth ||
           inner->kind == DateExpr::Kind::kEndOfYear)
      inner = &inner->args[0];
    if (inner->kind == DateExpr::Kind::kFact) {
      auto dep = deployment_.find(inner->fact);
      if (IsDeployment(inner->fact)) {
        if (dep == deployment_.end() || !std::holds_alternative<Date>(dep->second)) return Leaf(Kind::kNull);
        std::vector<std::string> missing;
        auto v = internal::EvalDate(e, deployment_, &missing);
        return Leaf(v && *v < t ? Kind::kTrue : Kind::kFalse);
      }
      Predicate p = Leaf(Kind::kDateLt);
      p.fact = inner->fact;
      p.date = Cutoff(e, inner->fact, t);
      return p;
    }
    // f(max(a, b)) = max(f(a), f(b)) for non-decreasing f: distribute the chain.
    std::vector<Predicate> parts;
    for (const auto& a : inner->args) parts.push_back(Less(Rewrap(e, inner, a), t));
    if (inner->kind == DateExpr::Kind::kLiteral) {
      std::vector<std::string> missing;
      auto v = internal::EvalDate(e, {}, &missing);
      return Leaf(v && *v < t ? Kind::kTrue : Kind::kFalse);
    }
    return Make(inner->kind == DateExpr::Kind::kMax ? Kind::kAnd : Kind::kOr, std::move(parts));
  }

  Predicate Cond(const CondExpr& c) {
    switch (c.kind) {
      case CondExpr::Kind::kFlag: {
        if (IsDeployment(c.fact)) return Constant(c);
        Predicate p = Leaf(Kind::kFlag);
        p.fact = c.fact;
        return p;
      }
      case CondExpr::Kind::kKnown: {
        if (IsDeployment(c.fact)) return Constant(c);
        Predicate p = Leaf(Kind::kKnown);
        p.fact = c.fact;
        return p;
      }
      case CondExpr::Kind::kEnumEq: {
        if (IsDeployment(c.fact)) return Constant(c);
        Predicate p = Leaf(Kind::kEnumEq);
        p.fact = c.fact;
        p.word = c.word;
        return c.negate ? Not(std::move(p)) : p;
      }
      case CondExpr::Kind::kNot: return Not(Cond(c.args[0]));
      case CondExpr::Kind::kAnd:
      case CondExpr::Kind::kOr: {
        std::vector<Predicate> parts;
        for (const auto& a : c.args) parts.push_back(Cond(a));
        return Make(c.kind == CondExpr::Kind::kAnd ? Kind::kAnd : Kind::kOr, std::move(parts));
      }
      case CondExpr::Kind::kCompare: return Compare(c);
    }
    return Leaf(Kind::kTrue);
  }

 private:
  bool IsDeployment(const std::string& fact) const {
    // Deployment facts are passed in (set or not) under their names; the caller lists
    // every deployment-scope fact in `deployment_` with a value or leaves it out.
    return deployment_scope_ && deployment_scope_->count(fact);
  }
  Predicate Constant(const CondExpr& c) {
    std::vector<std::string> missing;
    auto t = internal::EvalCondition(c, deployment_, &missing);
    return Leaf(t == internal::Truth::kTrue ? Kind::kTrue : t == internal::Truth::kFalse ? Kind::kFalse : Kind::kNull);
  }

  // Compares two date expressions: pushable when one side is constant.
  Predicate Compare(const CondExpr& c) {
    std::vector<std::string> missing;
    std::optional<Date> left, right;
    if (ReadsOnlyDeployment(c.dates[0])) left = internal::EvalDate(c.dates[0], deployment_, &missing);
    if (ReadsOnlyDeployment(c.dates[1])) right = internal::EvalDate(c.dates[1], deployment_, &missing);
    bool left_const = ReadsOnlyDeployment(c.dates[0]), right_const = ReadsOnlyDeployment(c.dates[1]);
    if ((left_const && !left) || (right_const && !right)) return Leaf(Kind::kNull);
    if (left_const && right_const) return Constant(c);
    if (!left_const && !right_const) {
      // Two facts compared: left to the evaluator. The leaf becomes "unknown here",
      // which the caller turns into a superset (see Superset()).
      exact = false;
      Predicate p = Leaf(Kind::kNull);
      p.word = "unpushable";
      return p;
    }
    using Cmp = CondExpr::Cmp;
    const DateExpr& expr = left_const ? c.dates[1] : c.dates[0];
    Date k = left_const ? *left : *right;
    Cmp cmp = c.cmp;
    if (left_const) {  // k OP x  ⇔  x OP' k
      switch (cmp) {
        case Cmp::kLt: cmp = Cmp::kGt; break;
        case Cmp::kLe: cmp = Cmp::kGe; break;
        case Cmp::kGt: cmp = Cmp::kLt; break;
        case Cmp::kGe: cmp = Cmp::kLe; break;
        default: break;
      }
    }
    switch (cmp) {
      case Cmp::kLt: return Less(expr, k);
      case Cmp::kLe: return Less(expr, k.AddDays(1));
      case Cmp::kGt: return Not(Less(expr, k.AddDays(1)));
      case Cmp::kGe: return Not(Less(expr, k));
      case Cmp::kEq: return Make(Kind::kAnd, {Less(expr, k.AddDays(1)), Not(Less(expr, k))});
      case Cmp::kNe: return Make(Kind::kOr, {Less(expr, k), Not(Less(expr, k.AddDays(1)))});
    }
    return Leaf(Kind::kTrue);
  }

  bool ReadsOnlyDeployment(const DateExpr& e) const {
    std::vector<std::string> facts;
    internal::CollectFacts(e, &facts);
    return std::all_of(facts.begin(), facts.end(), [&](const std::string& f) { return IsDeployment(f); });
  }

  // The chain from `outer` down to `inner`, rebuilt around `replacement`.
  static DateExpr Rewrap(const DateExpr& outer, const DateExpr* inner, const DateExpr& replacement) {
    if (&outer == inner) return replacement;
    DateExpr copy = outer;
    copy.args[0] = Rewrap(outer.args[0], inner, replacement);
    return copy;
  }

  // The smallest x with chain(x) >= t, by bisection on the evaluator's arithmetic.
  static Date Cutoff(const DateExpr& chain, const std::string& fact, Date t) {
    auto value = [&](int day) {
      Facts f{{fact, Date::FromDaysSinceEpoch(day)}};
      std::vector<std::string> missing;
      return *internal::EvalDate(chain, f, &missing);
    };
    // The whole date range: offsets can be up to Duration::kMaxYears long.
    int lo = Date::Min().days_since_epoch(), hi = Date::Max().days_since_epoch();
    if (!(value(lo) < t)) return Date::FromDaysSinceEpoch(lo);
    if (value(hi) < t) return Date::FromDaysSinceEpoch(hi + 1);
    while (lo + 1 < hi) {  // invariant: value(lo) < t <= value(hi)
      int mid = lo + (hi - lo) / 2;
      if (value(mid) < t) lo = mid; else hi = mid;
    }
    return Date::FromDaysSinceEpoch(hi);
  }

  const Facts& deployment_;

 public:
  const std::set<std::string>* deployment_scope_ = nullptr;
};

// Replaces "unpushable" leaves so that the predicate selects a superset: push NOT down
// to the leaves (NNF), then an unpushable leaf, negated or not, becomes TRUE.
Predicate Superset(const Predicate& p, bool negated) {
  switch (p.kind) {
    case Kind::kNot: return Superset(p.args[0], !negated);
    case Kind::kAnd:
    case Kind::kOr: {
      std::vector<Predicate> parts;
      for (const auto& a : p.args) parts.push_back(Superset(a, negated));
      bool is_and = (p.kind == Kind::kAnd) != negated;
      return Make(is_and ? Kind::kAnd : Kind::kOr, std::move(parts));
    }
    case Kind::kNull:
      if (p.word == "unpushable") return Leaf(Kind::kTrue);
      return p;
    default: return negated ? Not(p) : p;
  }
}

}  // namespace

std::string Predicate::ToString() const {
  switch (kind) {
    case Kind::kTrue: return "TRUE";
    case Kind::kFalse: return "FALSE";
    case Kind::kNull: return "NULL";
    case Kind::kNot: return "NOT " + args[0].ToString();
    case Kind::kAnd:
    case Kind::kOr: {
      std::vector<std::string> parts;
      for (const auto& a : args) parts.push_back(a.ToString());
      return "(" + fmt::format("{}", fmt::join(parts, kind == Kind::kAnd ? " AND " : " OR ")) + ")";
    }
    case Kind::kDateLt: return fmt::format("{} < {}", fact, date.ToString());
    case Kind::kFlag: return fmt::format("flag({})", fact);
    case Kind::kKnown: return fmt::format("known({})", fact);
    case Kind::kEnumEq: return fmt::format("{} = {}", fact, word);
  }
  return "?";
}

namespace {

struct DueCompilation {
  std::optional<Predicate> predicate;
  bool exact = true;
};

DueCompilation CompileDue(const Rule& rule, Phase action, Date as_of, const Facts& deployment_facts) {
  DueCompilation out;
  if (rule.manual || !rule.compiled) return out;
  const auto& phases = rule.compiled->phases;
  auto it = std::find_if(phases.begin(), phases.end(), [&](const internal::PhaseSpec& p) { return p.kind == action; });
  if (it == phases.end()) return out;
  size_t k = static_cast<size_t>(it - phases.begin());
  const std::set<std::string>& scope = rule.compiled->deployment_facts;
  Compiler c(deployment_facts);
  c.deployment_scope_ = &scope;

  // EndLess(i, t): "the last day of phase i < t".
  std::function<Predicate(const internal::PhaseSpec&, size_t, Date)> end_less_of;
  std::function<Predicate(size_t, Date)> end_less = [&](size_t i, Date t) -> Predicate {
    const auto& p = phases[i];
    if (i == 0) {
      std::vector<Predicate> all;
      if (p.from) all.push_back(c.Less(*p.from, t.AddDays(1)));  // from - 1 < t
      if (p.until) {
        const auto& u = *p.until;
        if (u.cases.empty()) {
          all.push_back(c.Less(*u.otherwise, t));
        } else {
          std::vector<Predicate> any_applies;
          for (const auto& cs : u.cases) {
            Predicate when = c.Cond(cs.when);
            any_applies.push_back(when);
            all.push_back(Make(Kind::kOr, {Not(when), c.Less(cs.date, t)}));
          }
          if (u.otherwise) any_applies.push_back(c.Less(*u.otherwise, t));
          all.push_back(Make(Kind::kOr, std::move(any_applies)));
        }
        // A decided hold keeps the first phase at least through `then`.
        for (const auto& h : rule.compiled->holds) {
          DateExpr until;
          until.fact = h.until;
          all.push_back(Make(Kind::kOr, {Not(c.Cond(h.when)), c.Less(h.then ? *h.then : until, t)}));
        }
      }
      return Make(Kind::kAnd, std::move(all));
    }
    if (p.when) {
      // A conditional phase ends where it would, or (when absent) where the previous one does.
      internal::PhaseSpec always = p;
      always.when.reset();
      Predicate when = c.Cond(*p.when);
      Predicate happens = Make(Kind::kAnd, {when, end_less_of(always, i, t)});
      return Make(Kind::kOr, {std::move(happens), Make(Kind::kAnd, {Not(when), end_less(i - 1, t)})});
    }
    return end_less_of(p, i, t);
  };
  end_less_of = [&](const internal::PhaseSpec& p, size_t i, Date t) -> Predicate {
    if (p.length) return end_less(i - 1, SmallestReaching(*p.length, t));
    if (p.until && p.until->cases.empty()) return Make(Kind::kAnd, {end_less(i - 1, t), c.Less(*p.until->otherwise, t)});
    // Cases on a later phase: "max of applicable cases < t" as for the first phase.
    std::vector<Predicate> all{end_less(i - 1, t)}, any;
    for (const auto& cs : p.until->cases) {
      Predicate when = c.Cond(cs.when);
      any.push_back(when);
      all.push_back(Make(Kind::kOr, {Not(when), c.Less(cs.date, t)}));
    }
    if (p.until->otherwise) any.push_back(c.Less(*p.until->otherwise, t));
    all.push_back(Make(Kind::kOr, std::move(any)));
    return Make(Kind::kAnd, std::move(all));
  };

  Predicate due;
  if (k == 0) {
    if (!it->from) return out;  // the record starts in this phase: never "due"
    due = c.Less(*it->from, as_of.AddDays(1));
  } else {
    due = end_less(k - 1, as_of);
  }
  // No data-driven hold active.
  std::vector<Predicate> all{due};
  for (const auto& h : rule.compiled->holds) {
    Predicate until = Leaf(Kind::kKnown);
    until.fact = h.until;
    all.push_back(Make(Kind::kOr, {Not(c.Cond(h.when)), until}));
  }
  out.predicate = Superset(Make(Kind::kAnd, std::move(all)), false);
  out.exact = c.exact;
  return out;
}

}  // namespace

std::optional<Predicate> DuePredicate(const Rule& rule, Phase action, Date as_of, const Facts& deployment_facts) {
  return CompileDue(rule, action, as_of, deployment_facts).predicate;
}

bool IsExactPushdown(const Rule& rule, Phase action, Date as_of, const Facts& deployment_facts) {
  return CompileDue(rule, action, as_of, deployment_facts).exact;
}

Predicate UnknownFactPredicate(const Rule& rule, const std::vector<std::string>& mapped, const Facts& deployment_facts) {
  std::vector<Predicate> unknown;
  for (const auto& f : rule.facts) {
    if (std::find(mapped.begin(), mapped.end(), f) != mapped.end()) {
      Predicate known = Leaf(Kind::kKnown);
      known.fact = f;
      unknown.push_back(Not(std::move(known)));
    } else if (!deployment_facts.count(f)) {
      unknown.push_back(Leaf(Kind::kTrue));  // no row has it
    }
  }
  return Make(Kind::kOr, std::move(unknown));
}

}  // namespace retention
