// Evaluations per second on one core: the engine's Evaluate (no derivation, as a plan
// calls it) against a hand-written C++ function computing the same dates for the same
// records, in the same process, alternating, median of the repetitions. Every record's
// status and delete date must agree, or the benchmark fails (exit 1).
//
// Usage: eval_bench POLICY_DIR [RECORDS] [REPETITIONS]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "retention/evaluator.h"
#include "retention/policy.h"

namespace {
using retention::Date;
using retention::Evaluation;
using retention::EvalStatus;
using retention::Facts;
using retention::Phase;

const Date kAsOf = *Date::FromYmd(2026, 11, 23);

// One record as a hand-written job would hold it: typed fields, every flag known.
struct Row {
  Date a, b, c;  // the rule's dates: versement | deces | dernier_sejour, naissance, deces
  bool has_c = false;
  bool f1 = false, f2 = false, f3 = false, f4 = false, f5 = false;  // F19's flags
};

// What both sides compute: the first day of deletion (nullopt: no deletion date) and
// whether some action is due now.
struct Outcome {
  std::optional<Date> delete_from;
  bool due = false;
  bool operator==(const Outcome&) const = default;
};

Outcome Timeline(Date active_end, std::optional<int> archive_years) {
  Date del = active_end.AddDays(1);
  bool due = del <= kAsOf;
  if (archive_years) {
    del = active_end.AddYears(*archive_years).AddDays(1);
    due = active_end.AddDays(1) <= kAsOf;
  }
  return {del, due};
}

// F05.prestations: versement + 3y, then archived 10y, then deleted.
Outcome HandF05(const Row& r) { return Timeline(r.a.AddYears(3), 10); }

// F19.deces: the longest case that applies (3y, 5y, 10y after death), archived 10y.
Outcome HandF19(const Row& r) {
  std::optional<Date> end;
  auto consider = [&](bool applies, int years) {
    if (applies && (!end || r.b.AddYears(years) > *end)) end = r.b.AddYears(years);
  };
  consider(r.f1 || r.f2, 3);
  consider(r.f3 || r.f4, 5);
  consider(r.f5, 10);
  if (!end) return {};
  return Timeline(*end, 10);
}

// F51.dossier_medical: 10y after death when death came within 10y of the last stay,
// else the later of 20y after the last stay and the 28th birthday.
Outcome HandF51(const Row& r) {
  if (r.has_c && r.c < r.a.AddYears(10)) return Timeline(r.c.AddYears(10), std::nullopt);
  return Timeline(std::max(r.a.AddYears(20), r.b.AddYears(28)), std::nullopt);
}

Outcome FromEngine(const Evaluation& e) {
  Outcome o;
  for (const auto& t : e.timeline)
    if (t.action == Phase::kDelete) o.delete_from = t.from;
  o.due = e.status == EvalStatus::kDue;
  return o;
}

struct Bench {
  const char* rule;
  Outcome (*hand)(const Row&);
  std::function<Facts(const Row&)> facts;
};

Date RandomDate(std::mt19937_64& rng, int from_year, int to_year) {
  int64_t lo = Date::FromYmd(from_year, 1, 1)->days_since_epoch();
  int64_t hi = Date::FromYmd(to_year, 12, 31)->days_since_epoch();
  return Date::FromDaysSinceEpoch(std::uniform_int_distribution<int64_t>(lo, hi)(rng));
}

double Seconds(const std::function<void()>& f) {
  auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: eval_bench POLICY_DIR [RECORDS] [REPETITIONS]\n");
    return 2;
  }
  size_t n = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 1000000;
  int reps = argc > 3 ? std::atoi(argv[3]) : 5;
  auto loaded = retention::LoadPolicies(argv[1]);
  if (HasErrors(loaded.diagnostics)) {
    std::fprintf(stderr, "eval_bench: cannot load the policies in %s\n", argv[1]);
    return 2;
  }
  const retention::PolicySet& set = loaded.policies;
  std::vector<Bench> benches = {
      {"F05.prestations", HandF05, [](const Row& r) { return Facts{{"date_versement", r.a}}; }},
      {"F19.deces", HandF19,
       [](const Row& r) {
         return Facts{{"deces", r.b},          {"ald", r.f1},  {"accord_prealable", r.f2}, {"invalidite", r.f3},
                      {"inaptitude", r.f4},    {"atmp", r.f5}, {"contentieux", false}};
       }},
      {"F51.dossier_medical", HandF51,
       [](const Row& r) {
         Facts f{{"dernier_sejour", r.a}, {"naissance", r.b}};
         if (r.has_c) f["deces"] = r.c;
         return f;
       }},
  };
  std::mt19937_64 rng(42);
  std::vector<Row> rows(n);
  for (auto& r : rows) {
    r.a = RandomDate(rng, 2000, 2026);
    r.b = RandomDate(rng, 1940, 2020);
    r.c = RandomDate(rng, 2000, 2026);
    r.has_c = rng() % 4 == 0;
    r.f1 = rng() % 3 == 0, r.f2 = rng() % 5 == 0, r.f3 = rng() % 4 == 0, r.f4 = rng() % 7 == 0, r.f5 = rng() % 6 == 0;
  }
  std::printf("%-22s %14s %14s %7s\n", "rule", "engine evals/s", "hand-written/s", "ratio");
  for (const auto& b : benches) {
    const retention::Rule* rule = set.FindRule(b.rule);
    if (!rule) {
      std::fprintf(stderr, "eval_bench: no rule %s\n", b.rule);
      return 2;
    }
    std::vector<Facts> facts;
    facts.reserve(n);
    for (const auto& r : rows) facts.push_back(b.facts(r));
    std::vector<Outcome> engine(n), hand(n);
    std::vector<double> te, th;
    for (int rep = 0; rep < reps; ++rep) {  // alternating, same records
      te.push_back(Seconds([&] {
        for (size_t i = 0; i < n; ++i)
          engine[i] = FromEngine(retention::Evaluate(*rule, facts[i], kAsOf, {}, retention::Derivation::kSkip));
      }));
      th.push_back(Seconds([&] {
        for (size_t i = 0; i < n; ++i) hand[i] = b.hand(rows[i]);
      }));
    }
    for (size_t i = 0; i < n; ++i)
      if (!(engine[i] == hand[i])) {
        std::fprintf(stderr, "eval_bench: %s: record %zu differs between the engine and the hand-written function\n",
                     b.rule, i);
        return 1;
      }
    std::sort(te.begin(), te.end());
    std::sort(th.begin(), th.end());
    double e = static_cast<double>(n) / te[te.size() / 2], h = static_cast<double>(n) / th[th.size() / 2];
    std::printf("%-22s %14s %14s %6.1fx\n", b.rule, fmt::format("{:.2f}M", e / 1e6).c_str(),
                fmt::format("{:.2f}M", h / 1e6).c_str(), h / e);
  }
  return 0;
}
