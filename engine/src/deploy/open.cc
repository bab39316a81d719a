#include "retention/open.h"

#include <filesystem>

#include <fmt/format.h>

#include "retention/secrets.h"

namespace retention {

namespace {

// Appends `from` to `to`; true when one of them is an error.
bool Merge(Diagnostics& to, Diagnostics from) {
  bool errors = HasErrors(from);
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  return errors;
}

Status OpenStores(const OpenOptions& o, OpenedDeployment& d, Diagnostics& diagnostics) {
  if (!o.registry) return Status::InvalidArgument("opening the stores needs a connector registry");
  auto stores = o.allow_unavailable_stores ? Stores::OpenAvailable(d.deployment, *o.registry)
                                           : Stores::Open(d.deployment, *o.registry);
  if (!stores.ok()) return stores.status();
  d.stores.emplace(std::move(*stores));
  if (Merge(diagnostics, ValidateSchemas(d.deployment, *d.stores)))
    return Status::InvalidArgument("the bindings do not match the stores' schemas");
  return Status::Ok();
}

Status OpenState(const OpenOptions& o, OpenedDeployment& d) {
  const Deployment& dep = d.deployment;
  if (o.state == OpenOptions::State::kNone) return Status::Ok();
  std::error_code ec;  // a path the system cannot even look up (too long...) is "no state"
  if (o.state == OpenOptions::State::kIfExists && !dep.state_server && !std::filesystem::exists(dep.state_path, ec))
    return Status::Ok();
  auto key = LoadKey(dep.audit_key_file, dep.audit_key_env);
  if (!key.ok()) return Status::InvalidArgument("audit key: " + key.status().message());
  d.audit_key = std::move(*key);
  AnchorSettings anchors{dep.anchor_file, dep.anchor_syslog};
  Result<StateDb> state = Status::Internal("no state database");
  if (dep.state_server) {
    if (!o.registry) return Status::InvalidArgument("a server state database needs a connector registry");
    auto sql = o.registry->OpenState(*dep.state_server);
    if (!sql.ok()) return sql.status();
    state = StateDb::Open(std::move(*sql), d.audit_key, anchors);
  } else {
    state = StateDb::Open(dep.state_path, d.audit_key, anchors);
  }
  if (!state.ok()) return state.status();
  d.state.emplace(std::move(*state));
  return Status::Ok();
}

Status ReadPseudonymiseKeys(OpenedDeployment& d) {
  for (const auto& b : d.deployment.bindings) {
    if (!b.pseudonymise) continue;
    auto k = LoadKey(b.pseudonymise->key_file, b.pseudonymise->key_env);
    if (!k.ok())
      return Status::InvalidArgument(fmt::format("binding {}: pseudonymisation key: {}", b.name, k.status().message()));
    d.pseudonymise_keys[b.name] = std::move(*k);
  }
  return Status::Ok();
}

}  // namespace

Status OpenResources(const OpenOptions& o, OpenedDeployment* d, Diagnostics* diagnostics) {
  Status s = o.open_stores ? OpenStores(o, *d, *diagnostics) : Status::Ok();
  if (s.ok()) s = OpenState(o, *d);
  if (s.ok() && o.pseudonymise_keys) s = ReadPseudonymiseKeys(*d);
  return s;
}

OpenResult OpenDeployment(const OpenOptions& o) {
  OpenResult out;
  if (o.config.empty()) {
    out.status = Status::InvalidArgument("no configuration file given");
    return out;
  }
  std::string dir = o.policies_dir.empty() ? DeploymentPoliciesDir(o.config) : o.policies_dir;
  if (dir.empty()) {
    out.status = Status::InvalidArgument(
        fmt::format("{} names no policies folder ('policies:') and none was given", o.config));
    return out;
  }
  auto d = std::make_unique<OpenedDeployment>();
  LoadResult policies = LoadPolicies(dir);
  if (Merge(out.diagnostics, std::move(policies.diagnostics))) {
    out.status = Status::InvalidArgument(fmt::format("the policies in {} have errors", dir));
    return out;
  }
  d->policies = std::move(policies.policies);  // before the bindings point into it
  DeploymentLoad load = LoadDeployment(o.config, d->policies, o.registry);
  if (Merge(out.diagnostics, std::move(load.diagnostics))) {
    out.status = Status::InvalidArgument(fmt::format("the configuration {} has errors", o.config));
    return out;
  }
  d->deployment = std::move(load.deployment);
  if (Status s = OpenResources(o, d.get(), &out.diagnostics); !s.ok()) {
    out.status = std::move(s);
    return out;
  }
  out.opened = std::move(d);
  return out;
}

}  // namespace retention
