// Fuzzes the policy loader: the input is the text of one policy file, loaded against
// the shipped vocabulary. Whatever the text, loading returns diagnostics, never crashes;
// a policy that loads without errors has rules that all carry their file and a phase
// list or a manual reason, and evaluates on a record with every fact known and on one
// with none known.
#include <cstddef>
#include <cstdint>

#include "retention/evaluator.h"
#include "shipped.h"

using retention::Diagnostic;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& vocabulary = retention::fuzz::ShippedVocabulary();
  retention::LoadResult load = retention::LoadPolicyText(retention::fuzz::Text(data, size), "fuzz.yaml", vocabulary);
  bool errors = false;
  for (const auto& d : load.diagnostics) {
    RETENTION_FUZZ_REQUIRE(!d.message.empty());
    errors = errors || d.severity == Diagnostic::Severity::kError;
  }
  if (errors) return 0;
  for (const auto& policy : load.policies.policies)
    for (const auto& rule : policy.rules) {
      RETENTION_FUZZ_REQUIRE(!rule.id.empty());
      RETENTION_FUZZ_REQUIRE(rule.manual || !rule.phases.empty());
      RETENTION_FUZZ_REQUIRE(rule.manual == (rule.compiled == nullptr));
      auto known = retention::fuzz::SampleFacts(vocabulary, rule.facts, *retention::Date::Parse("2020-02-29"));
      retention::Date as_of = *retention::Date::Parse("2026-01-01");
      (void)retention::Evaluate(rule, known, as_of);
      (void)retention::Evaluate(rule, retention::Facts{}, as_of);
    }
  return 0;
}
