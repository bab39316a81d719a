// The demo deployment (examples/cpam) generated in a temporary directory, opened as
// the CLI opens it: policies, configuration, stores, the state database.
#pragma once

#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "cpam/generator.h"
#include "retention/clock.h"
#include "retention/connectors.h"
#include "retention/run.h"
#include "retention/secrets.h"
#include "support/sqlite_db.h"

namespace retention::testing {

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

inline const Date kToday = *Date::Parse("2026-11-22");

struct Demo {
  TempDir dir;
  std::string config;
  LoadResult policies;
  DeploymentLoad load;
  std::optional<Stores> stores;
  std::optional<StateDb> state;
  FixedClock clock{kToday};

  explicit Demo(int rows = 3000) {
    demo::DemoOptions o;
    o.dir = dir.path().string();
    o.rows = rows;
    o.today = kToday;
    o.policies_dir = RETENTION_SOURCE_DIR "/policies";
    auto s = demo::GenerateDemo(o);
    REQUIRE(s.ok());
    config = s->config;
    policies = LoadPolicies(RETENTION_SOURCE_DIR "/policies");
    load = LoadDeployment(config, policies.policies);
    for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
    REQUIRE_FALSE(HasErrors(load.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto opened = Stores::Open(load.deployment, registry);
    REQUIRE(opened.ok());
    stores.emplace(std::move(*opened));
    auto st = OpenState();
    REQUIRE(st.ok());
    state.emplace(std::move(*st));
  }

  // Another handle on the state database, as a second process would open it.
  Result<StateDb> OpenState() const {
    const Deployment& d = load.deployment;
    return StateDb::Open(d.state_path, *LoadKey(d.audit_key_file, ""), AnchorSettings{d.anchor_file, d.anchor_syslog});
  }

  Result<RunOutcome> Go(const char* as_of, bool apply, RunOptions o = {}) {
    o.as_of = *Date::Parse(as_of);
    o.apply = apply;
    o.clock = &clock;
    o.pseudonymise_keys["F55.accompagnement"] = *LoadKey(dir / "keys/pseudonymisation.key", "");
    return PlanOrRun(load.deployment, policies.policies, *stores, &*state, o);
  }
  SqliteDb Db() { return SqliteDb(dir / "data/cpam.db"); }
};

}  // namespace retention::testing
