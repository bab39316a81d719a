// The embedded SQLite state database (state_backend.h).
#pragma once

#include <memory>
#include <string>

#include "retention/state_backend.h"

namespace retention {

// Opens or creates the file, owner-only (0600).
Result<std::unique_ptr<StateBackend>> OpenSqliteState(const std::string& path);

}  // namespace retention
