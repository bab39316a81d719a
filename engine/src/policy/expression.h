// Date expressions and conditions: parsed from policy text, checked against the
// vocabulary, evaluated on one record's facts. Private to the engine.
//
//   date := term (('+' | '-') DURATION)*
//   term := FACT | DATE | max(date, ...) | min(date, ...)
//         | end_of_month(date) | end_of_year(date) | '(' date ')'
//   cond := and ('or' and)*        and := not ('and' not)*
//   not  := 'not' not | '(' cond ')' | date CMP date | FACT ('==' | '!=') WORD | FACT
//
// A bare FACT in a condition is a flag's value (unknown when absent), or whether a date
// is known (true or false, never unknown).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "retention/date.h"
#include "retention/facts.h"

namespace retention::internal {

struct DateExpr {
  enum class Kind { kFact, kLiteral, kOffset, kMax, kMin, kEndOfMonth, kEndOfYear };
  Kind kind = Kind::kFact;
  std::string fact;                // kFact
  Date literal;                    // kLiteral
  Duration offset;                 // kOffset: args[0] + offset (count may be negative)
  std::vector<DateExpr> args;
  std::string ToString() const;    // canonical text, e.g. "max(dernier_sejour + 20y, naissance + 28y)"
};

struct CondExpr {
  enum class Kind { kFlag, kKnown, kEnumEq, kCompare, kNot, kAnd, kOr };
  enum class Cmp { kLt, kLe, kGt, kGe, kEq, kNe };
  Kind kind = Kind::kFlag;
  std::string fact;                // kFlag, kKnown, kEnumEq
  std::string word;                // kEnumEq
  bool negate = false;             // kEnumEq with '!='
  Cmp cmp = Cmp::kLt;              // kCompare
  std::vector<DateExpr> dates;     // kCompare: two operands
  std::vector<CondExpr> args;      // kNot, kAnd, kOr
  std::string ToString() const;
};

// A problem at a 0-based offset within the expression text.
struct ExprError {
  size_t offset = 0;
  std::string message;
};

// Parse and check against the vocabulary (fact names and types). On failure,
// every error found is appended to `errors` and nullopt is returned.
std::optional<DateExpr> ParseDateExpr(const std::string& text, const Vocabulary& vocabulary,
                                      std::vector<ExprError>* errors);
std::optional<CondExpr> ParseCondition(const std::string& text, const Vocabulary& vocabulary,
                                       std::vector<ExprError>* errors);

// Every fact an expression reads, appended without duplicates.
void CollectFacts(const DateExpr& expr, std::vector<std::string>* out);
void CollectFacts(const CondExpr& expr, std::vector<std::string>* out);

// Evaluation. A date result is nullopt when a fact it needs is missing; the missing
// names are appended to `missing`. Conditions are three-valued (Kleene): an absent flag
// or enumeration, or a comparison with an absent date, is unknown; `false and unknown`
// is false, `true or unknown` is true, `not unknown` is unknown. The facts that left a
// result unknown are appended to `missing`.
enum class Truth { kFalse, kTrue, kUnknown };
std::optional<Date> EvalDate(const DateExpr& expr, const Facts& facts, std::vector<std::string>* missing);
Truth EvalCondition(const CondExpr& expr, const Facts& facts, std::vector<std::string>* missing);

}  // namespace retention::internal
