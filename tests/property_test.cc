// A property of every shipped executable rule: removing one flag from a record's facts
// (the flag becomes unknown) never makes the record due earlier than with that flag set
// true or set false. Records are built from each rule's own facts: dates spread around one
// another (and sometimes missing), the other flags in every combination of true and false,
// enumerations on each of their values (or missing). A status that keeps the record (hold,
// missing_fact, no_case, manual) counts as "never". The other flags are known: with one of
// them unknown too, "never" may come from that other flag, which says nothing about this one.
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "retention/evaluator.h"
#include "retention/policy.h"
#include "support/shipped.h"

using namespace retention;
using retention::testing::Shipped;

namespace {

// The dates a record reaches: its first action and its deletion; nullopt means never.
struct Reached {
  std::optional<Date> first;
  std::optional<Date> deletion;
};

Reached DatesOf(const Evaluation& e) {
  if (e.status != EvalStatus::kScheduled && e.status != EvalStatus::kDue) return {};
  Reached r;
  if (!e.timeline.empty()) r.first = e.timeline.front().from;
  for (const auto& t : e.timeline)
    if (t.action == Phase::kDelete) r.deletion = t.from;
  return r;
}

// `later` is never earlier than `earlier` (never is later than any date).
bool NotEarlier(const std::optional<Date>& later, const std::optional<Date>& earlier) {
  if (!later) return true;
  return earlier && *later >= *earlier;
}

std::string Describe(const Facts& facts) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : facts) parts.push_back(name + "=" + FactValueToString(value));
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

std::string Show(const Reached& r) {
  return fmt::format("first {} delete {}", r.first ? r.first->ToString() : "never",
                     r.deletion ? r.deletion->ToString() : "never");
}

// A rule's facts split by type, read from the shipped vocabulary.
struct RuleFacts {
  std::vector<std::string> dates, flags;
  std::vector<const FactDefinition*> enums;
};

RuleFacts Classify(const Rule& rule) {
  RuleFacts out;
  for (const auto& name : rule.facts) {
    const FactDefinition* d = Shipped().vocabulary.Find(name);
    REQUIRE(d != nullptr);
    if (d->type == FactType::kDate) out.dates.push_back(name);
    else if (d->type == FactType::kFlag) out.flags.push_back(name);
    else out.enums.push_back(d);
  }
  return out;
}

// Date and enumeration parts of a record: each date picked among offsets around a base date
// (some missing), each enumeration among its values (sometimes missing).
std::vector<Facts> Scenarios(const RuleFacts& rf, std::mt19937& random) {
  const Date base = *Date::FromYmd(2020, 2, 29);
  const std::vector<int> day_offsets = {-7305, -3653, -1096, -365, -1, 0, 1, 60, 731, 732, 1827, 4383};
  std::vector<Facts> out;
  Facts all_same;  // every date the same day: the boundaries of comparisons
  for (const auto& d : rf.dates) all_same[d] = base;
  for (const auto* e : rf.enums) all_same[e->name] = e->values.front();
  out.push_back(all_same);
  for (int i = 0; i < 120; ++i) {
    Facts f;
    for (const auto& d : rf.dates) {
      size_t pick = random() % (day_offsets.size() + 2);  // two chances in 14 of missing
      if (pick < day_offsets.size()) f[d] = base.AddDays(day_offsets[pick]);
    }
    for (const auto* e : rf.enums) {
      size_t pick = random() % (e->values.size() + 1);
      if (pick < e->values.size()) f[e->name] = e->values[pick];
    }
    out.push_back(f);
  }
  return out;
}

// Sets every flag but `skip` to true or false from the bits of `combination`.
void SetOtherFlags(Facts& facts, const std::vector<std::string>& flags, size_t skip, int combination) {
  for (size_t i = 0; i < flags.size(); ++i) {
    if (i == skip) continue;
    facts[flags[i]] = (combination & 1) != 0;
    combination >>= 1;
  }
}

struct Tally {
  long comparisons = 0;
  std::vector<std::string> failures;
};

void CheckFlag(const Rule& rule, Facts facts, const std::string& flag, Date as_of, Tally& tally) {
  facts[flag] = true;
  Reached if_true = DatesOf(Evaluate(rule, facts, as_of));
  facts[flag] = false;
  Reached if_false = DatesOf(Evaluate(rule, facts, as_of));
  facts.erase(flag);
  Reached unknown = DatesOf(Evaluate(rule, facts, as_of));
  ++tally.comparisons;
  for (const Reached* set : {&if_true, &if_false}) {
    if (NotEarlier(unknown.first, set->first) && NotEarlier(unknown.deletion, set->deletion)) continue;
    tally.failures.push_back(fmt::format("{} without {} on {}: {}; with {}={}: {}", rule.id, flag, Describe(facts),
                                         Show(unknown), flag, set == &if_true ? "true" : "false", Show(*set)));
  }
}

}  // namespace

