// The canonical text an audit entry's hash is computed over (state.h, AuditEntry).
#pragma once

#include <string>

#include "retention/state.h"

namespace retention {

// The canonical text an audit entry's hash is computed over.
std::string AuditCanonical(const AuditEntry& entry);

}  // namespace retention
