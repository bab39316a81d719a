// Copying a file into a files archive store, never replacing anything there.
#pragma once

#include <sys/stat.h>

#include <string>
#include <vector>

#include "retention/status.h"

namespace retention::files {

// Copies the open regular file `source` (whose stat is `st`) into the store rooted at
// `root`, as `dirs/name` (directories created 0700, never through a link). A file
// already there with the same content (SHA-256) is the archived copy (idempotent); one
// with other content (a recycled name) is kept, and the copy goes to
// `dirs/sha256-<hash of the content>/name` instead, so that both stay. The copy is
// owner-only (0600), keeps the source's modification time and is complete before it
// appears under its name. Returns where it is, relative to `root`.
Result<std::string> ArchiveCopy(int source, const struct stat& st, int root, const std::vector<std::string>& dirs,
                                const std::string& name);

}  // namespace retention::files
