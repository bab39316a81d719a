// Facts: the named values known about one record (event dates, flags, enumerations),
// and the vocabulary that defines which names exist.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "retention/date.h"
#include "retention/status.h"

namespace retention {

enum class FactType { kDate, kFlag, kEnum };
enum class FactScope { kRecord, kDeployment };

struct FactDefinition {
  std::string name;
  FactType type = FactType::kDate;
  FactScope scope = FactScope::kRecord;
  std::vector<std::string> values;  // the allowed words of an enumeration
  std::string meaning;
  std::string example;
};

// The facts policies may use, loaded from `facts.yaml` at the root of a policy folder.
class Vocabulary {
 public:
  void Add(FactDefinition definition);
  const FactDefinition* Find(const std::string& name) const;
  const std::vector<FactDefinition>& definitions() const { return definitions_; }

 private:
  std::vector<FactDefinition> definitions_;
};

// A value: a date, a flag (true/false) or an enumeration word.
using FactValue = std::variant<Date, bool, std::string>;

// The facts of one record. A name that is absent is unknown (a NULL in a store):
// a missing date is never guessed, and a missing flag or enumeration is unknown, never
// false (three-valued conditions, docs/policy-format.md).
using Facts = std::map<std::string, FactValue>;

// Parses "YYYY-MM-DD", "true"/"false" or an enumeration word as the type the
// vocabulary gives `name`; an error names the fact and what was expected.
Result<FactValue> ParseFactValue(const Vocabulary& vocabulary, const std::string& name,
                                 const std::string& text);

// Parses every NAME → text pair (ParseFactValue); the first error is returned.
Result<Facts> ParseFacts(const Vocabulary& vocabulary, const std::map<std::string, std::string>& text);

// Checks facts built by a caller: every name is a fact of the vocabulary, and every value
// has that fact's type (a flag where a date is expected is an error, never a missing
// fact), an enumeration word one of its values. The error names the first bad fact.
Status CheckFacts(const Vocabulary& vocabulary, const Facts& facts);

std::string FactValueToString(const FactValue& value);
const char* FactTypeName(FactType type);

}  // namespace retention
