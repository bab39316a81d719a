// The files connector: each regular file under a directory is a record (call
// recordings, CCTV footage). The key is the path relative to the binding's directory;
// `collecte` comes from the modification time (as a date in Europe/Paris) or from a date
// in the file name; a flag is true when a pattern matches the path. delete unlinks;
// archive moves the file under the archive store's directory, keeping its relative path.
#pragma once

#include <memory>

#include "retention/connector.h"

namespace retention {

Result<std::unique_ptr<Connector>> OpenFilesConnector(const StoreConfig& store);

}  // namespace retention
