// The pushed-down predicate against the streaming fallback: the same generated (100,000 by default)
// records (month ends, leap days, NULLs, holds, every case) are planned both ways and
// every decision (binding, key, action) must be identical.
#include <catch2/catch.hpp>

#include "support/shipped.h"
#include <fmt/format.h>

#include "retention/connectors.h"
#include "retention/plan.h"
#include "support/differential.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;

namespace {


}  // namespace

TEST_CASE("differential: pushdown and streaming decide identically on generated SQLite records", "[differential][sqlite]") {
  TempDir dir;
  std::string db_path = dir / "wide.db";
  {
    SqliteDb db(db_path);
    std::string ddl = "CREATE TABLE wide (";
    for (const auto& [name, type] : WideColumns()) ddl += (ddl.back() == '(' ? "" : ", ") + name + " " + type;
    db.Exec(ddl + ")");
    db.Insert("wide", WideColumns().size(), [](const auto& row) { GenerateWideRecords(DifferentialRecords(), 20261122, true, row); });
  }
  std::string config = fmt::format("state: state.db\ndeployment_facts: {{fin_urgence_sanitaire: 2023-01-31}}\n"
                                   "stores:\n  main: {{type: sqlite, path: {}}}\nbindings:\n{}",
                                   db_path, WideBindings("main", "wide"));
  DeploymentLoad load = LoadDeploymentText(config, "wide.yaml", dir.path().string(), Shipped());
  for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
  REQUIRE_FALSE(HasErrors(load.diagnostics));
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(load.deployment, registry);
  REQUIRE(stores.ok());
  REQUIRE(ValidateSchemas(load.deployment, *stores).empty());

  SqliteDb db(db_path);
  for (const char* as_of : {"2026-11-22", "2024-02-29", "2023-07-31"}) {
    INFO("as of " << as_of);
    Date date = *Date::Parse(as_of);
    CheckSameDecisions(Decide(Shipped(), load.deployment, *stores, date, true),
                       Decide(Shipped(), load.deployment, *stores, date, false), [&](const std::string& key) {
                         return db.One("SELECT json_object('fin_droits', fin_droits, 'deces', deces, 'contentieux', "
                                       "contentieux, 'decision', decision_definitive) FROM wide WHERE id = " + key);
                       });
  }
}
