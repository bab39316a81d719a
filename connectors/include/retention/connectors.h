// The built-in connectors. Each is its own library (CMake targets retention::sqlite,
// retention::postgres, retention::files); link the ones you use and register them in
// your ConnectorRegistry, next to your own types (docs/library.md).
#pragma once

#include "retention/connector.h"

namespace retention {

// "sqlite": the embedded default (retention::sqlite).
void RegisterSqliteConnector(ConnectorRegistry& registry);
// "postgres": libpq (retention::postgres; absent when built without PostgreSQL).
void RegisterPostgresConnector(ConnectorRegistry& registry);
// "files": a directory of files, e.g. call recordings (retention::files).
void RegisterFilesConnector(ConnectorRegistry& registry);

// Every built-in connector that was built: "sqlite", "files" and, with libpq,
// "postgres" (retention::connectors, which links them all).
void RegisterBuiltinConnectors(ConnectorRegistry& registry);

}  // namespace retention
