// A deployment: the stores, and the bindings of policy rules to data in them. Loaded
// from YAML (docs/configuration.md) with located diagnostics, like policies.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "retention/diagnostic.h"
#include "retention/facts.h"
#include "retention/policy.h"

namespace retention {

class ConnectorRegistry;  // connector.h

struct StoreConfig {
  std::string name;
  std::string type;       // a registered connector type: "sqlite", "postgres", "files"
  std::string path;       // sqlite: the database file (relative to the config file)
  std::string directory;  // files: the root directory (relative to the config file)
  std::string dsn_env;    // postgres: environment variable holding the libpq connection string
  std::string dsn_file;   // postgres: file holding it (owner-only), instead of dsn_env
  // A custom (registered) type: its other settings, as written; its connector checks them.
  std::map<std::string, std::string> options;
  std::string base_dir;   // the configuration file's directory: where relative paths resolve
  std::string file;       // where it was declared, for messages
  int line = 0;
};

// Where one fact of a record comes from.
struct FactSource {
  enum class Kind { kColumn, kSql, kMtime, kFileName };
  Kind kind = Kind::kColumn;
  std::string column;   // kColumn: a column of the bound table
  std::string sql;      // kSql: an SQL expression over the row (alias `t`) and related rows
  std::string pattern;  // kFileName: a regex whose first group is YYYY-MM-DD or YYYYMMDD
};

struct ArchiveSettings {
  std::string store;  // the separate archive store
  std::string table;  // table (SQL stores) or sub-directory (files) in it
};

struct PseudonymiseSettings {
  std::vector<std::string> columns;       // replaced by HMAC-SHA-256(key, value), hex
  std::vector<std::string> null_columns;  // set to NULL
  std::string marker_column;              // set to the run date; a marked row is not done again
  std::string key_file;                   // owner-only file holding the key
  std::string key_env;                    // or an environment variable
};

struct GuardSettings {
  int64_t max_rows = 10000;    // at most this many rows acted on per binding and run
  double max_fraction = 0.10;  // and at most this fraction of the binding's rows
};

struct Binding {
  std::string name;        // unique; defaults to the rule id
  std::string rule_id;     // a policy rule id (or a catalog id it implements)
  const Rule* rule = nullptr;
  std::string store;
  std::string table;       // SQL: the table; files: a sub-directory ("" = the root)
  std::string key;         // the primary key column (files: the relative path)
  std::string subject;     // the column identifying the person (e.g. a NIR); may be empty
  std::map<std::string, FactSource> facts;
  std::optional<ArchiveSettings> archive;
  std::optional<PseudonymiseSettings> pseudonymise;
  std::string glob;        // files: which files are records (e.g. "*.wav")
  int batch_size = 5000;
  GuardSettings guard;
  // Facts this store does not record, stated explicitly (`assume: {contentieux: false}`):
  // used only when the record has no value, and shown in explain, plans, approvals and
  // certificates. Flags and enumerations only; without it an absent fact is unknown.
  Facts assume;
  bool archived_view = false;  // true for the implicit binding over an archive table
  std::string file;
  int line = 0;
};

struct Deployment {
  std::string path;            // the configuration file
  std::string policies_dir;    // resolved
  std::string state_path;      // the state database (runs, holds, audit): a SQLite file
  // ...or a server (`state: {type: postgres, dsn_env: ...}`): then state_path is empty and
  // this names it (type, dsn_env or dsn_file) for ConnectorRegistry::OpenState.
  std::optional<StoreConfig> state_server;
  // `lease_seconds` of a server state: runs on several hosts divide the bindings by
  // lease (docs/scaling.md); 0 = one run at a time.
  int lease_seconds = 0;
  std::string audit_key_file;  // key for the HMAC digests of keys in the audit
  std::string audit_key_env;
  std::string anchor_file;     // audit anchors: append-only file; "" = none (default "<state>.anchors")
  bool anchor_syslog = false;  // audit anchors also sent to syslog
  std::string certificate_key_file;         // Ed25519 private key (PEM, owner-only); "" = unsigned certificates
  std::string certificate_public_key_file;  // its public key, for `audit verify-certificate`
  std::vector<StoreConfig> stores;
  std::vector<Binding> bindings;
  Facts deployment_facts;      // values of deployment-wide facts
  // retentiond's `schedule:` (docs/operations.md): a 5-field cron expression in
  // Europe/Paris (schedule.h), the run window (0 = none; at its end a run stops after the
  // current batch) and whether a run missed while the daemon was down is made at start.
  struct Schedule {
    std::string cron = "30 2 * * *";
    int64_t max_duration_seconds = 0;
    bool catch_up = true;
  } schedule;
  std::string hash;            // sha256 of the configuration file's bytes

  const StoreConfig* FindStore(const std::string& name) const;
  // What this instance's local files (the anchors, the daemon lock) are named after: the
  // state file, or "<configuration folder>/state.<schema>" with a server state database.
  std::string LocalStatePath() const;
  // Where runs write their certificates: certificates/ beside LocalStatePath().
  std::string CertificatesDir() const;
  const Binding* FindBinding(const std::string& name) const;
};

struct DeploymentLoad {
  Deployment deployment;
  Diagnostics diagnostics;
};

// Parses and validates a configuration against a loaded policy set: unknown keys,
// unknown stores or rules, facts a rule needs that the binding does not map, bad
// identifiers. Checking columns against live schemas is done by ValidateSchemas
// (connector.h), once stores are open. Store types: with a registry, the types
// registered in it (a custom type's settings go to StoreConfig::options); without one,
// the built-in names sqlite, postgres and files. OpenDeployment (open.h) does all this.
DeploymentLoad LoadDeployment(const std::string& path, const PolicySet& policies,
                              const ConnectorRegistry* registry = nullptr);
// Same, from text; relative paths resolve against `base_dir`.
DeploymentLoad LoadDeploymentText(const std::string& text, const std::string& file_name, const std::string& base_dir,
                                  const PolicySet& policies, const ConnectorRegistry* registry = nullptr);

// The `policies:` folder a configuration names (resolved against its directory), or
// "" when it names none; read before the policies, which the full load needs.
std::string DeploymentPoliciesDir(const std::string& path);

// Which records a binding acts on, the one name holds, plans and audit entries use for
// them: the binding itself, or for an archive view ("X@archive", X's records once moved
// to its archive table) the binding X. Binding names cannot contain '@'.
std::string BindingRecordsOf(const std::string& binding_name);
inline constexpr const char* kArchiveViewSuffix = "@archive";

// SQL identifiers from configuration: letters, digits and underscores, not starting
// with a digit, at most 63 characters; optionally one "schema." prefix.
bool IsValidIdentifier(const std::string& name, bool allow_schema = false);

}  // namespace retention
