// Fuzzes the expression language (engine/src/policy/expression.h): the input is parsed
// as a date expression and as a condition against the shipped vocabulary. A parse either
// fails with located errors inside the text or succeeds; a success prints a canonical
// text that parses again to the same canonical text, and evaluates on a record with
// every fact known and on one with none known.
#include <cstddef>
#include <cstdint>

#include "policy/expression.h"
#include "shipped.h"

namespace {

using retention::fuzz::SampleFacts;
namespace in = retention::internal;

// Errors are reported when and only when the parse fails, each inside the text.
template <typename T>
void CheckErrors(const std::optional<T>& parsed, const std::vector<in::ExprError>& errors, size_t size) {
  RETENTION_FUZZ_REQUIRE(parsed.has_value() == errors.empty());
  for (const auto& e : errors) {
    RETENTION_FUZZ_REQUIRE(e.offset <= size);
    RETENTION_FUZZ_REQUIRE(!e.message.empty());
  }
}

template <typename T, typename Parse, typename Eval>
void Check(const std::string& text, Parse parse, Eval eval) {
  const auto& vocabulary = retention::fuzz::ShippedVocabulary();
  std::vector<in::ExprError> errors;
  std::optional<T> parsed = parse(text, vocabulary, &errors);
  CheckErrors(parsed, errors, text.size());
  if (!parsed) return;
  std::string canonical = parsed->ToString();
  std::vector<in::ExprError> again_errors;
  std::optional<T> again = parse(canonical, vocabulary, &again_errors);
  RETENTION_FUZZ_REQUIRE(again.has_value());
  RETENTION_FUZZ_REQUIRE(again->ToString() == canonical);
  std::vector<std::string> names;
  in::CollectFacts(*parsed, &names);
  std::vector<std::string> missing;
  eval(*parsed, SampleFacts(vocabulary, names, *retention::Date::Parse("2020-02-29")), &missing);
  RETENTION_FUZZ_REQUIRE(missing.empty());
  eval(*parsed, retention::Facts{}, &missing);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text = retention::fuzz::Text(data, size);
  Check<in::DateExpr>(text, in::ParseDateExpr, [](const auto& e, const auto& f, auto* m) { (void)in::EvalDate(e, f, m); });
  Check<in::CondExpr>(text, in::ParseCondition, [](const auto& e, const auto& f, auto* m) { (void)in::EvalCondition(e, f, m); });
  return 0;
}
