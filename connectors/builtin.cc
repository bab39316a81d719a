#include "retention/connectors.h"

namespace retention {

void RegisterBuiltinConnectors(ConnectorRegistry& registry) {
  RegisterSqliteConnector(registry);
  RegisterFilesConnector(registry);
#ifdef RETENTION_WITH_POSTGRES
  RegisterPostgresConnector(registry);
#endif
}

}  // namespace retention
