// Loading what `plan`, `run`, `hold` and `audit` share: policies, the deployment, its
// stores (schemas checked) and the state database. Errors leave with exit code 2.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "retention/connector.h"
#include "retention/deployment.h"
#include "retention/plan.h"
#include "retention/state.h"

namespace retention::cli {

struct Loaded {
  LoadResult policies;
  Deployment deployment;
  std::optional<Stores> stores;
  std::optional<StateDb> state;
};

// `open_stores`: open connectors and check schemas; `need_state`: open the state
// database (with the audit key).
std::unique_ptr<Loaded> LoadForCommand(const std::string& config, const std::string& policies_flag, bool open_stores,
                                       bool need_state);

// The deployment's audit key; throws Exit(2) when it cannot be read.
std::string AuditKeyOrExit(const Deployment& deployment);

// A progress line on stderr when it is a terminal (rows done / total, rate, ETA);
// nothing otherwise.
std::function<void(const Progress&)> TerminalProgress();

}  // namespace retention::cli
