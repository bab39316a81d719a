// Evaluator semantics on small inline policies: phases, cases (longest wins), no_case,
// holds, missing facts, manual rules, immediate deletion, rounding, several rules.
#include <catch2/catch.hpp>

#include "retention/evaluator.h"
#include "retention/explain.h"
#include "retention/policy.h"
#include "support/inline_rule.h"

using namespace retention;
using namespace retention::testing;

namespace {

const char* kArchiveRule = R"(  - id: F09.prestations
    implements: [F09.prestations]
    source: "3 ans puis archivées 10 ans"
    facts: [date_versement]
    phases:
      - {phase: active, until: date_versement + 3y}
      - {phase: archive, for: 10y}
      - {phase: delete}
)";

const char* kCasesRule = R"(  - id: F09.deces
    implements: [F09.deces]
    source: "3 ans (ALD), 10 ans (AT/MP) après le décès"
    facts: [deces, ald, atmp, contentieux, decision_definitive]
    phases:
      - phase: active
        until:
          cases:
            - {when: ald, date: deces + 3y}
            - {when: atmp, date: deces + 10y}
      - {phase: archive, for: 10y}
      - {phase: delete}
    holds:
      - {when: contentieux, until: decision_definitive}
)";

}  // namespace

TEST_CASE("phases: the timeline gives the first day of each action", "[evaluator]") {
  Rule rule = LoadRule(kArchiveRule);
  Facts facts{{"date_versement", D("2020-02-29")}};
  SECTION("last day of the active phase: scheduled") {
    Evaluation e = Evaluate(rule, facts, D("2023-02-28"));
    CHECK(EvalStatusName(e.status) == std::string("scheduled"));
    CHECK(Timeline(e) == "archive 2023-03-01, delete 2033-03-01");
    CHECK_FALSE(e.due);
  }
  SECTION("first day of the archive phase: archive due") {
    Evaluation e = Evaluate(rule, facts, D("2023-03-01"));
    CHECK(e.status == EvalStatus::kDue);
    CHECK(e.due == Phase::kArchive);
  }
  SECTION("after the archive period: delete due") {
    Evaluation e = Evaluate(rule, facts, D("2033-03-01"));
    CHECK(e.due == Phase::kDelete);
  }
  SECTION("missing anchor: missing_fact with its name, empty timeline") {
    Evaluation e = Evaluate(rule, Facts{}, D("2033-03-01"));
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"date_versement"});
    CHECK(e.timeline.empty());
  }
}

TEST_CASE("cases: the longest applicable retention wins, none applies is no_case", "[evaluator]") {
  Rule rule = LoadRule(kCasesRule);
  Date as_of = D("2026-11-22");
  SECTION("one case") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"atmp", true}, {"contentieux", false}}, as_of);
    CHECK(Timeline(e) == "archive 2022-03-05, delete 2032-03-05");
    CHECK(e.due == Phase::kArchive);
  }
  SECTION("two cases: the longer wins") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"atmp", true}, {"ald", true}, {"contentieux", false}},
                            as_of);
    CHECK(Timeline(e) == "archive 2022-03-05, delete 2032-03-05");
  }
  SECTION("the shorter alone") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"ald", true}, {"atmp", false}, {"contentieux", false}},
                            as_of);
    CHECK(Timeline(e) == "archive 2015-03-05, delete 2025-03-05");
    CHECK(e.due == Phase::kDelete);
  }
  SECTION("no case applies and no default") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"ald", false}, {"atmp", false}, {"contentieux", false}},
                            as_of);
    CHECK(e.status == EvalStatus::kNoCase);
    CHECK(e.timeline.empty());
  }
  SECTION("hold while litigation is undecided, whatever the dates") {
    Evaluation e = Evaluate(rule, {{"deces", D("1990-01-01")}, {"atmp", true}, {"contentieux", true}}, as_of);
    CHECK(e.status == EvalStatus::kHold);
    CHECK(e.timeline.empty());
    CHECK(e.holds.size() == 1);
  }
  SECTION("decided litigation extends the first phase to the decision") {
    Evaluation e = Evaluate(rule, {{"deces", D("2012-03-04")}, {"ald", true}, {"atmp", false}, {"contentieux", true},
                                   {"decision_definitive", D("2016-06-30")}}, as_of);
    CHECK(Timeline(e) == "archive 2016-07-01, delete 2026-07-01");
  }
}

