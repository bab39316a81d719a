// Keys for pseudonymisation and audit digests: from a file that only its owner can
// read, or from an environment variable. Never from a policy, never logged.
#pragma once

#include <string>

#include "retention/status.h"

namespace retention {

// Reads the key from `file` (refused unless owner-only: no group or other permission
// bits) or, when `file` is empty, from the environment variable `env`. Surrounding
// whitespace is trimmed; an empty key is an error.
Result<std::string> LoadKey(const std::string& file, const std::string& env);

}  // namespace retention
