#include "deployment_loader.h"

#include <unistd.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "common.h"
#include "retention/connectors.h"
#include "retention/secrets.h"

namespace retention::cli {

OpenOptions CommandOpenOptions(const std::string& config, const std::string& policies_flag, bool open_stores,
                               State state, bool pseudonymise_keys) {
  if (config.empty()) throw Exit{kExitBadInput, "--config FILE is required"};
  static const ConnectorRegistry registry = [] {
    ConnectorRegistry r;
    RegisterBuiltinConnectors(r);
    return r;
  }();
  OpenOptions options;
  options.config = config;
  std::string dir = policies_flag.empty() ? DeploymentPoliciesDir(config) : policies_flag;
  options.policies_dir = ResolvePoliciesDir(dir);
  options.registry = &registry;
  options.open_stores = open_stores;
  options.allow_unavailable_stores = true;
  options.state = state;
  options.pseudonymise_keys = pseudonymise_keys;
  return options;
}

namespace {

// Diagnostics and unavailable stores on stderr; an error leaves with its exit code.
void Report(const Diagnostics& diagnostics, const Status& status, const OpenedDeployment* opened) {
  for (const auto& d : diagnostics) std::cerr << d.ToString() << "\n";
  if (!status.ok()) {
    int code = status.code() == Status::Code::kUnavailable ? kExitStoreDown : kExitBadInput;
    throw Exit{code, status.message() + (HasErrors(diagnostics) ? " (see above)" : "")};
  }
  if (opened && opened->stores)
    for (const auto& [store, why] : opened->stores->unavailable())
      std::cerr << fmt::format("retention: store '{}' is unavailable, its bindings are left out: {}\n", store, why);
}

}  // namespace

std::unique_ptr<OpenedDeployment> LoadForCommand(const std::string& config, const std::string& policies_flag,
                                                 bool open_stores, State state, bool pseudonymise_keys) {
  OpenResult result = OpenDeployment(CommandOpenOptions(config, policies_flag, open_stores, state, pseudonymise_keys));
  Report(result.diagnostics, result.opened ? Status::Ok() : result.status, result.opened.get());
  return std::move(result.opened);
}

void OpenForRun(const OpenOptions& options, OpenedDeployment* opened) {
  Diagnostics diagnostics;
  Status s = OpenResources(options, opened, &diagnostics);
  Report(diagnostics, s, opened);
}

std::string AuditKeyOrExit(const Deployment& d) {
  auto key = LoadKey(d.audit_key_file, d.audit_key_env);
  if (!key.ok()) throw Exit{kExitBadInput, "audit key: " + key.status().message()};
  return *key;
}

PolicyImpact ImpactOrExit(const OpenedDeployment& opened, const PolicySet& old_set, const PolicySet& new_set,
                          Date as_of, size_t sample_size) {
  ImpactOptions io;
  io.as_of = as_of;
  io.holds = opened.state ? &opened.state->holds() : nullptr;
  io.sample_size = sample_size;
  auto impact = EvaluateImpact(opened.deployment, old_set, new_set, *opened.stores, io);
  if (!impact.ok()) throw Exit{kExitFailed, impact.status().message()};
  return std::move(*impact);
}

std::function<void(const Progress&)> TerminalProgress() {
  if (!isatty(STDERR_FILENO)) return nullptr;
  auto start = std::make_shared<std::chrono::steady_clock::time_point>(std::chrono::steady_clock::now());
  auto last = std::make_shared<std::chrono::steady_clock::time_point>();
  auto binding = std::make_shared<std::string>();
  return [=](const Progress& p) {
    auto now = std::chrono::steady_clock::now();
    if (p.binding != *binding) {
      *binding = p.binding;
      *start = now;
    }
    if (now - *last < std::chrono::milliseconds(200) && p.done < p.total) return;
    *last = now;
    double secs = std::chrono::duration<double>(now - *start).count();
    double rate = secs > 0 ? static_cast<double>(p.done) / secs : 0;
    double eta = rate > 0 && p.total > p.done ? static_cast<double>(p.total - p.done) / rate : 0;
    std::cerr << fmt::format("\r\033[K{}: {}/{} rows, {:.0f} rows/s, ETA {:.0f}s", p.binding, p.done, p.total, rate, eta)
              << (p.done >= p.total ? "\n" : "") << std::flush;
  };
}

}  // namespace retention::cli
