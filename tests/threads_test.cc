// One loaded policy set shared by threads (docs/library.md, "Threads"): every shipped
// rule evaluated on generated facts by four threads at once must give exactly what one
// thread gives. Run as a plain test, and under ThreadSanitizer by scripts/test-tsan.sh,
// which fails on any data race.
//   threads_test POLICIES_DIR
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "retention/clock.h"
#include "retention/evaluator.h"
#include "retention/policy.h"

namespace {

using namespace retention;

// The facts of case `i` for `rule`: dates spread over 40 years, flags and words cycling,
// some facts left unknown.
Facts CaseFacts(const PolicySet& set, const Rule& rule, int i) {
  Facts facts;
  int k = 0;
  for (const auto& name : rule.facts) {
    const FactDefinition* def = set.vocabulary.Find(name);
    ++k;
    if (!def || (i + k) % 7 == 0) continue;  // unknown
    if (def->type == FactType::kDate) facts[name] = Date::FromDaysSinceEpoch(7000 + (i * 37 + k * 101) % 14600);
    else if (def->type == FactType::kFlag) facts[name] = ((i + k) % 3) == 0;
    else if (!def->values.empty()) facts[name] = def->values[static_cast<size_t>(i + k) % def->values.size()];
  }
  return facts;
}

// Everything an evaluation says, as one line.
std::string Describe(const Evaluation& e) {
  std::string out = e.rule_id + " " + EvalStatusName(e.status);
  for (const auto& t : e.timeline) out += std::string(" ") + PhaseName(t.action) + "=" + t.from.ToString();
  for (const auto& m : e.missing) out += " ?" + m;
  for (const auto& d : e.derivation) out += " | " + d;
  return out;
}

std::vector<std::string> EvaluateAll(const PolicySet& set, int cases) {
  std::vector<std::string> out;
  Date as_of = *Date::Parse("2026-11-22");
  for (const Rule* rule : set.AllRules())
    for (int i = 0; i < cases; ++i) {
      auto e = EvaluateRule(set, rule->id, CaseFacts(set, *rule, i), as_of);
      out.push_back(e.ok() ? Describe(*e) : "error " + e.status().message());
      out.push_back(DateInParis(static_cast<std::time_t>(i) * 86399).ToString());
    }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: threads_test POLICIES_DIR\n");
    return 2;
  }
  LoadResult loaded = LoadPolicies(argv[1]);
  if (HasErrors(loaded.diagnostics)) {
    std::fprintf(stderr, "the policies in %s have errors\n", argv[1]);
    return 1;
  }
  const PolicySet& set = loaded.policies;
  const int cases = 40;
  std::vector<std::string> expected = EvaluateAll(set, cases);
  std::vector<std::vector<std::string>> results(4);
  std::vector<std::thread> threads;
  for (auto& r : results) threads.emplace_back([&set, &r] { r = EvaluateAll(set, cases); });
  for (auto& t : threads) t.join();
  for (size_t t = 0; t < results.size(); ++t)
    if (results[t] != expected) {
      std::fprintf(stderr, "thread %zu gave different evaluations\n", t);
      return 1;
    }
  std::printf("%zu evaluations, identical in 4 threads\n", expected.size());
  return expected.size() > 1000 ? 0 : 1;  // the shipped set has well over 100 rules
}