TEST_CASE("removing a flag never makes a record due earlier", "[policies][property]") {
  const Date as_of = *Date::FromYmd(2030, 6, 15);
  std::mt19937 random(20240229);
  Tally tally;
  int rules_with_flags = 0;
  for (const Rule* rule : Shipped().AllRules()) {
    if (rule->manual) continue;
    RuleFacts rf = Classify(*rule);
    if (rf.flags.empty()) continue;
    ++rules_with_flags;
    int combinations = 1;
    for (size_t i = 1; i < rf.flags.size(); ++i) combinations *= 2;
    for (const Facts& scenario : Scenarios(rf, random))
      for (size_t f = 0; f < rf.flags.size(); ++f)
        for (int c = 0; c < combinations; ++c) {
          Facts facts = scenario;
          SetOtherFlags(facts, rf.flags, f, c);
          CheckFlag(*rule, facts, rf.flags[f], as_of, tally);
        }
  }
  INFO(tally.comparisons << " comparisons over " << rules_with_flags << " rules with flags");
  REQUIRE(rules_with_flags >= 20);  // the shipped policies read flags in many rules
  REQUIRE(tally.comparisons > 10000);
  std::string shown;
  for (size_t i = 0; i < tally.failures.size() && i < 25; ++i) shown += "\n  " + tally.failures[i];
  INFO(tally.failures.size() << " records due earlier without a flag, first ones:" << shown);
  CHECK(tally.failures.empty());
}

TEST_CASE("the flag comparison reports a record due earlier", "[policies][property]") {
  // The check itself can fail: on a rule whose flag selects a longer case, the record with
  // the flag false is due earlier than with it true, and the comparison says so.
  const std::string text = R"(fiche: 87
domain: "test"
title: "test"
legal_basis: ["test"]
rules:
  - id: F87.example
    implements: [F87.example]
    source: "3 ans, 15 ans en cas de contentieux"
    facts: [collecte, contentieux]
    phases:
      - phase: active
        until:
          cases:
            - when: contentieux
              date: collecte + 15y
          otherwise: collecte + 3y
      - phase: delete
)";
  LoadResult loaded = LoadPolicyText(text, "F87.yaml", Shipped().vocabulary);
  REQUIRE_FALSE(HasErrors(loaded.diagnostics));
  const Rule* rule = loaded.policies.FindRule("F87.example");
  REQUIRE(rule != nullptr);
  const Date as_of = *Date::FromYmd(2030, 6, 15);
  Facts facts = {{"collecte", *Date::FromYmd(2020, 1, 31)}, {"contentieux", true}};
  Reached longer = DatesOf(Evaluate(*rule, facts, as_of));
  facts["contentieux"] = false;
  Reached shorter = DatesOf(Evaluate(*rule, facts, as_of));
  REQUIRE(longer.deletion == Date::FromYmd(2035, 2, 1));
  REQUIRE(shorter.deletion == Date::FromYmd(2023, 2, 1));
  CHECK_FALSE(NotEarlier(shorter.deletion, longer.deletion));
  CHECK(NotEarlier(longer.deletion, shorter.deletion));
  CHECK(NotEarlier(std::nullopt, longer.deletion));  // kept: never earlier
  CHECK_FALSE(NotEarlier(shorter.first, std::nullopt));
  CHECK(Describe(facts) == "{collecte=2020-01-31, contentieux=false}");
}

TEST_CASE("an evaluation without its derivation decides exactly as one with it", "[policies][property][derivation]") {
  // Plans, runs and reports evaluate with Derivation::kSkip, explain with kBuild: the
  // status, timeline, due action, missing facts, holds and assumptions must not differ.
  const Date as_of = *Date::FromYmd(2026, 11, 23);
  std::mt19937 random(641);
  int64_t compared = 0;
  for (const Rule* rule : Shipped().AllRules()) {
    RuleFacts rf = Classify(*rule);
    for (Facts facts : Scenarios(rf, random)) {
      for (const auto& flag : rf.flags)
        if (random() % 3 != 0) facts[flag] = random() % 2 == 0;  // else unknown
      Facts assumptions;
      if (!rf.flags.empty() && random() % 2 == 0) assumptions[rf.flags.front()] = false;
      Evaluation with = Evaluate(*rule, facts, as_of, assumptions, Derivation::kBuild);
      Evaluation without = Evaluate(*rule, facts, as_of, assumptions, Derivation::kSkip);
      INFO(rule->id << " " << Describe(facts));
      REQUIRE(with.status == without.status);
      REQUIRE(with.due == without.due);
      REQUIRE(with.missing == without.missing);
      REQUIRE(with.holds == without.holds);
      REQUIRE(with.assumed == without.assumed);
      REQUIRE(with.timeline.size() == without.timeline.size());
      for (size_t i = 0; i < with.timeline.size(); ++i) {
        REQUIRE(with.timeline[i].action == without.timeline[i].action);
        REQUIRE(with.timeline[i].from == without.timeline[i].from);
      }
      CHECK_FALSE(with.derivation.empty());
      CHECK(without.derivation.empty());
      ++compared;
    }
  }
  REQUIRE(compared > 5000);
}
