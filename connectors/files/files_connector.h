// The files connector: each regular file under a directory is a record (call
// recordings, CCTV footage). The key is the path relative to the binding's directory;
// `collecte` comes from the modification time (as a date in Europe/Paris) or from a date
// in the file name; a flag is true when a pattern matches the path. delete moves the file
// to the store's trash, unlinked once the batch is recorded (trash.h); archive first
// copies it under the archive store's directory, keeping its relative path and never
// replacing a file there (archive_copy.h). Nothing is reached through a symbolic link
// (dir.h), and a file is changed only if it is still the file the scan saw.
#pragma once

#include <memory>

#include "retention/connector.h"

namespace retention {

Result<std::unique_ptr<Connector>> OpenFilesConnector(const StoreConfig& store);

}  // namespace retention
