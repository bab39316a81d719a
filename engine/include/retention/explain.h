// Rendering an evaluation for `retention explain`: the JSON of DESIGN.md, or text.
#pragma once

#include <string>

#include "retention/evaluator.h"

namespace retention {

// One JSON object: rule, as_of, status, timeline, due, missing, holds, derivation.
// `requested_id` is the id the caller asked for (a policy or catalog rule id).
std::string ExplainJson(const Evaluation& evaluation, const std::string& requested_id);
std::string ExplainText(const Evaluation& evaluation, const Rule& rule,
                        const std::string& requested_id);

}  // namespace retention
