// Loading what `plan`, `run`, `hold` and `audit` share: policies, the deployment, its
// stores (schemas checked) and the state database. Errors leave with exit code 2.
#pragma once

#include <map>
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

// `open_stores`: open connectors (a store that cannot be opened is reported on stderr
// and left out: Stores::OpenAvailable) and check schemas; `need_state`: open the state
// database (with the audit key).
std::unique_ptr<Loaded> LoadForCommand(const std::string& config, const std::string& policies_flag, bool open_stores,
                                       bool need_state);

// The first half of LoadForCommand: policies and configuration, validated.
std::unique_ptr<Loaded> LoadConfiguration(const std::string& config, const std::string& policies_flag);
// The second half: the stores and the state database of a loaded configuration.
void OpenForCommand(Loaded* loaded, bool open_stores, bool need_state);

// Binding → pseudonymisation key, for RunOptions; throws Exit(2) when one cannot be read.
std::map<std::string, std::string> PseudonymiseKeys(const Deployment& deployment);

// The deployment's audit key; throws Exit(2) when it cannot be read.
std::string AuditKeyOrExit(const Deployment& deployment);

// A progress line on stderr when it is a terminal (rows done / total, rate, ETA);
// nothing otherwise.
std::function<void(const Progress&)> TerminalProgress();

}  // namespace retention::cli