TEST_CASE("conditions are three-valued: a missing date only matters when it decides", "[evaluator]") {
  Rule rule = LoadRule(R"(  - id: F09.dossier
    implements: [F09.dossier]
    source: "20 ans après le dernier séjour; décès moins de 10 ans après: 10 ans après le décès"
    facts: [dernier_sejour, naissance, deces]
    phases:
      - phase: active
        until:
          cases:
            - {when: deces and deces < dernier_sejour + 10y, date: deces + 10y}
          otherwise: max(dernier_sejour + 20y, naissance + 28y)
      - {phase: delete}
)");
  Date as_of = D("2026-11-22");
  SECTION("alive: the death case is simply false") {
    Evaluation e = Evaluate(rule, {{"dernier_sejour", D("2000-05-31")}, {"naissance", D("1990-01-15")}}, as_of);
    CHECK(Timeline(e) == "delete 2020-06-01");
  }
  SECTION("birthday extension: the later of the two") {
    Evaluation e = Evaluate(rule, {{"dernier_sejour", D("2000-05-31")}, {"naissance", D("1995-01-15")}}, as_of);
    CHECK(Timeline(e) == "delete 2023-01-16");
  }
  SECTION("died within 10 years of the last stay") {
    Evaluation e = Evaluate(rule, {{"dernier_sejour", D("2000-05-31")}, {"deces", D("2003-02-28")}}, as_of);
    CHECK(Timeline(e) == "delete 2013-03-01");
  }
  SECTION("missing birth date is reported, not guessed") {
    Evaluation e = Evaluate(rule, {{"dernier_sejour", D("2000-05-31")}}, as_of);
    CHECK(e.status == EvalStatus::kMissingFact);
    CHECK(e.missing == std::vector<std::string>{"naissance"});
  }
}

TEST_CASE("immediate deletion, rounding, pseudonymisation and manual rules", "[evaluator]") {
  SECTION("delete from the anchor day itself") {
    Rule rule = LoadRule(R"(  - id: F09.immediat
    implements: [F09.immediat]
    source: "ne sont pas conservées"
    facts: [collecte]
    phases:
      - {phase: delete, from: collecte}
)");
    Evaluation e = Evaluate(rule, {{"collecte", D("2026-11-22")}}, D("2026-11-22"));
    CHECK(e.status == EvalStatus::kDue);
    CHECK(Timeline(e) == "delete 2026-11-22");
  }
  SECTION("3 ans + année en cours, then pseudonymised") {
    Rule rule = LoadRule(R"(  - id: F09.arrondi
    implements: [F09.arrondi]
    source: "3 ans + année en cours, puis désidentifiées"
    facts: [collecte]
    phases:
      - {phase: active, until: end_of_year(collecte) + 3y}
      - {phase: pseudonymise, for: 3y}
      - {phase: delete}
)");
    Evaluation e = Evaluate(rule, {{"collecte", D("2022-02-10")}}, D("2026-01-01"));
    CHECK(Timeline(e) == "pseudonymise 2026-01-01, delete 2029-01-01");
    CHECK(e.due == Phase::kPseudonymise);
  }
  SECTION("manual") {
    Rule rule = LoadRule(R"(  - id: F09.manuel
    implements: [F09.manuel]
    source: "durée nécessaire à la gestion"
    manual: "no duration is stated"
)");
    Evaluation e = Evaluate(rule, {}, D("2026-11-22"));
    CHECK(e.status == EvalStatus::kManual);
    CHECK(e.timeline.empty());
  }
}

TEST_CASE("several rules on one record: keep wins", "[evaluator]") {
  Rule archive = LoadRule(kArchiveRule);
  Rule cases = LoadRule(kCasesRule);
  Facts facts{{"date_versement", D("2010-01-31")}, {"deces", D("2012-03-04")}, {"atmp", true}, {"contentieux", false}};
  Evaluation a = Evaluate(archive, facts, D("2026-11-22"));  // delete 2023-01-31 + 10y + 1d
  Evaluation b = Evaluate(cases, facts, D("2026-11-22"));    // delete 2032-03-05
  Evaluation c = Combine({a, b});
  CHECK(Timeline(c) == "delete 2032-03-05");
  CHECK(c.status == EvalStatus::kScheduled);
  Facts held = facts;
  held["contentieux"] = true;
  CHECK(Combine({a, Evaluate(cases, held, D("2040-01-01"))}).status == EvalStatus::kHold);
}

TEST_CASE("explain JSON has the contract's keys", "[evaluator][explain]") {
  Rule rule = LoadRule(kArchiveRule);
  Evaluation e = Evaluate(rule, {{"date_versement", D("2020-02-29")}}, D("2023-03-01"));
  std::string json = ExplainJson(e, "F09.prestations");
  CHECK(json.find(R"("status":"due")") != std::string::npos);
  CHECK(json.find(R"("timeline":[{"action":"archive","from":"2023-03-01"},{"action":"delete","from":"2033-03-01"}])") !=
        std::string::npos);
  CHECK(json.find(R"("due":"archive")") != std::string::npos);
}
