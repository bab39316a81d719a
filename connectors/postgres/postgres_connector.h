// The PostgreSQL connector, over libpq. The connection string comes from an environment
// variable (dsn_env) or an owner-only file (dsn_file) and never appears in a message.
// Each session runs with TimeZone 'Europe/Paris' (a timestamp reduces to its Paris date)
// and client_encoding UTF8; statements take text parameters, large scans are streamed in
// single-row mode, and an applied batch is one transaction that locks its rows
// (SELECT ... FOR UPDATE) before re-checking them.
#pragma once

#include <memory>

#include "retention/connector.h"

namespace retention {

Result<std::unique_ptr<Connector>> OpenPostgresConnector(const StoreConfig& store);
// A state database in a schema (`schema`, default retention_state) of a PostgreSQL database (the same
// connection settings as a store: dsn_env or dsn_file).
Result<std::unique_ptr<StateBackend>> OpenPostgresState(const StoreConfig& state);

}  // namespace retention
