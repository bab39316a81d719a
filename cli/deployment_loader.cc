#include "deployment_loader.h"

#include <unistd.h>

#include <chrono>
#include <iostream>

#include <fmt/format.h>

#include "common.h"
#include "retention/connectors.h"
#include "retention/secrets.h"

namespace retention::cli {

std::unique_ptr<Loaded> LoadForCommand(const std::string& config, const std::string& policies_flag, bool open_stores,
                                       bool need_state) {
  auto out = LoadConfiguration(config, policies_flag);
  OpenForCommand(out.get(), open_stores, need_state);
  return out;
}

std::unique_ptr<Loaded> LoadConfiguration(const std::string& config, const std::string& policies_flag) {
  if (config.empty()) throw Exit{kExitBadInput, "--config FILE is required"};
  auto out = std::make_unique<Loaded>();
  std::string dir = policies_flag.empty() ? DeploymentPoliciesDir(config) : policies_flag;
  out->policies = LoadPoliciesOrExit(ResolvePoliciesDir(dir));
  DeploymentLoad load = LoadDeployment(config, out->policies.policies);
  for (const auto& d : load.diagnostics) std::cerr << d.ToString() << "\n";
  if (HasErrors(load.diagnostics)) throw Exit{kExitBadInput, fmt::format("the configuration {} has errors (see above)", config)};
  out->deployment = std::move(load.deployment);
  return out;
}

void OpenForCommand(Loaded* out, bool open_stores, bool need_state) {
  if (open_stores) {
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto stores = Stores::OpenAvailable(out->deployment, registry);
    if (!stores.ok()) throw Exit{kExitBadInput, stores.status().message()};
    for (const auto& [store, why] : stores->unavailable())
      std::cerr << fmt::format("retention: store '{}' is unavailable, its bindings are left out: {}\n", store, why);
    out->stores.emplace(std::move(*stores));
    Diagnostics schema = ValidateSchemas(out->deployment, *out->stores);
    for (const auto& d : schema) std::cerr << d.ToString() << "\n";
    if (HasErrors(schema)) throw Exit{kExitBadInput, "bindings do not match the stores' schemas (see above)"};
  }
  if (need_state) {
    const Deployment& d = out->deployment;
    auto state = StateDb::Open(d.state_path, AuditKeyOrExit(d), AnchorSettings{d.anchor_file, d.anchor_syslog});
    if (!state.ok()) throw Exit{kExitBadInput, state.status().message()};
    out->state.emplace(std::move(*state));
  }
}

std::map<std::string, std::string> PseudonymiseKeys(const Deployment& d) {
  std::map<std::string, std::string> keys;
  for (const auto& b : d.bindings) {
    if (!b.pseudonymise) continue;
    auto k = LoadKey(b.pseudonymise->key_file, b.pseudonymise->key_env);
    if (!k.ok()) throw Exit{kExitBadInput, fmt::format("binding {}: pseudonymisation key: {}", b.name, k.status().message())};
    keys[b.name] = *k;
  }
  return keys;
}

std::string AuditKeyOrExit(const Deployment& d) {
  auto key = LoadKey(d.audit_key_file, d.audit_key_env);
  if (!key.ok()) throw Exit{kExitBadInput, "audit key: " + key.status().message()};
  return *key;
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
