// Small inline policies for evaluator tests: a rule's YAML wrapped in a policy of fiche 9
// and loaded against tests/golden/facts.yaml, and the timeline as one line of text.
#pragma once

#include <string>

#include <catch2/catch.hpp>

#include "retention/evaluator.h"
#include "retention/policy.h"

namespace retention::testing {

inline Vocabulary TestVocabulary() {
  Diagnostics d;
  return LoadVocabulary(RETENTION_SOURCE_DIR "/tests/golden/facts.yaml", &d);
}

// Wraps rule YAML (indented as a list item under `rules:`) in a policy and loads it.
inline Rule LoadRule(const std::string& rule_yaml) {
  std::string text = "fiche: 9\ndomain: \"d\"\ntitle: \"t\"\nlegal_basis: [\"b\"]\nrules:\n" + rule_yaml;
  LoadResult r = LoadPolicyText(text, "inline.yaml", TestVocabulary());
  for (const auto& d : r.diagnostics) UNSCOPED_INFO(d.ToString());
  REQUIRE(r.diagnostics.empty());
  return r.policies.policies.at(0).rules.at(0);
}

inline Date D(const char* s) { return *Date::Parse(s); }

// "archive 2022-03-05, delete 2032-03-05".
inline std::string Timeline(const Evaluation& e) {
  std::string out;
  for (const auto& t : e.timeline) out += std::string(out.empty() ? "" : ", ") + PhaseName(t.action) + " " + t.from.ToString();
  return out;
}

}  // namespace retention::testing
