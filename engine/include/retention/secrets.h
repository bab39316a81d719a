// Keys for pseudonymisation and audit digests: from a file that only its owner can
// read, or from an environment variable. Never from a policy, never logged.
#pragma once

#include <string>

#include "retention/status.h"

namespace retention {

// The largest secret file read (keys and connection strings are short).
inline constexpr long kMaxSecretBytes = 64 * 1024;

// The one reader of secret files (key files, dsn_file): opened without blocking, then
// checked on the open descriptor (fstat): a regular file, owner-only (no group or other
// permission bits), at most kMaxSecretBytes. Surrounding whitespace is trimmed; an empty
// file is an error. Messages name the file, never its content.
Result<std::string> ReadSecretFile(const std::string& path);

// Overwrites a string that held a secret, then empties it.
void WipeSecret(std::string* s);

// Files the engine creates that hold personal data (a SQLite store or archive, the
// state database, a saved plan) are owner-only from their creation: creates `path`
// empty with mode 0600 when it does not exist (never through a symlink); an existing
// file is left as it is. Changes no process-wide state (no umask).
Status CreatePrivateFile(const std::string& path);

// Reads the key from `file` (refused unless owner-only: no group or other permission
// bits) or, when `file` is empty, from the environment variable `env`. Surrounding
// whitespace is trimmed; an empty key is an error.
Result<std::string> LoadKey(const std::string& file, const std::string& env);

}  // namespace retention
