// Unknown is never false (DESIGN.md): three-valued conditions, undecided cases that can
// or cannot matter, unknown holds, conditional phases, and a deployment's assumptions.
#include <catch2/catch.hpp>

#include <tuple>

#include "retention/evaluator.h"
#include "retention/explain.h"
#include "retention/policy.h"
#include "support/inline_rule.h"

using namespace retention;
using namespace retention::testing;

namespace {

// A rule whose one case reveals the truth of `condition`: true keeps 10 years, false
// (otherwise) 1 year, unknown is missing_fact because the case could keep it longer.
Rule Probe(const std::string& condition) {
  std::string facts = "collecte";
  for (const char* f : {"ald", "atmp", "motif", "deces"})
    if (condition.find(f) != std::string::npos) facts += std::string(", ") + f;
  return LoadRule(R"(  - id: F09.probe
    implements: [F09.probe]
    source: "probe"
    facts: [)" + facts + R"(]
    phases:
      - phase: active
        until:
          cases:
            - {when: ")" + condition + R"(", date: collecte + 10y}
          otherwise: collecte + 1y
      - {phase: delete}
)");
}

// -1 unknown (absent), 0 false, 1 true.
void SetFlag(Facts* f, const char* name, int v) {
  if (v >= 0) (*f)[name] = v == 1;
}

std::string TruthOf(const Rule& rule, const Facts& facts) {
  Evaluation e = Evaluate(rule, facts, D("2026-11-22"));
  if (e.status == EvalStatus::kMissingFact) return "unknown";
  if (Timeline(e) == "delete 2030-01-02") return "true";
  if (Timeline(e) == "delete 2021-01-02") return "false";
  return "unexpected: " + std::string(EvalStatusName(e.status)) + " " + Timeline(e);
}

}  // namespace

TEST_CASE("three-valued logic: truth tables of and, or, not", "[evaluator][unknown]") {
  auto [op, a, b, expected] = GENERATE(table<std::string, int, int, std::string>({
      {"and", 1, 1, "true"},     {"and", 1, 0, "false"},    {"and", 1, -1, "unknown"},
      {"and", 0, 0, "false"},    {"and", 0, -1, "false"},   {"and", -1, -1, "unknown"},
      {"and", -1, 0, "false"},   {"or", 1, 1, "true"},      {"or", 1, 0, "true"},
      {"or", 1, -1, "true"},     {"or", 0, 0, "false"},     {"or", 0, -1, "unknown"},
      {"or", -1, -1, "unknown"}, {"or", -1, 1, "true"},     {"not", 1, 0, "false"},
      {"not", 0, 0, "true"},     {"not", -1, 0, "unknown"},
  }));
  std::string condition = op == "not" ? "not ald" : "ald " + op + " atmp";
  Facts facts{{"collecte", D("2020-01-01")}};
  SetFlag(&facts, "ald", a);
  SetFlag(&facts, "atmp", b);
  INFO(condition << " with ald=" << a << " atmp=" << b);
  CHECK(TruthOf(Probe(condition), facts) == expected);
}

TEST_CASE("three-valued logic: a bare flag, an enumeration, a comparison with a missing date", "[evaluator][unknown]") {
  Facts base{{"collecte", D("2020-01-01")}};
  SECTION("an absent flag is unknown, never false") {
    CHECK(TruthOf(Probe("ald"), base) == "unknown");
    Facts f = base;
    f["ald"] = false;
    CHECK(TruthOf(Probe("ald"), f) == "false");
  }
  SECTION("an absent enumeration is unknown") {
    CHECK(TruthOf(Probe("motif == sanction"), base) == "unknown");
    CHECK(TruthOf(Probe("motif != sanction"), base) == "unknown");
    Facts f = base;
    f["motif"] = std::string("sans_suite");
    CHECK(TruthOf(Probe("motif == sanction"), f) == "false");
  }
  SECTION("a comparison with a missing date is unknown; a bare date asks whether it is known") {
    CHECK(TruthOf(Probe("deces < collecte + 1y"), base) == "unknown");
    CHECK(TruthOf(Probe("deces"), base) == "false");
    CHECK(TruthOf(Probe("deces and deces < collecte + 1y"), base) == "false");
  }
}

