// Loading what `plan`, `run`, `hold` and `audit` share: policies, the deployment, its
// stores (schemas checked) and the state database. Errors leave with exit code 2.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "retention/open.h"
#include "retention/plan.h"
#include "retention/policy_change.h"

namespace retention::cli {

using State = OpenOptions::State;

// The options of OpenDeployment for a command: the built-in connectors and the CLI's
// policies folder (--policies, else the configuration's, else ResolvePoliciesDir). With
// `open_stores`, a store that cannot be reached is left out (reported on stderr; its
// bindings are not planned or run, exit code 5).
OpenOptions CommandOpenOptions(const std::string& config, const std::string& policies_flag, bool open_stores,
                               State state, bool pseudonymise_keys = false);

// OpenDeployment with CommandOpenOptions; diagnostics go to stderr, and an error leaves
// with exit code 2. `open_stores`: connect and check schemas.
std::unique_ptr<OpenedDeployment> LoadForCommand(const std::string& config, const std::string& policies_flag,
                                                 bool open_stores, State state, bool pseudonymise_keys = false);

// OpenResources for a deployment LoadForCommand loaded (retentiond, before each run):
// the same reporting, the same exit codes.
void OpenForRun(const OpenOptions& options, OpenedDeployment* opened);

// The deployment's audit key; throws Exit(2) when it cannot be read.
std::string AuditKeyOrExit(const Deployment& deployment);

// The records of `opened` that a change from `old_set` to `new_set` moves, as of
// `as_of`, operator holds excepted (EvaluateImpact); `sample_size` keys of each kind
// (0 in reports). A failure leaves with exit code 1.
PolicyImpact ImpactOrExit(const OpenedDeployment& opened, const PolicySet& old_set, const PolicySet& new_set,
                          Date as_of, size_t sample_size);

// A progress line on stderr when it is a terminal (rows done / total, rate, ETA);
// nothing otherwise.
std::function<void(const Progress&)> TerminalProgress();

}  // namespace retention::cli
