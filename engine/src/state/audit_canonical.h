// The canonical text an audit entry's hash is computed over (state.h, AuditEntry).
#pragma once

#include <string>
#include <vector>

#include "retention/state.h"

namespace retention {

// The canonical text an audit entry's hash is computed over.
std::string AuditCanonical(const AuditEntry& entry);

// A list of key digests as a JSON array, exactly as nlohmann::json(digests).dump()
// writes it (directly when every digest is plain printable ASCII).
std::string DigestsJson(const std::vector<std::string>& digests);

}  // namespace retention
