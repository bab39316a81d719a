// The pushed-down predicate against the streaming fallback, on PostgreSQL: the same
// generated records (100,000 by default) as the SQLite differential test (month ends, leap days,
// NULLs, holds, every case), loaded with COPY into a fresh schema, are planned both ways
// and every decision (binding, key, action) must be identical; a fast plan counted by the
// server must give the counts of reading every row.
#include <catch2/catch.hpp>

#include "support/shipped.h"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iterator>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "pg_session.h"
#include "retention/connectors.h"
#include "retention/deployment.h"
#include "retention/plan.h"
#include "retention/policy.h"
#include "support/differential.h"
#include "support/records.h"

using namespace retention;
using namespace retention::testing;

namespace {


double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

TEST_CASE("postgres differential: pushdown and streaming decide identically on generated PostgreSQL records",
          "[postgres][differential]") {
  auto started = std::chrono::steady_clock::now();
  PgSession db;
  const std::string table = db.T("wide");
  std::string ddl = "CREATE TABLE " + table + " (";
  for (const auto& [name, type] : WideColumns()) ddl += (ddl.back() == '(' ? "" : ", ") + name + " " + type;
  db.Exec(ddl + ")");
  db.Copy(table, [](const auto& row) { GenerateWideRecords(DifferentialRecords(), 20261122, /*sqlite=*/false, row); });
  db.Exec("ANALYZE " + table);
  REQUIRE(db.Scalar("SELECT COUNT(*) FROM " + table) == std::to_string(DifferentialRecords()));
  UNSCOPED_INFO(fmt::format("loaded {} rows in {:.1f} s", DifferentialRecords(), Seconds(started)));

  // Every binding, archives included, lives in the test's schema ("<schema>.wide_archive...").
  const std::string bindings = WideBindings("main", table);
  CHECK(bindings.find("table: " + table + "_archive}") != std::string::npos);
  std::string config = fmt::format(
      "state: state.db\ndeployment_facts: {{fin_urgence_sanitaire: 2023-01-31}}\n"
      "stores:\n  main: {{type: postgres, dsn_env: RETENTION_TEST_PG}}\nbindings:\n{}",
      bindings);
  DeploymentLoad load =
      LoadDeploymentText(config, "wide.yaml", std::filesystem::temp_directory_path().string(), Shipped());
  for (const auto& d : load.diagnostics) UNSCOPED_INFO(d.ToString());
  REQUIRE_FALSE(HasErrors(load.diagnostics));
  ConnectorRegistry registry;
  RegisterBuiltinConnectors(registry);
  auto stores = Stores::Open(load.deployment, registry);
  INFO(stores.status().message());
  REQUIRE(stores.ok());
  REQUIRE(ValidateSchemas(load.deployment, *stores).empty());

  for (const char* as_of : {"2026-11-22", "2024-02-29", "2023-07-31"}) {
    INFO("as of " << as_of);
    auto t0 = std::chrono::steady_clock::now();
    Date date = *Date::Parse(as_of);
    Decisions full = Decide(Shipped(), load.deployment, *stores, date, true);
    Decisions pushed = Decide(Shipped(), load.deployment, *stores, date, false);
    CheckSameDecisions(full, pushed, [&](const std::string& key) {
      auto row = db.Query(fmt::format("SELECT row_to_json(w)::text FROM {} w WHERE id = {}", table, key));
      return row.empty() ? std::string("?") : row[0][0].value_or("NULL");
    });
    UNSCOPED_INFO(fmt::format("as of {}: {} decisions, {} rows scanned in full, {} pushed down, {:.1f} s", as_of,
                              full.set.size(), full.scanned, pushed.scanned, Seconds(t0)));
    // A fast plan counted by the server (GROUP BY) gives the counts of reading every row.
    CHECK(CheckCountedInStore(Shipped(), load.deployment, *stores, date) ==
          static_cast<int>(load.deployment.bindings.size()));
  }
}
