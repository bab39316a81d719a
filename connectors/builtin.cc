#include "retention/connectors.h"

#include "files/files_connector.h"
#include "sqlite/sqlite_connector.h"
#ifdef RETENTION_WITH_POSTGRES
#include "postgres/postgres_connector.h"
#endif

namespace retention {

void RegisterBuiltinConnectors(ConnectorRegistry& registry) {
  registry.Register("sqlite", OpenSqliteConnector);
  registry.Register("files", OpenFilesConnector);
#ifdef RETENTION_WITH_POSTGRES
  registry.Register("postgres", OpenPostgresConnector);
#endif
}

}  // namespace retention