TEST_CASE("undecided cases: missing_fact only when they could keep the record longer", "[evaluator][unknown]") {
  Rule rule = LoadRule(R"(  - id: F09.deces
    implements: [F09.deces]
    source: "3 ans (ALD), 10 ans (AT/MP) après le décès"
    facts: [deces, ald, atmp]
    phases:
      - phase: active
        until:
          cases:
            - {when: ald, date: deces + 3y}
            - {when: atmp, date: deces + 10y}
      - {phase: delete}
)");
  Date as_of = D("2026-11-22");
  SECTION("a known longer case wins over an undecided shorter one") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"atmp", true}}, as_of);
    CHECK(e.status == EvalStatus::kDue);
    CHECK(Timeline(e) == "delete 2022-03-05");
    CHECK(e.missing.empty());
  }
  SECTION("an undecided longer case makes the record missing_fact, naming the flag") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"ald", true}}, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"atmp"});
    CHECK(e.timeline.empty());
    CHECK_FALSE(e.due);
  }
  SECTION("no case known to apply and no default: undecided cases are missing_fact, not no_case") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}}, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"ald", "atmp"});
  }
  SECTION("every case known false: no_case") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"ald", false}, {"atmp", false}}, as_of);
    CHECK(e.status == EvalStatus::kNoCase);
  }
}

TEST_CASE("otherwise applies only when every case is known not to apply", "[evaluator][unknown]") {
  Rule rule = LoadRule(R"(  - id: F09.taux
    implements: [F09.taux]
    source: "3 ans, 15 ans en cas de contentieux, 1 an en ALD"
    facts: [collecte, contentieux, ald]
    phases:
      - phase: active
        until:
          cases:
            - {when: contentieux, date: collecte + 15y}
            - {when: ald, date: collecte + 1y}
          otherwise: collecte + 3y
      - {phase: delete}
)");
  Date as_of = D("2026-11-22");
  Facts facts{{"collecte", D("2020-02-29")}};
  SECTION("litigation unknown: missing_fact, never the 3-year default") {
    facts["ald"] = false;
    Evaluation e = Evaluate(rule, facts, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"contentieux"});
  }
  SECTION("litigation known false, an undecided case that can only be earlier: the default stands") {
    facts["contentieux"] = false;
    Evaluation e = Evaluate(rule, facts, as_of);
    CHECK(e.status == EvalStatus::kDue);
    CHECK(Timeline(e) == "delete 2023-03-01");
  }
  SECTION("an assumption stated by the deployment decides, and says so") {
    facts["ald"] = false;
    Evaluation e = Evaluate(rule, facts, as_of, Facts{{"contentieux", false}});
    CHECK(e.status == EvalStatus::kDue);
    CHECK(Timeline(e) == "delete 2023-03-01");
    CHECK(e.assumed == std::vector<std::string>{"contentieux=false"});
    REQUIRE_FALSE(e.derivation.empty());
    CHECK(e.derivation.front().find("assumed contentieux = false") != std::string::npos);
    CHECK(ExplainJson(e, "F09.taux").find(R"("assumed":["contentieux=false"])") != std::string::npos);
  }
  SECTION("a recorded value wins over an assumption, which is then not listed") {
    facts["ald"] = false;
    facts["contentieux"] = true;
    Evaluation e = Evaluate(rule, facts, as_of, Facts{{"contentieux", false}});
    CHECK(Timeline(e) == "delete 2035-03-01");
    CHECK(e.assumed.empty());
  }
}

