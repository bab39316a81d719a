// Opening a deployment: everything `retention plan` / `run`, `retentiond` and a library
// user need before planning, in one call: the policy set, the configuration (validated
// against the policies and the registered store types), the stores (connected, schemas
// checked), the state database and the keys. Every problem is reported, located.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "retention/connector.h"
#include "retention/deployment.h"
#include "retention/diagnostic.h"
#include "retention/policy.h"
#include "retention/state.h"
#include "retention/status.h"

namespace retention {

struct OpenOptions {
  std::string config;        // the configuration file (YAML, docs/configuration.md)
  std::string policies_dir;  // "" = the folder the configuration's `policies:` names
  // The store types the configuration may use. Required to open stores; when null, only
  // the built-in type names (sqlite, postgres, files) are accepted and no store is opened.
  const ConnectorRegistry* registry = nullptr;
  bool open_stores = true;  // connect to every store and check the bindings' schemas
  // A store that cannot be reached is left out (Stores::unavailable; its bindings are not
  // planned or run: exit code 5) instead of failing the open.
  bool allow_unavailable_stores = false;
  enum class State {
    kNone,      // do not open the state database
    kIfExists,  // open it when its file exists (a dry run before the first run)
    kRequired,  // open it, creating it when absent (runs, holds, audit)
  };
  State state = State::kRequired;
  bool pseudonymise_keys = false;  // read each pseudonymising binding's key
};

// An open deployment. Bindings point into `policies`: keep it in its unique_ptr.
struct OpenedDeployment {
  PolicySet policies;
  Deployment deployment;
  std::optional<Stores> stores;  // when OpenOptions::open_stores
  std::optional<StateDb> state;  // when opened
  std::string audit_key;         // read when the state is opened; never logged
  std::map<std::string, std::string> pseudonymise_keys;  // by binding name; never logged
};

struct OpenResult {
  std::unique_ptr<OpenedDeployment> opened;  // null on error
  Diagnostics diagnostics;                   // every problem found, errors and warnings, located
  // Why it failed: kInvalidArgument (policies, configuration, schemas, keys),
  // kUnavailable (a store could not be reached), or the state database's error.
  Status status;
};

// Opens a deployment. Thread-safe (no process-wide state is read or changed, besides the
// environment variables the configuration names for keys and connection strings).
OpenResult OpenDeployment(const OpenOptions& options);

// The second half of OpenDeployment: (re)opens the stores, the state database and the
// keys of a deployment already loaded, as `options` asks. For a daemon that keeps a
// validated configuration and opens its resources for each run; reset `stores` and
// `state` to close them.
Status OpenResources(const OpenOptions& options, OpenedDeployment* opened, Diagnostics* diagnostics);

}  // namespace retention
