// Loading what `plan`, `run`, `hold` and `audit` share: policies, the deployment, its
// stores (schemas checked) and the state database. Errors leave with exit code 2.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "retention/open.h"
#include "retention/plan.h"

namespace retention::cli {

using State = OpenOptions::State;

// OpenDeployment with the built-in connectors and the CLI's policies folder (--policies,
// else the configuration's, else ResolvePoliciesDir); diagnostics go to stderr, and an
// error leaves with exit code 2. `open_stores`: connect and check schemas.
std::unique_ptr<OpenedDeployment> LoadForCommand(const std::string& config, const std::string& policies_flag,
                                                 bool open_stores, State state, bool pseudonymise_keys = false);

// The deployment's audit key; throws Exit(2) when it cannot be read.
std::string AuditKeyOrExit(const Deployment& deployment);

// A progress line on stderr when it is a terminal (rows done / total, rate, ETA);
// nothing otherwise.
std::function<void(const Progress&)> TerminalProgress();

}  // namespace retention::cli
