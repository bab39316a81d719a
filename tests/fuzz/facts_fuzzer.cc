// Fuzzes fact parsing: the input is one record's facts, one per line as "name=value"
// ("name" alone is a NULL). Each value goes through ParseFactValue and the whole record
// through ParseRecordFacts, as a connector's scan would hand it over. A value that parses
// prints back to a text that parses to the same value.
#include <cstddef>
#include <cstdint>
#include <sstream>

#include "retention/connector.h"
#include "plan/record_facts.h"
#include "retention/plan.h"
#include "shipped.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto& vocabulary = retention::fuzz::ShippedVocabulary();
  std::istringstream lines(retention::fuzz::Text(data, size));
  std::vector<std::string> names;
  retention::RawRecord record;
  for (std::string line; std::getline(lines, line);) {
    size_t eq = line.find('=');
    names.push_back(line.substr(0, eq));
    if (eq == std::string::npos) {
      record.facts.emplace_back(std::nullopt);
      continue;
    }
    std::string text = line.substr(eq + 1);
    record.facts.emplace_back(text);
    auto value = retention::ParseFactValue(vocabulary, names.back(), text);
    if (!value.ok()) {
      RETENTION_FUZZ_REQUIRE(!value.status().message().empty());
      continue;
    }
    auto again = retention::ParseFactValue(vocabulary, names.back(), retention::FactValueToString(*value));
    RETENTION_FUZZ_REQUIRE(again.ok() && *again == *value);
  }
  auto facts = retention::ParseRecordFacts(vocabulary, names, record);
  if (facts.ok())
    for (const auto& [name, value] : *facts) RETENTION_FUZZ_REQUIRE(vocabulary.Find(name) != nullptr);
  return 0;
}
