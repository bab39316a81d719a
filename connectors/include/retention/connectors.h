// The built-in connectors: sqlite (the embedded default), postgres and files.
#pragma once

#include "retention/connector.h"

namespace retention {

// Registers "sqlite", "files" and, when built with libpq, "postgres".
void RegisterBuiltinConnectors(ConnectorRegistry& registry);

}  // namespace retention
