// Reading one record's facts as a store gives them (text) into typed facts.
#pragma once

#include <string>
#include <vector>

#include "retention/connector.h"
#include "retention/facts.h"

namespace retention {

// The facts of one raw record, parsed with the vocabulary; an error names the fact.
Result<Facts> ParseRecordFacts(const Vocabulary& vocabulary, const std::vector<std::string>& names,
                               const RawRecord& record);

}  // namespace retention
