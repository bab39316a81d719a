// The pushed-down predicate against the streaming fallback: the same generated (100,000 by default)
// records (month ends, leap days, NULLs, holds, every case) are planned both ways and
// every decision (binding, key, action) must be identical. A fast plan counted in the store
// (Connector::Group) must give the counts of reading every row.
#include <catch2/catch.hpp>

#include <algorithm>
#include <optional>

#include "support/shipped.h"
#include <fmt/format.h>

#include "retention/connectors.h"
#include "retention/plan.h"
#include "support/differential.h"
#include "support/sqlite_db.h"

using namespace retention;
using namespace retention::testing;

namespace {

// The generated wide table (`records` rows, seeded) in a SQLite file, bound by every wide
// binding, its stores open and its schema checked.
struct WideSqlite {
  TempDir dir;
  std::string db_path = dir / "wide.db";
  DeploymentLoad load;
  std::optional<Stores> stores;

  WideSqlite(int records, unsigned seed) {
    {
      SqliteDb db(db_path);
      std::string ddl = "CREATE TABLE wide (";
      for (const auto& [name, type] : WideColumns()) ddl += (ddl.back() == '(' ? "" : ", ") + name + " " + type;
      db.Exec(ddl + ")");
      db.Insert("wide", WideColumns().size(), [&](const auto& row) { GenerateWideRecords(records, seed, true, row); });
    }
    std::string config = fmt::format("state: state.db\ndeployment_facts: {{fin_urgence_sanitaire: 2023-01-31}}\n"
                                     "stores:\n  main: {{type: sqlite, path: {}}}\nbindings:\n{}",
                                     db_path, WideBindings("main", "wide"));
    load = LoadDeploymentText(config, "wide.yaml", dir.path().string(), Shipped());
    for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
    REQUIRE_FALSE(HasErrors(load.diagnostics));
    ConnectorRegistry registry;
    RegisterBuiltinConnectors(registry);
    auto opened = Stores::Open(load.deployment, registry);
    REQUIRE(opened.ok());
    stores.emplace(std::move(*opened));
    REQUIRE(ValidateSchemas(load.deployment, *stores).empty());
  }
};

}  // namespace

TEST_CASE("differential: pushdown and streaming decide identically on generated SQLite records", "[differential][sqlite]") {
  WideSqlite wide(DifferentialRecords(), 20261122);
  const DeploymentLoad& load = wide.load;
  Stores* stores = &*wide.stores;

  SqliteDb db(wide.db_path);
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

TEST_CASE("differential: a fast plan counted in SQLite gives the counts of reading every row", "[differential][sqlite]") {
  WideSqlite wide(DifferentialRecords() / 10, 20261123);
  const DeploymentLoad& load = wide.load;
  Stores* stores = &*wide.stores;
  const size_t bindings = load.deployment.bindings.size();
  for (const char* as_of : {"2026-11-22", "2024-02-29"}) {
    INFO("as of " << as_of);
    CHECK(CheckCountedInStore(Shipped(), load.deployment, *stores, *Date::Parse(as_of)) == static_cast<int>(bindings));
  }
  SECTION("a hold on a whole rule is counted in the store; a hold on a key makes its binding read its rows") {
    Date as_of = *Date::Parse("2026-11-22");
    auto find = [](const Plan& plan, const std::string& name) {
      auto it = std::find_if(plan.bindings.begin(), plan.bindings.end(), [&](const BindingPlan& b) { return b.binding == name; });
      REQUIRE(it != plan.bindings.end());
      return *it;
    };
    Plan fast = PlanOf(Shipped(), load.deployment, *stores, as_of, false, true);
    BindingPlan droits = find(fast, "droits"), prestations = find(fast, "prestations");
    REQUIRE(droits.DueTotal() > 10);
    REQUIRE(prestations.DueTotal() > 10);
    TestHolds holds;
    holds.rules.insert("F01.droits");
    holds.keys.insert("prestations/" + prestations.due.begin()->second.sample_keys.front());
    CHECK(CheckCountedInStore(Shipped(), load.deployment, *stores, as_of, &holds) == static_cast<int>(bindings) - 1);
    Plan held = PlanOf(Shipped(), load.deployment, *stores, as_of, false, true, &holds);
    BindingPlan held_droits = find(held, "droits"), held_prestations = find(held, "prestations");
    CHECK(held_droits.counted_in_store);
    CHECK(held_droits.DueTotal() == 0);
    CHECK(held_droits.operator_held.count == droits.DueTotal());
    CHECK(held_droits.operator_held.sample_keys == droits.due.begin()->second.sample_keys);
    CHECK_FALSE(held_prestations.counted_in_store);
    CHECK(held_prestations.operator_held.count == 1);
    CHECK(held_prestations.DueTotal() == prestations.DueTotal() - 1);
  }
}
