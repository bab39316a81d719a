// The SQLite connector: the embedded default. WAL journal, a busy timeout, prepared
// statements with bound parameters, one IMMEDIATE transaction per applied batch.
#pragma once

#include <memory>

#include "retention/connector.h"

namespace retention {

Result<std::unique_ptr<Connector>> OpenSqliteConnector(const StoreConfig& store);

}  // namespace retention
