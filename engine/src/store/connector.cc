#include "retention/connector.h"

#include <algorithm>

#include <fmt/format.h>

namespace retention {

std::vector<std::string> ConnectorRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [type, factory] : factories_) out.push_back(type);
  return out;
}

Result<std::unique_ptr<Connector>> ConnectorRegistry::Open(const StoreConfig& store) const {
  auto it = factories_.find(store.type);
  if (it == factories_.end())
    return Status::InvalidArgument(fmt::format("store '{}': no connector for type '{}' (registered: {})", store.name,
                                               store.type, fmt::join(Types(), ", ")));
  return it->second(store);
}

Result<std::unique_ptr<StateBackend>> ConnectorRegistry::OpenState(const StoreConfig& state) const {
  auto it = states_.find(state.type);
  if (it == states_.end())
    return Status::InvalidArgument(fmt::format("state database of type '{}': this build has no such backend{}", state.type,
                                               state.type == "postgres" ? " (built without PostgreSQL)" : ""));
  return it->second(state);
}

Result<Stores> Stores::Open(const Deployment& deployment, const ConnectorRegistry& registry) {
  Stores stores;
  for (const auto& s : deployment.stores) {
    auto c = registry.Open(s);
    if (!c.ok()) return c.status();
    stores.connectors_[s.name] = std::shared_ptr<Connector>(std::move(c).value().release());
  }
  return stores;
}

Result<Stores> Stores::OpenAvailable(const Deployment& deployment, const ConnectorRegistry& registry) {
  Stores stores;
  for (const auto& s : deployment.stores) {
    auto c = registry.Open(s);
    if (c.ok()) {
      stores.connectors_[s.name] = std::shared_ptr<Connector>(std::move(c).value().release());
      continue;
    }
    // A server down, a file or directory missing: unavailable. A bad setting: an error.
    Status::Code code = c.status().code();
    if (code != Status::Code::kUnavailable && code != Status::Code::kIoError && code != Status::Code::kNotFound)
      return c.status();
    stores.unavailable_[s.name] = c.status().message();
  }
  return stores;
}

bool Stores::Available(const Binding& b) const {
  return Find(b.store) && (!b.archive || Find(b.archive->store));
}

Connector* Stores::Find(const std::string& store) const {
  auto it = connectors_.find(store);
  return it == connectors_.end() ? nullptr : it->second.get();
}

Diagnostics ValidateSchemas(const Deployment& deployment, const Stores& stores) {
  Diagnostics out;
  for (const auto& b : deployment.bindings) {
    auto down = [&](const std::string& store) { return stores.unavailable().count(store) > 0; };
    if (down(b.store) || (b.archive && down(b.archive->store))) continue;
    auto error = [&](std::string message) {
      out.push_back({b.file, b.line, 5, Diagnostic::Severity::kError, fmt::format("binding '{}': {}", b.name, message)});
    };
    Connector* c = stores.Find(b.store);
    if (!c) {
      error(fmt::format("store '{}' is not open", b.store));
      continue;
    }
    if (b.archived_view) {
      // The archive table is created on first use (keyed by the source's key); one made
      // otherwise must be keyed as uniquely.
      if (c->Describe(b.table).ok())
        if (Status u = c->CheckUniqueKey(b.table, b.key); !u.ok()) error(u.message());
      continue;
    }
    auto columns = c->Describe(b.table);
    if (!columns.ok()) {
      error(columns.status().message());
      continue;
    }
    auto has = [&](const std::string& name) {
      return std::any_of(columns->begin(), columns->end(), [&](const ColumnInfo& ci) { return ci.name == name; });
    };
    auto need = [&](const std::string& name, const char* what) {
      if (!name.empty() && !has(name))
        error(fmt::format("{} column '{}' does not exist in {} (store '{}')", what, name, b.table.empty() ? "the directory" : b.table, b.store));
    };
    need(b.key, "key");
    if (has(b.key))
      if (Status u = c->CheckUniqueKey(b.table, b.key); !u.ok()) error(u.message());
    need(b.subject, "subject");
    for (const auto& [fact, src] : b.facts)
      if (src.kind == FactSource::Kind::kColumn) need(src.column, ("fact '" + fact + "'").c_str());
    if (b.pseudonymise) {
      for (const auto& col : b.pseudonymise->columns) need(col, "pseudonymised");
      for (const auto& col : b.pseudonymise->null_columns) need(col, "nulled");
      need(b.pseudonymise->marker_column, "marker");
    }
  }
  return out;
}

}  // namespace retention