TEST_CASE("holds whose condition is unknown keep the record", "[evaluator][unknown]") {
  Rule rule = LoadRule(R"(  - id: F09.droits
    implements: [F09.droits]
    source: "5 ans après la fin des droits ou jusqu'à la décision définitive en cas de contentieux"
    facts: [fin_droits, contentieux, decision_definitive]
    phases:
      - {phase: active, until: fin_droits + 5y}
      - {phase: delete}
    holds:
      - {when: contentieux, until: decision_definitive, then: decision_definitive + 5y}
)");
  Date as_of = D("2026-11-22");
  SECTION("litigation unknown, no decision: kept, missing_fact names the flag") {
    Evaluation e = Evaluate(rule, {{"fin_droits", D("2010-01-31")}}, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"contentieux"});
    CHECK_FALSE(e.due);
  }
  SECTION("litigation unknown, a decision whose bound is later: missing_fact") {
    Evaluation e = Evaluate(rule, {{"fin_droits", D("2010-01-31")}, {"decision_definitive", D("2024-05-02")}}, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"contentieux"});
  }
  SECTION("litigation unknown, a decision whose bound is earlier: no effect") {
    Evaluation e = Evaluate(rule, {{"fin_droits", D("2020-01-31")}, {"decision_definitive", D("2012-05-02")}}, as_of);
    // 2020-01-31 + 5y = 2025-01-31 is later than 2012-05-02 + 5y: due from 2025-02-01.
    CHECK(e.status == EvalStatus::kDue);
    CHECK(Timeline(e) == "delete 2025-02-01");
  }
  SECTION("litigation known false: the rule's own date") {
    Evaluation e = Evaluate(rule, {{"fin_droits", D("2010-01-31")}, {"contentieux", false}}, as_of);
    CHECK(e.status == EvalStatus::kDue);
    CHECK(Timeline(e) == "delete 2015-02-01");
  }
}

TEST_CASE("a conditional phase is absent when its condition is false", "[evaluator][unknown]") {
  Rule rule = LoadRule(R"(  - id: F09.dossier
    implements: [F09.dossier]
    source: "5 ans après la clôture, puis archivé 10 ans sauf classement sans suite"
    facts: [collecte, ald]
    phases:
      - {phase: active, until: collecte + 5y}
      - {phase: archive, when: not ald, for: 10y}
      - {phase: delete}
)");
  Date as_of = D("2026-11-22");
  SECTION("true: the phase happens") {
    Evaluation e = Evaluate(rule, {{"collecte", D("2015-03-31")}, {"ald", false}}, as_of);
    CHECK(Timeline(e) == "archive 2020-04-01, delete 2030-04-01");
  }
  SECTION("false: no archive step, deletion from the end of the active phase") {
    Evaluation e = Evaluate(rule, {{"collecte", D("2015-03-31")}, {"ald", true}}, as_of);
    CHECK(Timeline(e) == "delete 2020-04-01");
    CHECK(e.due == Phase::kDelete);
  }
  SECTION("unknown: missing_fact") {
    Evaluation e = Evaluate(rule, {{"collecte", D("2015-03-31")}}, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"ald"});
  }
}

TEST_CASE("'when' on the first or the delete phase is a located error", "[evaluator][unknown][loader]") {
  Vocabulary vocabulary = TestVocabulary();
  std::string text = "fiche: 9\ndomain: \"d\"\ntitle: \"t\"\nlegal_basis: [\"b\"]\nrules:\n"
                     "  - id: F09.x\n    implements: [F09.x]\n    source: \"s\"\n    facts: [collecte, ald]\n"
                     "    phases:\n      - {phase: active, until: collecte + 1y}\n      - {phase: delete, when: ald}\n";
  LoadResult r = LoadPolicyText(text, "inline.yaml", vocabulary);
  REQUIRE(r.diagnostics.size() >= 1);
  INFO(r.diagnostics.front().ToString());
  CHECK(r.diagnostics.front().ToString().find("inline.yaml:12:31:") == 0);
  CHECK(r.diagnostics.front().ToString().find("'when' is only for a phase between") != std::string::npos);
}
