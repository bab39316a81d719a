// The due condition of a rule for one as-of date, as a predicate over a binding's facts
// that only compares a fact with a constant (DESIGN.md, "Pushdown without date arithmetic
// in SQL"), handed to a connector in ScanRequest::where. Stores evaluate it with their
// indexes; the engine then evaluates the rows it selects. A predicate is a superset: it
// may select rows that are not due (the evaluator drops them), never miss one that is; a
// connector that cannot evaluate it may ignore it and return every row.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "retention/date.h"
#include "retention/facts.h"

namespace retention {

struct Predicate {
  enum class Kind {
    kTrue,
    kFalse,
    kNull,     // unknown (SQL NULL): a deployment fact that is not set
    kAnd,
    kOr,
    kNot,      // NOT args[0], with SQL's three-valued meaning
    kDateLt,   // fact < date; false-ish (NULL) when the fact is NULL
    kFlag,     // the flag is true; a NULL flag is false
    kKnown,    // fact IS NOT NULL
    kEnumEq,   // fact = word; NULL when the fact is NULL
  };
  Kind kind = Kind::kTrue;
  std::string fact;
  Date date;
  std::string word;
  std::vector<Predicate> args;

  std::string ToString() const;  // readable, e.g. "fin_droits < 2021-11-22 AND NOT flag(contentieux)"
};

}  // namespace retention
